namespace Microsoft.ML.Compression;

/// <summary>Whether one sparsity applies to each layer or one threshold to all layers together.</summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.8, Scope = PruningScope.Global }</code></example>
public enum PruningScope
{
    /// <summary>Every layer loses <see cref="PruningOptions.TargetSparsity"/> of its weights: no layer is hollowed out more than the others.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Scope = PruningScope.Layer }; // 80 % of every layer</code></example>
    Layer,
    /// <summary>One saliency threshold across all layers reaches <see cref="PruningOptions.TargetSparsity"/> overall.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Scope = PruningScope.Global }; // 80 % overall, one threshold (default)</code></example>
    Global,
}

/// <summary>What network pruning removes.</summary>
/// <example><code>new PruningOptions { Granularity = PruningGranularity.Structured, TargetSparsity = 0.5 }</code></example>
public enum PruningGranularity
{
    /// <summary>Individual weights with the smallest saliency (see <see cref="PruningOptions.Scope"/>). The file shrinks only through compression of zeros.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Granularity = PruningGranularity.Unstructured }; // single weights (default)</code></example>
    Unstructured,
    /// <summary>N of every M consecutive input weights of each output are kept (2:4 by default), the pattern sparse tensor cores accelerate.</summary>
    /// <example><code>var options = new PruningOptions { Granularity = PruningGranularity.SemiStructured, SemiStructuredN = 2, SemiStructuredM = 4 }; // 2:4</code></example>
    SemiStructured,
    /// <summary>Whole neurons of MatMul/Gemm layers and channels of Conv layers, with the next layer's matching inputs: a smaller, faster graph.</summary>
    /// <example><code>var options = new PruningOptions { Granularity = PruningGranularity.Structured, TargetSparsity = 0.5 }; // half the neurons and channels</code></example>
    Structured,
}

