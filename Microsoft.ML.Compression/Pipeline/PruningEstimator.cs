using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Pruning;

namespace Microsoft.ML.Compression;

/// <summary>
/// Estimator of the pruning stage: magnitude pruning of network weights and linear coefficients, and removal of the
/// least useful trees of an ensemble. Create it with <see cref="CompressionCatalog.Prune(PruningOptions)"/>.
/// </summary>
/// <example><code>var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.8 }).Fit(train);</code></example>
public sealed class PruningEstimator : CompressionStageEstimator
{
    private readonly PruningOptions _options;

    internal PruningEstimator(MLContext ml, ModelSource? source, PruningOptions options) : base(ml, source)
    {
        options.Validate();
        _options = new PruningOptions
        {
            TargetSparsity = options.TargetSparsity,
            ExcludedNodes = options.ExcludedNodes.ToArray(),
            MaxCalibrationRows = options.MaxCalibrationRows,
            TreeSelection = options.TreeSelection,
            TreeStorage = options.TreeStorage,
            Form = options.Form,
            LeafPruningTolerance = options.LeafPruningTolerance,
            RefitLeaves = options.RefitLeaves,
            Reconstruct = options.Reconstruct,
            Granularity = options.Granularity,
            LayerSparsity = new Dictionary<string, double>(options.LayerSparsity),
            Scope = options.Scope,
            MaxLayerSparsity = options.MaxLayerSparsity,
            AttentionHeadSparsity = options.AttentionHeadSparsity,
            SemiStructuredN = options.SemiStructuredN,
            SemiStructuredM = options.SemiStructuredM,
            PruneFeaturizerVocabulary = options.PruneFeaturizerVocabulary,
        };
    }

    /// <inheritdoc/>
    public override string StageName => "Prune";

    internal override ModelState Apply(ModelState input, IDataView data, out string description)
        => NativeCompression.Prune(Ml, _options, input, data, ApplyOnnx, out description);

    private ModelState ApplyOnnx(ModelState input, IDataView data, out string description)
    {
        if (!_options.PruneFeaturizerVocabulary)
            return GraphStage.Apply(Ml, input, data, (graph, context) => GraphPruner.Prune(graph, _options, context), out description);
        if (input is NativeState native) input = native.Export(Ml, data);
        if (input is not PredictorState original)
            throw new UnsupportedModelException("PruneFeaturizerVocabulary applies to ML.NET pipelines whose linear predictor reads a FeaturizeText column; this model is an ONNX network.");
        var pruned = (PredictorState)GraphStage.Apply(Ml, original, data, (graph, context) => GraphPruner.Prune(graph, _options, context), out description);
        var (state, cut) = Pruning.Vocabulary.FeaturizerPruning.Apply(Ml, original, pruned, data, _options);
        description += cut;
        return state;
    }
}
