namespace Microsoft.ML.Compression;

/// <summary>How tree ensemble pruning chooses the trees to keep.</summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.8, TreeSelection = TreeSelection.LassoReweighting }</code></example>
public enum TreeSelection
{
    /// <summary>
    /// L1-regularised re-weighting of the trees' outputs to reproduce the full ensemble's score on the fit data
    /// (ISLE / RuleFit post-processing), then a refit of the kept trees' weights. Keeps accuracy at high pruning rates.
    /// </summary>
    LassoReweighting,
    /// <summary>Drop the trees whose output varies least on the data and fold their mean into the bias. Faster, less accurate.</summary>
    LeastVarying,
}

/// <summary>Options of the pruning stage (<see cref="CompressionCatalog.Prune(PruningOptions)"/>).</summary>
/// <example>
/// <code>
/// var prune = ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.7 });
/// </code>
/// </example>
public sealed class PruningOptions
{
    /// <summary>
    /// Fraction to remove, in [0, 1): of the weights of each MatMul/Gemm/Conv layer and of a linear model's
    /// coefficients (those with the smallest |w| × feature spread go first), or of a tree ensemble's trees (chosen
    /// by <see cref="TreeSelection"/>). Default 0.5.
    /// </summary>
    public double TargetSparsity { get; set; } = 0.5;

    /// <summary>Names of ONNX nodes, or of their weight initializers, to leave untouched (first and last layers are often sensitive).</summary>
    public IReadOnlyCollection<string> ExcludedNodes { get; set; } = Array.Empty<string>();

    /// <summary>
    /// At most this many rows of the fit data are read to rank coefficients and trees (default 10,000).
    /// </summary>
    public int MaxCalibrationRows { get; set; } = 10_000;

    /// <summary>
    /// After choosing what to remove, refit the kept weights of each layer whose inputs are known (linear models,
    /// first layers reading the model input) by least squares so the layer's output on the data is reproduced,
    /// with bias correction. Default true.
    /// </summary>
    public bool Reconstruct { get; set; } = true;

    /// <summary>How a tree ensemble chooses the trees it keeps (default <see cref="TreeSelection.LassoReweighting"/>).</summary>
    public TreeSelection TreeSelection { get; set; } = TreeSelection.LassoReweighting;

    internal void Validate()
    {
        if (double.IsNaN(TargetSparsity) || TargetSparsity < 0 || TargetSparsity >= 1)
            throw new ArgumentOutOfRangeException(nameof(TargetSparsity), TargetSparsity, "TargetSparsity must be in [0, 1): 0 keeps everything, 0.9 removes 90%.");
        if (MaxCalibrationRows < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxCalibrationRows), MaxCalibrationRows, "MaxCalibrationRows must be at least 1.");
        if (!Enum.IsDefined(TreeSelection))
            throw new ArgumentOutOfRangeException(nameof(TreeSelection), TreeSelection, "TreeSelection must be LassoReweighting or LeastVarying.");
        if (ExcludedNodes == null)
            throw new ArgumentNullException(nameof(ExcludedNodes), "ExcludedNodes may be empty but not null.");
    }
}