/// <summary>How tree ensemble pruning chooses the trees to keep.</summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.8, TreeSelection = TreeSelection.LassoReweighting }</code></example>
public enum TreeSelection
{
    /// <summary>
    /// L1-regularised re-weighting of the trees' outputs to reproduce the full ensemble's score on the fit data
    /// (ISLE / RuleFit post-processing), then a refit of the kept trees' weights. Keeps accuracy at high pruning rates.
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, TreeSelection = TreeSelection.LassoReweighting }; // the default</code></example>
    LassoReweighting,
    /// <summary>Drop the trees whose output varies least on the data and fold their mean into the bias. Faster, less accurate.</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, TreeSelection = TreeSelection.LeastVarying }; // faster, less accurate</code></example>
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
    /// <example><code>var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.8 }).Fit(train); // keep 20 %</code></example>
    public double TargetSparsity { get; set; } = 0.5;

    /// <summary>Names of ONNX nodes, or of their weight initializers, to leave untouched (first and last layers are often sensitive).</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, ExcludedNodes = new[] { "fc1", "fc3" } }; // first and last layer stay dense</code></example>
    public IReadOnlyCollection<string> ExcludedNodes { get; set; } = Array.Empty<string>();

    /// <summary>
    /// At most this many rows of the fit data are read to rank coefficients and trees (default 10,000).
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, MaxCalibrationRows = 2_000 }; // faster on large data</code></example>
    public int MaxCalibrationRows { get; set; } = 10_000;

    /// <summary>
    /// Use the data to decide and repair: each MatMul/Gemm layer's input is read (model inputs) or recorded with
    /// ONNX Runtime on the partly pruned network (inner layers), the mask of layers up to 1,024 inputs wide is chosen
    /// SparseGPT-style with the inverse Hessian of the layer's reconstruction loss, and the kept weights are refitted
    /// by least squares so the layer's output on the data is reproduced, with bias correction. Default true; false
    /// gives plain magnitude pruning.
    /// </summary>
    /// <example><code>var magnitudeOnly = new PruningOptions { TargetSparsity = 0.5, Reconstruct = false }; // plain magnitude pruning, no data refit</code></example>
    public bool Reconstruct { get; set; } = true;

    /// <summary>
    /// What is removed from networks: single weights (<see cref="PruningGranularity.Unstructured"/>, default),
    /// N of every M consecutive weights (<see cref="PruningGranularity.SemiStructured"/>), or whole neurons and
    /// channels (<see cref="PruningGranularity.Structured"/>, which makes the model smaller and faster).
    /// </summary>
    /// <example><code>var options = new PruningOptions { Granularity = PruningGranularity.Structured, TargetSparsity = 0.5 };</code></example>
    public PruningGranularity Granularity { get; set; } = PruningGranularity.Unstructured;

    /// <summary>Semi-structured only: weights kept in every group of <see cref="SemiStructuredM"/> (default 2, i.e. 2:4).</summary>
    /// <example><code>var options = new PruningOptions { Granularity = PruningGranularity.SemiStructured, SemiStructuredN = 1, SemiStructuredM = 4 }; // 1:4</code></example>
    public int SemiStructuredN { get; set; } = 2;

    /// <summary>Semi-structured only: group size along each output's inputs (default 4).</summary>
    /// <example><code>var options = new PruningOptions { Granularity = PruningGranularity.SemiStructured, SemiStructuredN = 4, SemiStructuredM = 8 }; // 4:8</code></example>
    public int SemiStructuredM { get; set; } = 4;

    /// <summary>
    /// Sparsity per layer, overriding <see cref="TargetSparsity"/> for the named layers (ONNX node names, or the
    /// names of their weight initializers), e.g. from a sensitivity sweep
    /// (<see cref="CompressionCatalog.PruningSensitivity(string, IDataView, Func{ITransformer, double}, double[])"/>).
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.5, LayerSparsity = new Dictionary&lt;string, double&gt; { ["/3/Gemm"] = 0.9 } };</code></example>
    public IReadOnlyDictionary<string, double> LayerSparsity { get; set; } = new Dictionary<string, double>();

    /// <summary>
    /// Unstructured network pruning only: <see cref="PruningScope.Global"/> (default) uses one saliency threshold for
    /// all layers together, so less important layers lose more and <see cref="TargetSparsity"/> is reached overall;
    /// <see cref="PruningScope.Layer"/> removes <see cref="TargetSparsity"/> of every layer. Measured on the
    /// Fashion-MNIST MLP at 80%: 88.4% global vs 86.9% per layer (dense 88.2%); at 90%: 87.1% vs 82.6%.
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.9, Scope = PruningScope.Layer };</code></example>
    public PruningScope Scope { get; set; } = PruningScope.Global;

    /// <summary>
    /// With <see cref="PruningScope.Global"/>: the most any one layer may lose (default 0.95). One threshold over all
    /// layers can otherwise zero a whole layer whose weights are small (a Transformer's attention projection: 100 %
    /// at 80 % overall, 32 accuracy points lost); the weights a capped layer keeps are taken from the other layers,
    /// so <see cref="TargetSparsity"/> is still reached overall. A value below <see cref="TargetSparsity"/> acts as
    /// <see cref="TargetSparsity"/>; 1 turns the cap off.
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, MaxLayerSparsity = 0.95 };</code></example>
    public double MaxLayerSparsity { get; set; } = 0.95;

    /// <summary>
    /// Structured pruning of Transformers only: the share of attention heads removed from each self-attention block
    /// (default 0: heads are kept). A head goes whole: its columns of the Q, K and V projections and their biases,
    /// its rows of the output projection, and the head count in the Reshape shapes; heads with the smallest output
    /// (their context × output-projection rows, on the data) go first, and the output projection is refitted by
    /// least squares. A graph whose head Reshapes cannot be verified exactly is refused.
    /// </summary>
    /// <example><code>var options = new PruningOptions { Granularity = PruningGranularity.Structured, TargetSparsity = 0.5, AttentionHeadSparsity = 0.25 };</code></example>
    public double AttentionHeadSparsity { get; set; }

    /// <summary>How a tree ensemble chooses the trees it keeps (default <see cref="TreeSelection.LassoReweighting"/>).</summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, TreeSelection = TreeSelection.LeastVarying };</code></example>
    public TreeSelection TreeSelection { get; set; } = TreeSelection.LassoReweighting;

    /// <summary>
    /// Tree ensembles and linear models: stay native ML.NET models (<see cref="ModelForm.Native"/>, default) or become
    /// an ONNX graph (<see cref="ModelForm.Onnx"/>).
    /// </summary>
    /// <example><code>var options = new PruningOptions { TargetSparsity = 0.8, Form = ModelForm.Native };</code></example>
    public ModelForm Form { get; set; } = ModelForm.Native;

    /// <summary>How the pruned tree ensemble is stored in the ONNX graph (default <see cref="TreeStorage.Auto"/>: the smaller saved model).</summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.8, TreeStorage = TreeStorage.Compact }</code></example>
    public TreeStorage TreeStorage { get; set; } = TreeStorage.Auto;

    /// <summary>
    /// Tree ensembles: leaf/node pruning of the kept trees. A branch whose two children are leaves is collapsed into
    /// one leaf (the children's mean, weighted by how many calibration rows reach each), cheapest first by how much
    /// that moves the ensemble's score on the calibration rows, bottom-up, while the RMS change of the score stays
    /// within this fraction of the score's standard deviation; trees left as a single leaf go into the base value.
    /// In [0, 1]; 0 turns it off. Leaves no calibration row reaches are never merged away. Default 0 (off): at 0.1,
    /// binary models lost nothing (spam, FastTree 500 → 100 trees: 39% fewer nodes, 22% smaller zip, test AUC 0.9779
    /// both; wa_churn student: 28% fewer nodes, AUC 0.8416 → 0.8422), but a 26-class one-versus-all LightGBM (letter,
    /// 60 trees × 16 leaves per class, half the trees pruned: accuracy 0.887) lost 0.8 points more at 0.1 (0.879; 26%
    /// fewer nodes, 16% smaller zip), 0.3 at 0.05 and none at 0.02, since every class's score moves and the argmax
    /// is sensitive to that. 0.1–0.2 suits binary classification; 0.02 multiclass.
    /// </summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.8, LeafPruningTolerance = 0.1 }</code></example>
    public double LeafPruningTolerance { get; set; }

    /// <summary>
    /// Tree ensembles: after tree (and leaf) pruning, refit every kept leaf's value by least squares so the pruned
    /// ensemble reproduces the full ensemble's score on the calibration rows (each leaf moves by the mean residual of
    /// the rows reaching it, a few backfitting sweeps over the trees). Default false: it brings the scores on the
    /// calibration rows much closer (spam: score RMSE 7.5 → 3.3) but on held-out rows only after heavy leaf pruning
    /// (tolerance 0.2–0.3: test score RMSE 11.3 → 9.6, 16.4 → 11.7; at 0.05 it got worse, 6.6 → 7.3); test AUC moved by
    /// at most ±0.0006.
    /// </summary>
    /// <example><code>new PruningOptions { TargetSparsity = 0.8, RefitLeaves = true }</code></example>
    public bool RefitLeaves { get; set; }

    /// <summary>
    /// Also remove, from the featurization before a linear predictor (ML.NET's <c>FeaturizeText</c>), the n-grams
    /// whose coefficients pruning set to zero, so the saved model really loses the vocabulary that dominates it.
    /// The featurization is exported with <c>mlContext.Model.ConvertToOnnx</c>, its n-gram pools and token
    /// dictionaries are cut to what the kept coefficients read, and from then on it runs in ONNX Runtime as an
    /// OnnxTransformer (the case normalization stays ML.NET's <c>NormalizeText</c>). Its L2 normalization then spans
    /// the kept n-grams only, so with <see cref="Reconstruct"/> (default) the kept coefficients and the bias are refitted
    /// by least squares to reproduce the original model's scores on the fit data. Default false: the featurization
    /// stays the user's own transformers.
    /// </summary>
    /// <remarks>
    /// Needs a featurization ML.NET can export: <c>FeaturizeText</c> exports only with
    /// <c>KeepDiacritics = true</c> (and the default <c>KeepNumbers</c>/<c>KeepPunctuations</c>, no stop-word
    /// removal) and a single input text column per <c>FeaturizeText</c> (featurize each column separately and
    /// <c>Concatenate</c> the results); otherwise <see cref="UnsupportedModelException"/> says what fails. Character
    /// n-grams of characters outside the Basic Multilingual Plane (emoji) differ slightly: ML.NET counts UTF-16
    /// code units, ONNX Runtime code points.
    /// </remarks>
    /// <example>
    /// <code>
    /// var teacher = ml.Transforms.Text.FeaturizeText("Features", new TextFeaturizingEstimator.Options { KeepDiacritics = true }, "body")
    ///     .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression()).Fit(train);
    /// var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.9, PruneFeaturizerVocabulary = true }).Fit(train);
    /// </code>
    /// </example>
    public bool PruneFeaturizerVocabulary { get; set; }

    internal void Validate()
    {
        if (!Enum.IsDefined(Form))
            throw new ArgumentOutOfRangeException(nameof(Form), Form, "Form must be ModelForm.Native or ModelForm.Onnx.");
        if (double.IsNaN(LeafPruningTolerance) || LeafPruningTolerance < 0 || LeafPruningTolerance > 1)
            throw new ArgumentOutOfRangeException(nameof(LeafPruningTolerance), LeafPruningTolerance, "LeafPruningTolerance must be in [0, 1]: the largest RMS change of the score as a fraction of its standard deviation on the data (0 turns leaf pruning off).");
        if (double.IsNaN(MaxLayerSparsity) || MaxLayerSparsity <= 0 || MaxLayerSparsity > 1)
            throw new ArgumentOutOfRangeException(nameof(MaxLayerSparsity), MaxLayerSparsity, "MaxLayerSparsity must be in (0, 1]: the most one layer may lose under a global threshold (1 = no cap).");
        if (double.IsNaN(TargetSparsity) || TargetSparsity < 0 || TargetSparsity >= 1)
            throw new ArgumentOutOfRangeException(nameof(TargetSparsity), TargetSparsity, "TargetSparsity must be in [0, 1): 0 keeps everything, 0.9 removes 90%.");
        if (double.IsNaN(AttentionHeadSparsity) || AttentionHeadSparsity < 0 || AttentionHeadSparsity >= 1)
            throw new ArgumentOutOfRangeException(nameof(AttentionHeadSparsity), AttentionHeadSparsity, "AttentionHeadSparsity must be in [0, 1): the share of each attention block's heads to remove (0 keeps them all).");
        if (MaxCalibrationRows < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxCalibrationRows), MaxCalibrationRows, "MaxCalibrationRows must be at least 1.");
        if (!Enum.IsDefined(Granularity))
            throw new ArgumentOutOfRangeException(nameof(Granularity), Granularity, "Granularity must be Unstructured, SemiStructured or Structured.");
        if (SemiStructuredM < 2 || SemiStructuredM > 16)
            throw new ArgumentOutOfRangeException(nameof(SemiStructuredM), SemiStructuredM, "SemiStructuredM must be between 2 and 16 (4 for the common 2:4 pattern).");
        if (SemiStructuredN < 1 || SemiStructuredN >= SemiStructuredM)
            throw new ArgumentOutOfRangeException(nameof(SemiStructuredN), SemiStructuredN, "SemiStructuredN must be at least 1 and less than SemiStructuredM.");
        if (!Enum.IsDefined(Scope))
            throw new ArgumentOutOfRangeException(nameof(Scope), Scope, "Scope must be Layer or Global.");
        if (LayerSparsity == null)
            throw new ArgumentNullException(nameof(LayerSparsity), "LayerSparsity may be empty but not null.");
        foreach (var (layer, sparsity) in LayerSparsity)
            if (double.IsNaN(sparsity) || sparsity < 0 || sparsity >= 1)
                throw new ArgumentOutOfRangeException(nameof(LayerSparsity), sparsity, $"The sparsity of layer '{layer}' must be in [0, 1).");
        if (!Enum.IsDefined(TreeSelection))
            throw new ArgumentOutOfRangeException(nameof(TreeSelection), TreeSelection, "TreeSelection must be LassoReweighting or LeastVarying.");
        if (ExcludedNodes == null)
            throw new ArgumentNullException(nameof(ExcludedNodes), "ExcludedNodes may be empty but not null.");
        if (!Enum.IsDefined(TreeStorage))
            throw new ArgumentOutOfRangeException(nameof(TreeStorage), TreeStorage, "TreeStorage must be Auto, Compact or Classic.");
    }
}
