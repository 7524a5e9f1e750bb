namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// What a graph edit may use besides the graph: the data as the graph's inputs see it (after the user's
/// featurization), for calibration, ranking and reconstruction.
/// </summary>
internal sealed class GraphEditContext
{
    public required MLContext ML { get; init; }
    /// <summary>Data whose columns include every graph input, by name.</summary>
    public required IDataView GraphInputData { get; init; }
    /// <summary>Names of the graph's (non-initializer) inputs.</summary>
    public required IReadOnlyList<string> GraphInputs { get; init; }
    /// <summary>For an exported ML.NET predictor: its single feature input; null for a network.</summary>
    public string? FeatureInput { get; init; }
    /// <summary>Set by an edit that measured per-tensor errors of its result (quantization); copied to the new state.</summary>
    public IReadOnlyList<TensorError>? TensorErrors { get; set; }
    /// <summary>Set by mixed precision: the layers kept at a higher precision and why; copied to the new state.</summary>
    public IReadOnlyList<LayerPrecision>? LayerPrecisions { get; set; }

    /// <summary>
    /// Whether rows with a NaN or infinite input value are left out of calibration: for networks, where such a value
    /// would poison every statistic (ranges, saliencies, reconstructions). An exported ML.NET predictor keeps them:
    /// ML.NET trees read NaN as a missing value, and so does their ONNX graph.
    /// </summary>
    public bool SkipsNonFiniteRows => FeatureInput == null;

    /// <summary>Calibration rows left out for a NaN or infinite value (the most any one read of the data met).</summary>
    public long SkippedRows { get; private set; }

    /// <summary>The first <paramref name="maxRows"/> rows of a float vector input, densified (see <see cref="SkipsNonFiniteRows"/>).</summary>
    public float[][] ReadInput(string input, int maxRows)
    {
        var rows = FeatureSample.Read(GraphInputData, input, maxRows, SkipsNonFiniteRows, out long skipped);
        NoteSkipped(skipped, rows.Length, input);
        return rows;
    }

    /// <summary>Per-slot standard deviation of a float vector input over the first <paramref name="maxRows"/> rows, streamed.</summary>
    public float[] InputSpread(string input, int maxRows)
    {
        var spread = FeatureSample.Spread(GraphInputData, input, maxRows, SkipsNonFiniteRows, out long skipped, out long kept);
        NoteSkipped(skipped, kept, input);
        return spread;
    }

    /// <summary>Records rows a read left out; throws when it left out every row.</summary>
    public void NoteSkipped(long skipped, long kept, string input)
    {
        SkippedRows = Math.Max(SkippedRows, skipped);
        if (skipped > 0 && kept == 0)
            throw new DataMismatchException(
                $"Every calibration row has a NaN or infinite value in '{input}' ({skipped} row(s)), so nothing is left to calibrate on. Give rows with finite values (impute or drop missing ones first).", input);
    }
}
