namespace Microsoft.ML.Compression;

/// <summary>How <see cref="PruningOptions.TargetSparsity"/> is shared out over the layers.</summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.8, Network = { Scope = PruningScope.Global } }</code></example>
public enum PruningScope
{
    /// <summary>Every layer loses <see cref="PruningOptions.TargetSparsity"/> of its weights: no layer is hollowed out more than the others.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Network = { Scope = PruningScope.Layer } }; // 80 % of every layer</code></example>
    Layer,
    /// <summary>One saliency threshold across all layers reaches <see cref="PruningOptions.TargetSparsity"/> overall.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Network = { Scope = PruningScope.Global } }; // 80 % overall, one threshold (default)</code></example>
    Global,
    /// <summary>
    /// Structured pruning only: each layer's share is chosen from measurement. Every layer is pruned alone at ⅓, ⅔, 1,
    /// 1⅓, 1⅔ and 2 times <see cref="PruningOptions.TargetSparsity"/> (at most <see cref="NetworkPruningOptions.MaxLayerSparsity"/>;
    /// each followed by its refit) and the error in the graph's outputs on the calibration rows is recorded; the shares
    /// that remove the target share of the layers' weights at the least summed error are taken. Costs six trial prunes
    /// per layer (about 4× the pruning time of a Transformer). The stage's description lists the shares chosen.
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.45, Network = { Granularity = PruningGranularity.Structured, Scope = PruningScope.Measured } };</code></example>
    Measured,
}

/// <summary>What network pruning removes.</summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } }</code></example>
public enum PruningGranularity
{
    /// <summary>Individual weights with the smallest saliency (see <see cref="NetworkPruningOptions.Scope"/>). The file shrinks only through compression of zeros.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Network = { Granularity = PruningGranularity.Unstructured } }; // single weights (default)</code></example>
    Unstructured,
    /// <summary>N of every M consecutive input weights of each output are kept (2:4 by default), the pattern sparse tensor cores accelerate.</summary>
    /// <example><code>var options = new PruningOptions { Network = { Granularity = PruningGranularity.SemiStructured, SemiStructuredN = 2, SemiStructuredM = 4 } }; // 2:4</code></example>
    SemiStructured,
    /// <summary>Whole neurons of MatMul/Gemm layers and channels of Conv layers, with the next layer's matching inputs: a smaller, faster graph.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } }; // half the neurons and channels</code></example>
    Structured,
}

/// <summary>How tree ensemble pruning chooses the trees to keep.</summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.8, Trees = { Selection = TreeSelection.LassoReweighting } }</code></example>
public enum TreeSelection
{
    /// <summary>
    /// L1-regularised re-weighting of the trees' outputs to reproduce the full ensemble's score on the fit data
    /// (ISLE / RuleFit post-processing), then a refit of the kept trees' weights. Keeps accuracy at high pruning rates.
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Trees = { Selection = TreeSelection.LassoReweighting } }; // the default</code></example>
    LassoReweighting,
    /// <summary>Drop the trees whose output varies least on the data and fold their mean into the bias. Faster, less accurate.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Trees = { Selection = TreeSelection.LeastVarying } }; // faster, less accurate</code></example>
    LeastVarying,
}

/// <summary>
/// Options of the pruning stage (<see cref="CompressionCatalog.Prune(PruningOptions)"/>): the settings every model kind
/// shares, then <see cref="Network"/> for ONNX networks, <see cref="Trees"/> for tree ensembles and <see cref="Text"/>
/// for a text featurization before a linear model. The sub-objects are created with the options, so nested
/// initializers set them.
/// </summary>
/// <example>
/// <code>
/// var prune = ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.7 });
/// var structured = ml.Compression().Prune("mlp.onnx", new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } });
/// </code>
/// </example>
public sealed class PruningOptions
{
    /// <summary>
    /// Fraction to remove, in [0, 1): of the weights of each MatMul/Gemm/Conv layer and of a linear model's
    /// coefficients (those with the smallest |w| × feature spread go first), or of a tree ensemble's trees (chosen
    /// by <see cref="TreePruningOptions.Selection"/>). Default 0.5.
    /// </summary>
    /// <example><code>var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.8 }).Fit(train); // keep 20 %</code></example>
    public double TargetSparsity { get; set; } = 0.5;

