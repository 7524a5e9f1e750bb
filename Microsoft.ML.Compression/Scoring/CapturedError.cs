namespace Microsoft.ML.Compression.Scoring;

/// <summary>How far one capture of a tensor is from a reference capture of it (the same rows, see <see cref="TensorCapture"/>).</summary>
internal static class CapturedError
{
    /// <summary>
    /// Σ x² (signal) and Σ (x − y)² (noise) over the rows both captures hold; NaN for both when a row's width differs
    /// (and a non-finite value makes them NaN or infinite, which the caller decides how to read).
    /// </summary>
    public static (double Signal, double Noise) Energies(float[][] reference, float[][] other)
    {
        double signal = 0, noise = 0;
        for (int r = 0; r < Math.Min(reference.Length, other.Length); r++)
        {
            if (reference[r].Length != other[r].Length) return (double.NaN, double.NaN);
            for (int i = 0; i < reference[r].Length; i++)
            {
                double d = (double)other[r][i] - reference[r][i];
                signal += (double)reference[r][i] * reference[r][i];
                noise += d * d;
            }
        }
        return (signal, noise);
    }
}
