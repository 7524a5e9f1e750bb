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
            SemiStructuredN = options.SemiStructuredN,
            SemiStructuredM = options.SemiStructuredM,
            PruneFeaturizerVocabulary = options.PruneFeaturizerVocabulary,
        };
    }

    /// <inheritdoc/>
    public override string StageName => "Prune";

    internal override ModelState Apply(ModelState input, IDataView data, out string description)
    {
        string? why = null;
        if (_options.Form == ModelForm.Native && input is NativeState native && native.Parts != null)
        {
            // Tree ensembles and linear models stay ML.NET models; other predictors go through ONNX, and the report says why.
            var edited = NativeCompression.TryPrune(Ml, native, data, _options, out description, out why);
            if (edited != null) return edited;
        }
        var result = ApplyOnnx(input, data, out description);
        if (why != null) description += $" The result is an ONNX graph run by ONNX Runtime because {why}.";
        return result;
    }

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
