using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// Reads back a compressed ML.NET model that was saved with <c>mlContext.Model.Save</c> and loaded again: a plain
/// chain of the featurization, the OnnxTransformer of the predictor graph (whose outputs carry this library's
/// <see cref="HeadColumns"/> names), the output-column head <see cref="MlNetHead"/> built after it, and any
/// post-processing. The graph and the head tell the task, the feature column and the class labels again, so the
/// model can go through another chain (say, quantize what was pruned and saved last week).
/// </summary>
internal static class SavedCompressedModel
{
    /// <param name="ml">The context.</param>
    /// <param name="flat">The loaded chain, flattened.</param>
    /// <param name="at">Index of its last OnnxTransformer.</param>
    /// <param name="model">That transformer's graph (the state takes it as it is).</param>
    public static PredictorState? TryRead(MLContext ml, IReadOnlyList<ITransformer> flat, int at, ModelProto model)
    {
        // The task whose head outputs (PredictorGraph.OutputNamesOf) the graph has; none: not a predictor graph of this library.
        var outputs = model.Graph.Output.Select(o => o.Name).ToHashSet();
        var shapes = new (ModelTask Task, bool HasProbability)[]
        {
            (ModelTask.BinaryClassification, true), (ModelTask.BinaryClassification, false), (ModelTask.MulticlassClassification, false), (ModelTask.Regression, false),
        };
        if (shapes.Where(c => outputs.SetEquals(PredictorGraph.OutputNamesOf(c.Task, c.HasProbability))).Cast<(ModelTask Task, bool HasProbability)?>().FirstOrDefault() is not { } s)
            return null;
        int headCount = MlNetHead.HeadTransformerCount(s.Task);
        if (flat.Count < at + 1 + headCount) return null;

        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        var inputs = model.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        var dims = inputs.Count == 1 ? inputs[0].Type?.TensorType?.Shape?.Dim : null;
        if (dims is not { Count: 2 } || dims[1].DimValue <= 0) return null;
        string featureColumn = inputs[0].Name;
        int featureCount = (int)dims[1].DimValue;

        Array? labels = null;
        Microsoft.ML.Data.DataViewType? labelType = null;
        if (s.Task == ModelTask.MulticlassClassification)
        {
            // The head's last key mapping gives PredictedLabel the class labels as key values.
            IDataView view = PredictorExporter.FeatureOnlyView(ml, featureColumn, featureCount);
            for (int i = at; i <= at + headCount; i++) view = flat[i].Transform(view);
            (labels, labelType) = PredictorExporter.ClassLabelsOf(view.Schema);
        }
        var parts = new MlNetModelParts
        {
            Prefix = flat.Take(at).ToList(),
            Predictor = flat[at], // not an ML.NET predictor: the graph stands for it, and nothing re-exports it
            Suffix = flat.Skip(at + 1 + headCount).ToList(),
            Task = s.Task,
            FeatureColumn = featureColumn,
        };
        return new PredictorState(parts, new PredictorGraph
        {
            Model = model, Task = s.Task, FeatureColumn = featureColumn, FeatureCount = featureCount,
            HasProbability = s.HasProbability, ClassLabels = labels, ClassLabelType = labelType,
        });
    }
}
