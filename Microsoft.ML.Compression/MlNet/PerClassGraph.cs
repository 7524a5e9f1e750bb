using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// Merges K exported regression graphs (one per class, each reading the same feature input and producing
/// <see cref="HeadColumns.Score"/>) into one multiclass <see cref="PredictorGraph"/>: the K scores side by side,
/// times the temperature, a softmax (Score) and the arg-max as a 1-based key (PredictedLabel). Why ONNX: ML.NET
/// has no public way to build a multiclass model out of regressors it trained separately, while a graph with the
/// multiclass contract runs through the same head as every exported multiclass predictor.
/// </summary>
internal static class PerClassGraph
{
    public static PredictorGraph Merge(IReadOnlyList<PredictorGraph> regressors, double temperature, Array classLabels, Microsoft.ML.Data.DataViewType classLabelType)
    {
        if (regressors.Count < 2) throw new ArgumentException("Per-class regression needs at least two classes.", nameof(regressors));
        var first = regressors[0];
        var model = new ModelProto
        {
            IrVersion = regressors.Max(r => r.Model.IrVersion),
            ProducerName = "Microsoft.ML.Compression (per-class regression)",
            Graph = new GraphProto { Name = "PerClassRegression" },
        };
        // Every graph's operator sets, at the highest version any of them uses (ML.NET exports them all alike).
        foreach (var group in regressors.SelectMany(r => r.Model.OpsetImport).GroupBy(o => o.Domain is "ai.onnx" ? "" : o.Domain ?? ""))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = group.Key, Version = group.Max(o => o.Version) });
        var g = model.Graph;
        g.Input.Add(first.Model.Graph.Input.Single(i => i.Name == first.FeatureColumn).Clone());

        var columns = new List<string>();
        var column = "per_class_column_shape";
        g.Initializer.Add(OnnxTensors.Int64(column, new[] { -1L, 1L }, 2));
        for (int k = 0; k < regressors.Count; k++)
        {
            var r = regressors[k];
            if (r.Task != ModelTask.Regression || r.FeatureColumn != first.FeatureColumn || r.FeatureCount != first.FeatureCount)
                throw new InvalidOperationException("The per-class regressors must all be regression graphs of the same feature input.");
            var sub = r.Model.Graph.Clone();
            if (sub.Node.Any(n => n.Attribute.Any(a => a.G != null || a.Graphs.Count > 0)))
                throw new UnsupportedModelException("The regression student's ONNX graph has control-flow subgraphs, which per-class regression cannot merge.");
            string prefix = $"class{k}/";
            string Rename(string name) => name.Length == 0 || name == first.FeatureColumn ? name : prefix + name;
            foreach (var n in sub.Node)
            {
                n.Name = prefix + n.Name;
                for (int i = 0; i < n.Input.Count; i++) n.Input[i] = Rename(n.Input[i]);
                for (int i = 0; i < n.Output.Count; i++) n.Output[i] = Rename(n.Output[i]);
                g.Node.Add(n);
            }
            foreach (var t in sub.Initializer) { t.Name = Rename(t.Name); g.Initializer.Add(t); }
            foreach (var v in sub.ValueInfo) { v.Name = Rename(v.Name); g.ValueInfo.Add(v); }
            // Each regressor's score, flattened to [batch], as one column of the [batch, K] logits.
            var score = Rename(HeadColumns.Score);
            columns.Add(prefix + "column");
            g.Node.Add(OnnxGraphEditor.Node("Reshape", new[] { score, column }, new[] { columns[^1] }, prefix + "to_column"));
        }

        g.Node.Add(OnnxGraphEditor.Node("Concat", columns, new[] { "per_class_logits" }, "per_class_concat").WithInt("axis", 1));
        // The regressors learned log p / T: times T, the softmax gives the teacher's probabilities back (the arg-max is the same).
        g.Initializer.Add(OnnxTensors.Float("per_class_temperature", new[] { (float)temperature }));
        g.Node.Add(OnnxGraphEditor.Node("Mul", new[] { "per_class_logits", "per_class_temperature" }, new[] { "per_class_scaled" }, "per_class_unsoften"));
        g.Node.Add(OnnxGraphEditor.Node("Softmax", new[] { "per_class_scaled" }, new[] { "per_class_probabilities" }, "per_class_softmax").WithInt("axis", 1));
        // ArgMax takes the first of equal scores, as ML.NET's PredictedLabel does; keys are 1-based (0 is missing).
        g.Node.Add(OnnxGraphEditor.Node("ArgMax", new[] { "per_class_scaled" }, new[] { "per_class_argmax" }, "per_class_argmax").WithInt("axis", 1).WithInt("keepdims", 0));
        g.Initializer.Add(OnnxTensors.Int64("per_class_one", new[] { 1L }));
        g.Node.Add(OnnxGraphEditor.Node("Add", new[] { "per_class_argmax", "per_class_one" }, new[] { "per_class_key64" }, "per_class_key_base"));
        g.Node.Add(OnnxGraphEditor.Node("Cast", new[] { "per_class_key64" }, new[] { "per_class_key" }, "per_class_key_cast").WithInt("to", OnnxType.UInt32));

        // The multiclass contract of PredictorExporter: outputs flattened to 1-D, so ML.NET sees vectors of known size.
        g.Initializer.Add(OnnxTensors.Int64("per_class_flat_shape", new[] { -1L }, 1));
        g.Node.Add(OnnxGraphEditor.Node("Reshape", new[] { "per_class_probabilities", "per_class_flat_shape" }, new[] { "Score" }, "Score_flatten"));
        g.Node.Add(OnnxGraphEditor.Node("Reshape", new[] { "per_class_key", "per_class_flat_shape" }, new[] { HeadColumns.PredictedLabel }, "PredictedLabel_flatten"));
        g.Output.Add(OnnxGraphEditor.TensorValue("Score", OnnxType.Float, regressors.Count));
        g.Output.Add(OnnxGraphEditor.TensorValue(HeadColumns.PredictedLabel, OnnxType.UInt32, 1));
        return new PredictorGraph
        {
            Model = model, Task = ModelTask.MulticlassClassification, FeatureColumn = first.FeatureColumn, FeatureCount = first.FeatureCount,
            HasProbability = false, ClassLabels = classLabels, ClassLabelType = classLabelType,
        };
    }
}
