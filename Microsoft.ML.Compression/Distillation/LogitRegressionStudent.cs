using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// <see cref="BinaryTargets.LogitRegression"/>: one regression student on the teacher's logit divided by the
/// temperature, exported with ML.NET's ONNX converter and turned into a binary graph (<see cref="BinaryLogitGraph"/>).
/// The result is a <see cref="PredictorState"/>: the regression student's featurization, then the graph through the
/// usual calibrated binary head.
/// </summary>
/// <remarks>The targets are materialized (one Single per row; the trainer loads its rows anyway).</remarks>
internal static class LogitRegressionStudent
{
    /// <summary>Probabilities are clipped to [floor, 1 − floor] before the logit: beyond ±9.2 nothing changes a decision, and squared errors there would take trees.</summary>
    internal const double ProbabilityFloor = 1e-4;

    public static PredictorState Train(MLContext ml, IReadOnlyList<ITransformer> teacher, IDataView data, DistillationOptions o,
        (object[] values, DataViewType type)? teacherClasses, out string summary, long? labelledRows = null)
    {
        var regression = o.RegressionStudent!;
        var trainer = StudentTrainer.Of(regression, nameof(DistillationOptions.RegressionStudent));
        if (data.Schema.GetColumnOrNull(o.LabelColumnName) is { Type: not BooleanDataViewType } label)
            throw NotBoolean(o.LabelColumnName, label.Type);
        var targets = new List<float>(); // NaN: a row the teacher could not score
        // The scorer gives p = sigmoid(logit / T), blended with the labels by Alpha: its logit is the target.
        var scored = TransferSetBuilder.Score(ml, teacher, data, ModelTask.BinaryClassification, o, null, teacherClasses,
            t => targets.Add(t == null ? float.NaN : LogitTarget(t[1])), _ => throw new InvalidOperationException("A binary teacher gave a regression target."), labelledRows);
        if (scored.LabelType is not BooleanDataViewType) throw NotBoolean(o.LabelColumnName, scored.LabelType);
        var values = targets.Where(t => !float.IsNaN(t)).ToArray();
        var view = new TransferSet(scored.Source, o.LabelColumnName, NumberDataViewType.Single, Array.Empty<object>(), isRegression: true,
            weightColumn: null, TransferSet.OneEntryPerRow(targets.Select(t => !float.IsNaN(t)).ToList()), new int[values.Length], values);
        var fitted = StudentTrainer.FitRegression(regression, trainer.Feed(ml, view, o.ShuffleSeed), o.LabelColumnName, "the teacher's logits");
        var parts = MlNetModelParts.Decompose(fitted, nameof(DistillationOptions.RegressionStudent));
        if (parts.Suffix.Count > 0)
            throw new UnsupportedModelException("RegressionStudent has transforms after its trainer; logit regression needs the trainer to be the chain's last estimator.");
        var regressor = PredictorExporter.Export(ml, parts, parts.TransformPrefix(view).Schema);
        var graph = BinaryLogitGraph.FromRegression(regressor, o.Temperature);
        var modelParts = new MlNetModelParts
        {
            Prefix = parts.Prefix,
            Predictor = parts.Predictor, // the regressor: the binary graph stands for it, and nothing re-exports it
            Suffix = Array.Empty<ITransformer>(),
            Task = ModelTask.BinaryClassification,
            FeatureColumn = parts.FeatureColumn,
        };
        summary = $"{scored.RowsText}, logits clipped to ±{-Math.Log(ProbabilityFloor / (1 - ProbabilityFloor)):F1}; the regressor made one ONNX binary model (Score = logit, Probability = its sigmoid)";
        return new PredictorState(modelParts, graph);
    }

    private static DataMismatchException NotBoolean(string label, DataViewType type)
        => new($"BinaryTargets LogitRegression makes a model whose PredictedLabel is Boolean, but the label '{label}' is {type}. " +
            "Map the label to Boolean before the teacher and the student (e.g. ml.Transforms.Conversion.MapValue), or use BinaryTargets.SoftLabels.", label);

    /// <summary>The logit of the (softened, blended) teacher probability, clipped at <see cref="ProbabilityFloor"/>.</summary>
    internal static float LogitTarget(double probability)
    {
        double p = Math.Clamp(probability, ProbabilityFloor, 1 - ProbabilityFloor);
        return (float)Math.Log(p / (1 - p));
    }
}
