namespace Microsoft.ML.Compression;

/// <summary>
/// The tree-ensemble settings of <see cref="PruningOptions"/> (<see cref="PruningOptions.Trees"/>). Measured effects of
/// each setting are in the repository's docs/benchmarks.md (tree leaf pruning) and docs/stages.md.
/// </summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.8, Trees = { Selection = TreeSelection.LassoReweighting, LeafPruningTolerance = 0.1 } }</code></example>
public sealed class TreePruningOptions
{
    /// <summary>How a tree ensemble chooses the trees it keeps (default <see cref="TreeSelection.LassoReweighting"/>).</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Trees = { Selection = TreeSelection.LeastVarying } };</code></example>
    public TreeSelection Selection { get; set; } = TreeSelection.LassoReweighting;

    /// <summary>
    /// How the pruned tree ensemble is stored in the ONNX graph (<see cref="ModelForm.Onnx"/>; default
    /// <see cref="TreeStorage.Auto"/>: the smaller saved model).
    /// </summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.8, Form = ModelForm.Onnx, Trees = { Storage = TreeStorage.Compact } }</code></example>
    public TreeStorage Storage { get; set; } = TreeStorage.Auto;

    /// <summary>
    /// Leaf/node pruning of the kept trees. A branch whose two children are leaves is collapsed into one leaf (the
    /// children's mean, weighted by how many calibration rows reach each), cheapest first by how much that moves the
    /// ensemble's score on the calibration rows, bottom-up, while the RMS change of the score stays within this
    /// fraction of the score's standard deviation; trees left as a single leaf go into the base value. In [0, 1];
    /// 0 (default) turns it off. Leaves no calibration row reaches are never merged away. 0.1–0.2 suits binary
    /// classification; about 0.02 suits multiclass, where every class's score moves and the argmax is sensitive to
    /// that (measured: docs/benchmarks.md).
    /// </summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.8, Trees = { LeafPruningTolerance = 0.1 } }</code></example>
    public double LeafPruningTolerance { get; set; }

    /// <summary>
    /// After tree (and leaf) pruning, refit every kept leaf's value by least squares so the pruned ensemble reproduces
    /// the full ensemble's score on the calibration rows (each leaf moves by the mean residual of the rows reaching it,
    /// a few backfitting sweeps over the trees). Default false: it brings the scores on the calibration rows much
    /// closer, but those on held-out rows only after heavy leaf pruning (measured: docs/benchmarks.md).
    /// </summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.8, Trees = { RefitLeaves = true } }</code></example>
    public bool RefitLeaves { get; set; }

    internal TreePruningOptions Copy() => (TreePruningOptions)MemberwiseClone();

    internal void Validate()
    {
        if (double.IsNaN(LeafPruningTolerance) || LeafPruningTolerance < 0 || LeafPruningTolerance > 1)
            throw new ArgumentOutOfRangeException(nameof(LeafPruningTolerance), LeafPruningTolerance, "Trees.LeafPruningTolerance must be in [0, 1]: the largest RMS change of the score as a fraction of its standard deviation on the data (0 turns leaf pruning off).");
        if (!Enum.IsDefined(Selection))
            throw new ArgumentOutOfRangeException(nameof(Selection), Selection, "Trees.Selection must be LassoReweighting or LeastVarying.");
        if (!Enum.IsDefined(Storage))
            throw new ArgumentOutOfRangeException(nameof(Storage), Storage, "Trees.Storage must be Auto, Compact or Classic.");
    }
}
