namespace Microsoft.ML.Compression;

/// <summary>
/// MUNGE augmentation of the transfer set (<see cref="DistillationOptions.Augmentation"/>; Bucilua, Caruana &amp;
/// Niculescu-Mizil, 2006): synthetic rows made from each row and its nearest neighbour, labelled by the teacher.
/// </summary>
/// <example><code>var options = new DistillationOptions { Augmentation = { Factor = 4, SwapProbability = 0.3 } };</code></example>
public sealed class AugmentationOptions
{
    /// <summary>
    /// MUNGE-style augmentation (Bucilua, Caruana &amp; Niculescu-Mizil, 2006): for each row of the data this many
    /// synthetic rows (0–100, default 0 = off) are made from the row and its nearest neighbour and labelled by the
    /// teacher, so the transfer set is (1 + factor) times larger. The neighbour is searched, on standardized numeric
    /// columns, in a sample of at most <see cref="SampleSize"/> rows.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Augmentation = { Factor = 4 } }; // 4 synthetic rows per row: a 5× transfer set</code></example>
    public int Factor { get; set; }

    /// <summary>
    /// Probability (in [0, 1], default 0.5) that a column of a synthetic row takes its value from the neighbour:
    /// a numeric value is drawn from a normal distribution centred on the neighbour's value with standard deviation
    /// |a − b| / <see cref="LocalVariance"/>; any other value (text, categories, Booleans) is swapped.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Augmentation = { Factor = 4, SwapProbability = 0.3 } };</code></example>
    public double SwapProbability { get; set; } = 0.5;

    /// <summary>The MUNGE local-variance parameter s (&gt; 0, default 1): larger values keep numeric draws closer to the neighbour's value.</summary>
    /// <example><code>var options = new DistillationOptions { Augmentation = { Factor = 4, LocalVariance = 2 } }; // draws closer to the neighbour</code></example>
    public double LocalVariance { get; set; } = 1.0;

    /// <summary>Seed of the augmentation's sampling and draws (default 1); the same seed gives the same synthetic rows.</summary>
    /// <example><code>var options = new DistillationOptions { Augmentation = { Factor = 4, Seed = 42 } };</code></example>
    public int Seed { get; set; } = 1;

    /// <summary>Rows kept in memory to search nearest neighbours in (100–100,000, default 1,000).</summary>
    /// <example><code>var options = new DistillationOptions { Augmentation = { Factor = 4, SampleSize = 10_000 } }; // nearer neighbours, more memory</code></example>
    public int SampleSize { get; set; } = 1000;

    internal AugmentationOptions Copy() => (AugmentationOptions)MemberwiseClone();

    internal void Validate()
    {
        if (Factor < 0 || Factor > 100)
            throw new ArgumentOutOfRangeException(nameof(Factor), Factor, "Augmentation.Factor must be between 0 (off) and 100 synthetic rows per row.");
        if (double.IsNaN(SwapProbability) || SwapProbability < 0 || SwapProbability > 1)
            throw new ArgumentOutOfRangeException(nameof(SwapProbability), SwapProbability, "Augmentation.SwapProbability must be in [0, 1].");
        if (double.IsNaN(LocalVariance) || LocalVariance <= 0 || double.IsInfinity(LocalVariance))
            throw new ArgumentOutOfRangeException(nameof(LocalVariance), LocalVariance, "Augmentation.LocalVariance must be a finite number greater than 0 (default 1).");
        if (SampleSize < 100 || SampleSize > 100_000)
            throw new ArgumentOutOfRangeException(nameof(SampleSize), SampleSize, "Augmentation.SampleSize must be between 100 and 100,000 rows.");
    }
}
