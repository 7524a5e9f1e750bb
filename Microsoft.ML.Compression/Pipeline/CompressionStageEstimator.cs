using Microsoft.ML.Compression.Pipeline;

namespace Microsoft.ML.Compression;

/// <summary>
/// One compression stage (distill, prune or quantize) as an ML.NET estimator. A stage created with a model
/// (<c>ml.Compression().Quantize(teacher)</c>) can be fitted alone; a stage created without one acts on the
/// model produced by the stage before it when chained with <see cref="Append"/>.
/// </summary>
/// <example>
/// <code>
/// var chain = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 })
///     .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }));
/// CompressedModel compressed = chain.Fit(train);
/// </code>
/// </example>
public abstract class CompressionStageEstimator : IEstimator<CompressedModel>
{
    private protected readonly MLContext Ml;
    internal ModelSource? Source { get; }

    private protected CompressionStageEstimator(MLContext ml, ModelSource? source)
    {
        Ml = ml ?? throw new ArgumentNullException(nameof(ml));
        Source = source;
    }

    /// <summary>Short name in the report: "Distill", "Prune" or "Quantize".</summary>
    /// <example>
    /// <code>
    /// var prune = ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 });
    /// Console.WriteLine(prune.StageName); // "Prune", the Stage of its row in the report
    /// </code>
    /// </example>
    public abstract string StageName { get; }

    internal abstract ModelState Apply(ModelState input, IDataView data, out string description);

    /// <summary>
    /// Rejects a model this stage cannot act on, before any stage measures or trains anything (the chain's stages
    /// keep the model's task, so the first model tells). Throws; does nothing by default.
    /// </summary>
    internal virtual void CheckBeforeFit(ModelState state) { }

    /// <summary>The model this stage was given, as the report's first row measures it (a distillation reads a network teacher as a predictor of the student's task).</summary>
    internal virtual ModelState PrepareSource(ModelState state, IDataView data) => state;

    /// <summary>A chain of this stage followed by <paramref name="next"/>, which acts on this stage's result.</summary>
    /// <example><code>var chain = distill.Append(ml.Compression().Quantize(new QuantizationOptions()));</code></example>
    public CompressionEstimator Append(CompressionStageEstimator next)
        => new CompressionEstimator(Ml, new[] { this }, null).Append(next);

    /// <summary>
    /// This stage as a one-stage chain that reports its start and end to <paramref name="progress"/>
    /// (see <see cref="CompressionEstimator.WithProgress"/>); stages appended later report too.
    /// </summary>
    /// <example><code>var quantized = ml.Compression().Quantize("mlp.onnx").WithProgress(myProgress).Fit(calibration);</code></example>
    public CompressionEstimator WithProgress(IProgress<CompressionProgress> progress)
        => new CompressionEstimator(Ml, new[] { this }, null).WithProgress(progress);

    /// <summary>This stage alone, also reporting its metrics (and a distilled student's fidelity) on <paramref name="evaluationData"/>.</summary>
    /// <example><code>var distilled = ml.Compression().Distill(teacher, student).WithEvaluationData(test).Fit(train);</code></example>
    public CompressionEstimator WithEvaluationData(IDataView evaluationData)
        => new CompressionEstimator(Ml, new[] { this }, null).WithEvaluationData(evaluationData);

    /// <summary>Fits this stage alone on <paramref name="input"/> (the stage must have been given a model).</summary>
    /// <example><code>var quantized = ml.Compression().Quantize(teacher).Fit(train);</code></example>
    public CompressedModel Fit(IDataView input) => new CompressionEstimator(Ml, new[] { this }, null).Fit(input);

    /// <summary>The input columns plus the prediction columns the compressed model adds.</summary>
    /// <example><code>var shape = quantize.GetOutputSchema(inputShape);</code></example>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => new CompressionEstimator(Ml, new[] { this }, null).GetOutputSchema(inputSchema);
}