    /// <summary>Names of ONNX nodes, or of their weight initializers, to leave untouched (first and last layers are often sensitive).</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, ExcludedNodes = new[] { "fc1", "fc3" } }; // first and last layer stay dense</code></example>
    public IReadOnlyCollection<string> ExcludedNodes { get; set; } = Array.Empty<string>();

    /// <summary>
    /// At most this many rows of the fit data are read to rank coefficients and trees and to reconstruct layers (default 10,000).
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, MaxCalibrationRows = 2_000 }; // faster on large data</code></example>
    public int MaxCalibrationRows { get; set; } = 10_000;

    /// <summary>
    /// Use the data to decide and repair (networks, linear models, <see cref="TextPruningOptions.PruneFeaturizerVocabulary"/>):
    /// each MatMul/Gemm layer's input is read (model inputs) or recorded with ONNX Runtime on the partly pruned network
    /// (inner layers), the mask of layers up to 1,024 inputs wide is chosen SparseGPT-style with the inverse Hessian of
    /// the layer's reconstruction loss, and the kept weights (or a linear model's kept coefficients) are refitted by
    /// least squares so the output on the data is reproduced, with bias correction. Default true; false gives plain
    /// magnitude pruning.
    /// </summary>
    /// <example><code>var magnitudeOnly = new PruningOptions { TargetSparsity = 0.5, Reconstruct = false }; // plain magnitude pruning, no data refit</code></example>
    public bool Reconstruct { get; set; } = true;

    /// <summary>
    /// Tree ensembles and linear models: stay native ML.NET models (<see cref="ModelForm.Native"/>, default) or become
    /// an ONNX graph (<see cref="ModelForm.Onnx"/>).
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Form = ModelForm.Native };</code></example>
    public ModelForm Form { get; set; } = ModelForm.Native;

    /// <summary>Settings for ONNX networks: what is removed (granularity), per-layer sparsities, global or per-layer threshold.</summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } }</code></example>
    public NetworkPruningOptions Network { get; private set; } = new();

    /// <summary>Settings for tree ensembles: how trees are chosen, leaf pruning and refit, how the ONNX form stores them.</summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.8, Trees = { LeafPruningTolerance = 0.1 } }</code></example>
    public TreePruningOptions Trees { get; private set; } = new();

    /// <summary>Settings for a text featurization before a linear model: whether its vocabulary is pruned too.</summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.9, Text = { PruneFeaturizerVocabulary = true } }</code></example>
    public TextPruningOptions Text { get; private set; } = new();

    /// <summary>A deep copy: later changes to the caller's options (or its collections) do not change a stage.</summary>
    internal PruningOptions Copy()
    {
        var copy = (PruningOptions)MemberwiseClone();
        copy.ExcludedNodes = ExcludedNodes.ToArray();
        copy.Network = Network.Copy();
        copy.Trees = Trees.Copy();
        copy.Text = Text.Copy();
        return copy;
    }

    internal void Validate()
    {
        if (!Enum.IsDefined(Form))
            throw new ArgumentOutOfRangeException(nameof(Form), Form, "Form must be ModelForm.Native or ModelForm.Onnx.");
        if (double.IsNaN(TargetSparsity) || TargetSparsity < 0 || TargetSparsity >= 1)
            throw new ArgumentOutOfRangeException(nameof(TargetSparsity), TargetSparsity, "TargetSparsity must be in [0, 1): 0 keeps everything, 0.9 removes 90%.");
        if (MaxCalibrationRows < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxCalibrationRows), MaxCalibrationRows, "MaxCalibrationRows must be at least 1.");
        if (ExcludedNodes == null)
            throw new ArgumentNullException(nameof(ExcludedNodes), "ExcludedNodes may be empty but not null.");
        Network.Validate();
        Trees.Validate();
    }
}
