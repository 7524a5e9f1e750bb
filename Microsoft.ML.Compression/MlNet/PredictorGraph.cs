using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;
using Onnx;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// An ML.NET predictor as an ONNX graph with a fixed contract: one input (the feature column, float [batch, F])
/// and the outputs named in <see cref="HeadColumns"/>. Compression stages edit <see cref="Model"/>; the ML.NET
/// head (<see cref="MlNetHead"/>) turns its outputs back into the columns ML.NET's evaluators expect.
/// </summary>
internal sealed class PredictorGraph
{
    public required ModelProto Model { get; init; }
    public required ModelTask Task { get; init; }
    public required string FeatureColumn { get; init; }
    public required int FeatureCount { get; init; }
    public required bool HasProbability { get; init; }
    /// <summary>Multiclass only: the label value of each class, in key order (key k+1 is ClassLabels[k]).</summary>
    public Array? ClassLabels { get; init; }
    public DataViewType? ClassLabelType { get; init; }
    public int ClassCount => Task == ModelTask.MulticlassClassification ? ClassLabels?.Length ?? 0 : 1;

    public PredictorGraph With(ModelProto model) => new()
    {
        Model = model, Task = Task, FeatureColumn = FeatureColumn, FeatureCount = FeatureCount,
        HasProbability = HasProbability, ClassLabels = ClassLabels, ClassLabelType = ClassLabelType,
    };

    public string[] OutputNames => OutputNamesOf(Task, HasProbability);

    /// <summary>The graph outputs <see cref="MlNetHead"/> reads for a task (also how a saved graph's task is recognised).</summary>
    public static string[] OutputNamesOf(ModelTask task, bool hasProbability) => task switch
    {
        ModelTask.BinaryClassification => hasProbability
            ? new[] { HeadColumns.Score, HeadColumns.Probability, HeadColumns.PredictedLabel }
            : new[] { HeadColumns.Score, HeadColumns.PredictedLabel },
        ModelTask.MulticlassClassification => new[] { "Score", HeadColumns.PredictedLabel },
        _ => new[] { HeadColumns.Score },
    };
}

/// <summary>Names of the graph outputs the ML.NET head reads; they are dropped from the final schema.</summary>
internal static class HeadColumns
{
    public const string Score = "CompressedScore";
    public const string Probability = "CompressedProbability";
    public const string PredictedLabel = "CompressedPredictedLabel";
    public const string PredictedKey = "CompressedPredictedKey";
}

/// <summary>
/// Exports an ML.NET predictor alone (not its featurization) with ML.NET's own ONNX converter, then rewrites the
/// graph's outputs into the <see cref="PredictorGraph"/> contract.
/// </summary>
internal static class PredictorExporter
{
    private sealed class FeatureRow { public float[] Features = Array.Empty<float>(); }

