using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// <see cref="MulticlassTargets.PerClassRegression"/>: one regression student per class on the teacher's centred
/// per-class logits, each exported with ML.NET's ONNX converter and merged into one multiclass graph
/// (<see cref="PerClassGraph"/>). The result is a <see cref="PredictorState"/>: the label mapped to the teacher's
/// keys, the regression student's featurization, then the graph through the usual multiclass head.
/// </summary>
/// <remarks>
/// The targets are materialized (one Single per row and class; the trainers load their rows anyway). The
/// featurization is fitted once, with the first class's rows, and shared by all the regressors.
/// </remarks>
internal static class PerClassStudent
{
    /// <summary>Probabilities are floored here before the log: rounding noise among classes the teacher rules out is not worth trees.</summary>
    internal const double ProbabilityFloor = 1e-4;

    public static PredictorState Train(MLContext ml, IReadOnlyList<ITransformer> teacher, IDataView data, DistillationOptions o,
        (object[] values, DataViewType type)? teacherClasses, out string summary, long? labelledRows = null)
    {
        var regression = o.RegressionStudent!;
        var trainer = StudentTrainer.Of(regression, nameof(DistillationOptions.RegressionStudent));
        var targets = new List<float[]?>(); // null: a row the teacher could not score
        // The teacher's probabilities at temperature 1 (blended with the labels by Alpha): the temperature divides their logs below.
        var unsoftened = o.Clone();
        unsoftened.Temperature = 1;
        var scored = TransferSetBuilder.Score(ml, teacher, data, ModelTask.MulticlassClassification, unsoftened, null, teacherClasses,
            t => targets.Add(t == null ? null : LogTargets(t, o.Temperature)), _ => throw new InvalidOperationException("A multiclass teacher gave a regression target."), labelledRows);
        int classes = scored.ClassValues.Length;
        var rowStart = TransferSet.OneEntryPerRow(targets.Select(t => t != null).ToList());
        var scoredRows = targets.OfType<float[]>().ToList();
        int rows = scoredRows.Count;
        var entryClass = new int[rows];

        IReadOnlyList<ITransformer> prefix = Array.Empty<ITransformer>();
        DataViewSchema? featurizedSchema = null;
        var graphs = new List<PredictorGraph>();
        for (int c = 0; c < classes; c++)
        {
            var values = new float[rows];
            for (int i = 0; i < rows; i++) values[i] = scoredRows[i][c];
            var view = new TransferSet(scored.Source, o.LabelColumnName, NumberDataViewType.Single, Array.Empty<object>(), isRegression: true,
                weightColumn: null, rowStart, entryClass, values);
            ITransformer predictor;
            if (c == 0)
            {
                var parts = MlNetModelParts.Decompose(StudentTrainer.FitRegression(regression, trainer.Feed(ml, view, o.ShuffleSeed), o.LabelColumnName, "the per-class targets"), nameof(DistillationOptions.RegressionStudent));
                if (parts.Suffix.Count > 0)
                    throw new UnsupportedModelException("RegressionStudent has transforms after its trainer; per-class regression needs the trainer to be the chain's last estimator.");
                prefix = parts.Prefix;
                predictor = parts.Predictor;
                featurizedSchema = parts.TransformPrefix(view).Schema;
            }
            else
            {
                IDataView featurized = view;
                foreach (var t in prefix) featurized = t.Transform(featurized);
                predictor = StudentTrainer.FitRegression(trainer.Trainer!, trainer.Feed(ml, featurized, o.ShuffleSeed), o.LabelColumnName, "the per-class targets");
            }
            var classParts = MlNetModelParts.Decompose(predictor, nameof(DistillationOptions.RegressionStudent));
            graphs.Add(PredictorExporter.Export(ml, new MlNetModelParts
            {
                Prefix = prefix, Predictor = predictor, Suffix = Array.Empty<ITransformer>(), Task = ModelTask.Regression, FeatureColumn = classParts.FeatureColumn,
            }, featurizedSchema!));
        }

        // A label that is already a key keeps its numbering: the graph names the classes by the key's values, in key order.
        var keyed = scored.Keyed;
        if (keyed != null && keyed.Values == null)
            throw new DataMismatchException($"'{o.LabelColumnName}' is a key without key values, which per-class regression needs to name the classes: map the label with MapValueToKey.", o.LabelColumnName);
        object[] classValues = keyed?.Values ?? scored.ClassValues;
        var classType = keyed?.ValueType ?? scored.LabelType;
        var labels = Array.CreateInstance(classType.RawType, classes);
        for (int c = 0; c < classes; c++) labels.SetValue(classValues[c], c);
        var graph = PerClassGraph.Merge(graphs, o.Temperature, labels, classType);
        ITransformer[] labelToKey = Array.Empty<ITransformer>();
        if (keyed == null)
        {
            // The label in the teacher's class order, so that Label and PredictedLabel are the same key type (ML.NET's evaluators need that).
            var classView = new ClassValuesView(o.LabelColumnName, scored.LabelType, scored.ClassValues);
            labelToKey = new ITransformer[] { ml.Transforms.Conversion.MapValueToKey(o.LabelColumnName, keyData: classView).Fit(classView) };
        }
        var modelParts = new MlNetModelParts
        {
            Prefix = labelToKey.Concat(prefix).ToList(),
            // Not a predictor: the merged graph stands for it, and nothing re-exports it.
            Predictor = labelToKey.Concat(prefix).LastOrDefault() ?? new TransformerChain<ITransformer>(),
            Suffix = Array.Empty<ITransformer>(),
            Task = ModelTask.MulticlassClassification,
            FeatureColumn = graph.FeatureColumn,
        };
        summary = $"{scored.RowsText}; {classes} regression students (one per class) on the teacher's logits, merged into one ONNX graph with a softmax";
        return new PredictorState(modelParts, graph);
    }

    /// <summary>log p (floored) divided by the temperature, centred over the classes: a softmax of these gives the softened targets back.</summary>
    internal static float[] LogTargets(double[] probabilities, double temperature)
    {
        var logs = probabilities.Select(p => Math.Log(Math.Max(p, ProbabilityFloor)) / temperature).ToArray();
        double mean = logs.Average();
        return logs.Select(l => (float)(l - mean)).ToArray();
    }
}
