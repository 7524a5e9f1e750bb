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

    /// <summary>The first <paramref name="maxRows"/> rows of a float vector input, densified.</summary>
    public float[][] ReadInput(string input, int maxRows) => FeatureSample.Read(GraphInputData, input, maxRows);

    /// <summary>Per-slot standard deviation of a float vector input over the first <paramref name="maxRows"/> rows, streamed.</summary>
    public float[] InputSpread(string input, int maxRows) => FeatureSample.Spread(GraphInputData, input, maxRows);
}