    public static IDataView FeatureOnlyView(MLContext ml, string featureColumn, int featureCount)
    {
        var def = SchemaDefinition.Create(typeof(FeatureRow));
        def[0].ColumnName = featureColumn;
        def[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        return ml.Data.LoadFromEnumerable(new[] { new FeatureRow { Features = new float[featureCount] } }, def);
    }

    public static PredictorGraph Export(MLContext ml, MlNetModelParts parts, DataViewSchema prefixOutput)
    {
        int featureCount = parts.FeatureCount(prefixOutput);
        var view = FeatureOnlyView(ml, parts.FeatureColumn, featureCount);
        ModelProto model;
        try
        {
            using var stream = new MemoryStream();
            ml.Model.ConvertToOnnx(parts.Predictor, view, stream);
            model = OnnxModelIO.Parse(stream.ToArray(), "ML.NET's ONNX export");
        }
        catch (Exception e) when (e is not CompressionException)
        {
            throw new UnsupportedModelException(
                $"ML.NET cannot export the predictor {DescribePredictor(parts.Predictor)} to ONNX ({e.Message}); only predictors that mlContext.Model.ConvertToOnnx supports can be pruned or quantized.", e);
        }

        var predictorSchema = parts.Predictor.GetOutputSchema(view.Schema);
        Array? labels = null;
        DataViewType? labelType = null;
        if (parts.Task == ModelTask.MulticlassClassification)
            (labels, labelType) = ClassLabelsOf(predictorSchema);
        bool hasProbability = predictorSchema.GetColumnOrNull("Probability") != null;
        RewriteOutputs(model, parts.Task, parts.FeatureColumn, hasProbability, labels?.Length ?? 1);
        return new PredictorGraph
        {
            Model = model, Task = parts.Task, FeatureColumn = parts.FeatureColumn, FeatureCount = featureCount,
            HasProbability = hasProbability, ClassLabels = labels, ClassLabelType = labelType,
        };
    }

    internal static string DescribePredictor(ITransformer predictor)
    {
        var model = predictor.GetType().GetProperty("Model")?.GetValue(predictor);
        return model?.GetType().Name ?? predictor.GetType().Name;
    }

    internal static (Array, DataViewType) ClassLabelsOf(DataViewSchema predictorSchema)
    {
        var col = predictorSchema["PredictedLabel"];
        var kvCol = col.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (kvCol == null || kvCol.Value.Type is not VectorDataViewType kvType)
            throw new UnsupportedModelException("The multiclass predictor's PredictedLabel has no key values: train it on a label mapped with MapValueToKey.");
        var method = typeof(PredictorExporter).GetMethod(nameof(ReadKeyValues), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(kvType.ItemType.RawType);
        return ((Array)method.Invoke(null, new object[] { col })!, kvType.ItemType);
    }

    private static T[] ReadKeyValues<T>(DataViewSchema.Column col)
    {
        VBuffer<T> values = default;
        col.GetKeyValues(ref values);
        return values.DenseValues().ToArray();
    }

    /// <summary>
    /// ML.NET's export names its outputs after every column of the data (Features, Score, …), through Identity
    /// nodes. Keep only the prediction outputs, under the fixed head names, flattened to 1-D so ML.NET sees
    /// vectors of a known size.
    /// </summary>
    private static void RewriteOutputs(ModelProto model, ModelTask task, string featureColumn, bool hasProbability, int classCount)
    {
        var g = model.Graph;
        string SourceOf(string column)
        {
            var output = g.Output.FirstOrDefault(o => o.Name == column || o.Name == column + ".output")
                ?? throw new UnsupportedModelException($"ML.NET's ONNX export has no '{column}' output; this predictor cannot be compressed.");
            var producer = g.Node.FirstOrDefault(n => n.Output.Contains(output.Name));
            return producer is { OpType: "Identity" } ? producer.Input[0] : output.Name;
        }

        var outputs = new List<(string source, string name, int type, long size)>();
        if (task == ModelTask.MulticlassClassification)
        {
            outputs.Add((SourceOf("Score"), "Score", OnnxType.Float, classCount));
            outputs.Add((SourceOf("PredictedLabel"), HeadColumns.PredictedLabel, OnnxType.UInt32, 1));
        }
        else
        {
            outputs.Add((SourceOf("Score"), HeadColumns.Score, OnnxType.Float, 1));
            if (task == ModelTask.BinaryClassification)
            {
                if (hasProbability) outputs.Add((SourceOf("Probability"), HeadColumns.Probability, OnnxType.Float, 1));
                outputs.Add((SourceOf("PredictedLabel"), HeadColumns.PredictedLabel, OnnxType.Bool, 1));
            }
        }

        // The internal value may already carry an output's name ("Score"): rename internals first.
        for (int i = 0; i < outputs.Count; i++)
        {
            var o = outputs[i];
            if (!g.Node.Any(n => n.Output.Contains(o.name)) && !g.Initializer.Any(t => t.Name == o.name)) continue;
            var renamed = OnnxGraphEditor.UniqueName(g, o.name + "_inner");
            RenameValue(g, o.name, renamed);
            for (int j = 0; j < outputs.Count; j++)
                if (outputs[j].source == o.name) outputs[j] = (renamed, outputs[j].name, outputs[j].type, outputs[j].size);
        }

        g.Output.Clear();
        var flat = OnnxGraphEditor.UniqueName(g, "flat_shape");
        g.Initializer.Add(OnnxTensors.Int64(flat, new[] { -1L }, 1));
        foreach (var (source, name, type, size) in outputs)
        {
            g.Node.Add(OnnxGraphEditor.Node("Reshape", new[] { source, flat }, new[] { name }, name + "_flatten"));
            g.Output.Add(OnnxGraphEditor.TensorValue(name, type, size));
        }
        OnnxGraphEditor.RemoveDeadNodes(g);
        var unusedInputs = g.Input.Where(i => i.Name != featureColumn).ToList();
        foreach (var i in unusedInputs) g.Input.Remove(i);
        if (g.Input.Count != 1)
            throw new UnsupportedModelException($"ML.NET's ONNX export of the predictor does not read the feature column '{featureColumn}' as its single input.");
    }

    internal static void RenameValue(GraphProto g, string from, string to)
    {
        foreach (var n in g.Node)
        {
            for (int i = 0; i < n.Input.Count; i++) if (n.Input[i] == from) n.Input[i] = to;
            for (int i = 0; i < n.Output.Count; i++) if (n.Output[i] == from) n.Output[i] = to;
        }
        foreach (var t in g.Initializer.Where(t => t.Name == from)) t.Name = to;
    }
}
