using System.Numerics.Tensors;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// Calibration rows held column by column (one double array per input over the rows), so the Gram matrices and
/// cross products that the refits and SparseGPT need are dot products of contiguous vectors (vectorized), not
/// row-by-row updates of a two-dimensional array.
/// </summary>
internal static class ColumnMatrix
{
    /// <summary>Rows per chunk of the dot products: a chunk of every column stays in cache while it is read.</summary>
    private const int Chunk = 512;

    /// <summary>
    /// Columns <paramref name="columns"/> of the first <paramref name="n"/> rows, each minus its mean when
    /// <paramref name="center"/> (the means are returned either way).
    /// </summary>
    public static double[][] Of(float[][] rows, int n, IReadOnlyList<int> columns, bool center, out double[] means)
    {
        var result = new double[columns.Count][];
        means = new double[columns.Count];
        for (int c = 0; c < columns.Count; c++)
        {
            var column = result[c] = new double[n];
            int at = columns[c];
            double sum = 0;
            for (int r = 0; r < n; r++) sum += column[r] = rows[r][at];
            means[c] = n > 0 ? sum / n : 0;
            if (center) TensorPrimitives.Subtract<double>(column, means[c], column);
        }
        return result;
    }

    /// <summary>The symmetric Gram matrix aᵀa of the columns, flat and row-major, both triangles filled.</summary>
    public static double[] Gram(double[][] a, int n)
    {
        int k = a.Length;
        var gram = new double[k * k];
        for (int start = 0; start < n; start += Chunk)
        {
            int length = Math.Min(Chunk, n - start);
            for (int p = 0; p < k; p++)
            {
                var ap = a[p].AsSpan(start, length);
                for (int q = 0; q <= p; q++) gram[p * k + q] += TensorPrimitives.Dot<double>(ap, a[q].AsSpan(start, length));
            }
        }
        for (int p = 0; p < k; p++)
            for (int q = 0; q < p; q++) gram[q * k + p] = gram[p * k + q];
        return gram;
    }

    /// <summary>aᵀb, flat and row-major: entry [p, o] is the dot product of column p of a with column o of b.</summary>
    public static double[] Cross(double[][] a, double[][] b, int n)
    {
        var cross = new double[a.Length * b.Length];
        for (int start = 0; start < n; start += Chunk)
        {
            int length = Math.Min(Chunk, n - start);
            for (int p = 0; p < a.Length; p++)
            {
                var ap = a[p].AsSpan(start, length);
                for (int o = 0; o < b.Length; o++) cross[p * b.Length + o] += TensorPrimitives.Dot<double>(ap, b[o].AsSpan(start, length));
            }
        }
        return cross;
    }
}
