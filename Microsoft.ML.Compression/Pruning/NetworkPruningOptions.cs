namespace Microsoft.ML.Compression;

/// <summary>
/// The ONNX-network settings of <see cref="PruningOptions"/> (<see cref="PruningOptions.Network"/>). Measured effects of
/// each setting are in the repository's docs/stages.md (Prune) and docs/benchmarks.md.
/// </summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.8, Network = { Scope = PruningScope.Global, MaxLayerSparsity = 0.95 } }</code></example>
public sealed class NetworkPruningOptions
{
    /// <summary>
    /// What is removed: single weights (<see cref="PruningGranularity.Unstructured"/>, default),
    /// N of every M consecutive weights (<see cref="PruningGranularity.SemiStructured"/>), or whole neurons and
    /// channels (<see cref="PruningGranularity.Structured"/>, which makes the model smaller and faster).
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } };</code></example>
    public PruningGranularity Granularity { get; set; } = PruningGranularity.Unstructured;

    /// <summary>Semi-structured only: weights kept in every group of <see cref="SemiStructuredM"/> (default 2, i.e. 2:4).</summary>
    /// <example><code>var options = new PruningOptions { Network = { Granularity = PruningGranularity.SemiStructured, SemiStructuredN = 1, SemiStructuredM = 4 } }; // 1:4</code></example>
    public int SemiStructuredN { get; set; } = 2;

    /// <summary>Semi-structured only: group size along each output's inputs (default 4).</summary>
    /// <example><code>var options = new PruningOptions { Network = { Granularity = PruningGranularity.SemiStructured, SemiStructuredN = 4, SemiStructuredM = 8 } }; // 4:8</code></example>
    public int SemiStructuredM { get; set; } = 4;

    /// <summary>
    /// Sparsity per layer, overriding <see cref="PruningOptions.TargetSparsity"/> for the named layers (ONNX node names,
    /// or the names of their weight initializers), e.g. from a sensitivity sweep
    /// (<see cref="CompressionCatalog.PruningSensitivity(string, IDataView, Func{ITransformer, double}, double[])"/>).
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.5, Network = { LayerSparsity = new Dictionary&lt;string, double&gt; { ["/3/Gemm"] = 0.9 } } };</code></example>
    public IReadOnlyDictionary<string, double> LayerSparsity { get; set; } = new Dictionary<string, double>();

    /// <summary>
    /// Unstructured pruning: <see cref="PruningScope.Global"/> (default) uses one saliency threshold for all layers
    /// together, so less important layers lose more and <see cref="PruningOptions.TargetSparsity"/> is reached overall;
    /// <see cref="PruningScope.Layer"/> removes <see cref="PruningOptions.TargetSparsity"/> of every layer. Global was
    /// the more accurate at high sparsity (docs/stages.md). Structured pruning removes the same share of every layer
    /// (with <see cref="PruningScope.Global"/> or <see cref="PruningScope.Layer"/>) unless
    /// <see cref="PruningScope.Measured"/> chooses each layer's share from the output error of pruning it alone.
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.9, Network = { Scope = PruningScope.Layer } };</code></example>
    public PruningScope Scope { get; set; } = PruningScope.Global;

    /// <summary>
    /// With <see cref="PruningScope.Global"/>: the most any one layer may lose (default 0.95). One threshold over all
    /// layers can otherwise zero a whole layer whose weights are small (a Transformer's attention projection); the
    /// weights a capped layer keeps are taken from the other layers, so <see cref="PruningOptions.TargetSparsity"/> is
    /// still reached overall. A value below <see cref="PruningOptions.TargetSparsity"/> acts as
    /// <see cref="PruningOptions.TargetSparsity"/>; 1 turns the cap off.
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Network = { MaxLayerSparsity = 0.95 } };</code></example>
    public double MaxLayerSparsity { get; set; } = 0.95;

    /// <summary>
    /// Structured pruning of Transformers only: the share of attention heads removed from each self-attention block
    /// (default 0: heads are kept). A head goes whole: its columns of the Q, K and V projections and their biases,
    /// its rows of the output projection, and the head count in the Reshape shapes; heads with the smallest output
    /// (their context × output-projection rows, on the data) go first, and the output projection is refitted by
    /// least squares. A graph whose head Reshapes cannot be verified exactly is refused.
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured, AttentionHeadSparsity = 0.25 } };</code></example>
    public double AttentionHeadSparsity { get; set; }

    internal NetworkPruningOptions Copy()
    {
        var copy = (NetworkPruningOptions)MemberwiseClone();
        copy.LayerSparsity = new Dictionary<string, double>(LayerSparsity);
        return copy;
    }

    internal void Validate()
    {
        if (double.IsNaN(AttentionHeadSparsity) || AttentionHeadSparsity < 0 || AttentionHeadSparsity >= 1)
            throw new ArgumentOutOfRangeException(nameof(AttentionHeadSparsity), AttentionHeadSparsity, "Network.AttentionHeadSparsity must be in [0, 1): the share of each attention block's heads to remove (0 keeps them all).");
        if (double.IsNaN(MaxLayerSparsity) || MaxLayerSparsity <= 0 || MaxLayerSparsity > 1)
            throw new ArgumentOutOfRangeException(nameof(MaxLayerSparsity), MaxLayerSparsity, "Network.MaxLayerSparsity must be in (0, 1]: the most one layer may lose under a global threshold (1 = no cap).");
        if (!Enum.IsDefined(Granularity))
            throw new ArgumentOutOfRangeException(nameof(Granularity), Granularity, "Network.Granularity must be Unstructured, SemiStructured or Structured.");
        if (SemiStructuredM < 2 || SemiStructuredM > 16)
            throw new ArgumentOutOfRangeException(nameof(SemiStructuredM), SemiStructuredM, "Network.SemiStructuredM must be between 2 and 16 (4 for the common 2:4 pattern).");
        if (SemiStructuredN < 1 || SemiStructuredN >= SemiStructuredM)
            throw new ArgumentOutOfRangeException(nameof(SemiStructuredN), SemiStructuredN, "Network.SemiStructuredN must be at least 1 and less than SemiStructuredM.");
        if (!Enum.IsDefined(Scope))
            throw new ArgumentOutOfRangeException(nameof(Scope), Scope, "Network.Scope must be Layer, Global or Measured.");
        if (Scope == PruningScope.Measured && Granularity != PruningGranularity.Structured)
            throw new ArgumentException("Network.Scope = Measured chooses each layer's share for structured pruning (Granularity = Structured) only; for single weights use Global (one threshold over all layers) or Layer.", nameof(Scope));
        if (LayerSparsity == null)
            throw new ArgumentNullException(nameof(LayerSparsity), "Network.LayerSparsity may be empty but not null.");
        foreach (var (layer, sparsity) in LayerSparsity)
            if (double.IsNaN(sparsity) || sparsity < 0 || sparsity >= 1)
                throw new ArgumentOutOfRangeException(nameof(LayerSparsity), sparsity, $"The sparsity of layer '{layer}' in Network.LayerSparsity must be in [0, 1).");
    }
}
