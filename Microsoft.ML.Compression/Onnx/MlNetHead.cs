using System.ComponentModel;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Turns a <see cref="PredictorGraph"/> into standard ML.NET transformers whose output columns are the ones
/// ML.NET's evaluators expect. Why the small custom mappings: ML.NET 5's OnnxTransformer can only emit vector
/// columns (its scalar path throws), while evaluators need a scalar <c>Score</c>, <c>Probability</c> and
/// <c>PredictedLabel</c>. The mappings only take the single slot of those vectors; they are saved by contract
/// name, so loading a saved model needs this assembly loaded (any use of this library, e.g. <c>ml.Compression()</c>).
/// </summary>
internal static class MlNetHead
{
    public static IReadOnlyList<ITransformer> Build(MLContext ml, PredictorGraph graph)
    {
        var bytes = OnnxModelIO.ToBytes(graph.Model);
        var view = PredictorExporter.FeatureOnlyView(ml, graph.FeatureColumn, graph.FeatureCount);
        var onnx = ml.Transforms.ApplyOnnxModel(graph.OutputNames, new[] { graph.FeatureColumn }, new MemoryStream(bytes)).Fit(view);
        var transformers = new List<ITransformer> { onnx };
        var current = onnx.Transform(view);
        ITransformer Add(IEstimator<ITransformer> e)
        {
            var t = e.Fit(current);
            current = t.Transform(current);
            transformers.Add(t);
            return t;
        }

        switch (graph.Task)
        {
            case ModelTask.BinaryClassification when graph.HasProbability:
                Add(ml.Transforms.CustomMapping(new CalibratedBinaryHead().GetMapping(), CalibratedBinaryHead.Contract));
                Add(ml.Transforms.DropColumns(HeadColumns.Score, HeadColumns.Probability, HeadColumns.PredictedLabel));
                break;
            case ModelTask.BinaryClassification:
                Add(ml.Transforms.CustomMapping(new BinaryHead().GetMapping(), BinaryHead.Contract));
                Add(ml.Transforms.DropColumns(HeadColumns.Score, HeadColumns.PredictedLabel));
                break;
            case ModelTask.Regression:
                Add(ml.Transforms.CustomMapping(new RegressionHead().GetMapping(), RegressionHead.Contract));
                Add(ml.Transforms.DropColumns(HeadColumns.Score));
                break;
            case ModelTask.MulticlassClassification:
                Add(ml.Transforms.CustomMapping(new MulticlassHead().GetMapping(), MulticlassHead.Contract));
                Add(KeyMapping(ml, graph));
                Add(ml.Transforms.DropColumns(HeadColumns.PredictedLabel, HeadColumns.PredictedKey));
                break;
            default:
                throw new InvalidOperationException($"No ML.NET head for task {graph.Task}.");
        }
        return transformers;
    }

    /// <summary>PredictedLabel as a key whose values are the original class labels, in the teacher's key order.</summary>
    private static IEstimator<ITransformer> KeyMapping(MLContext ml, PredictorGraph graph)
    {
        var method = typeof(MlNetHead).GetMethod(nameof(KeyMappingOf), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(graph.ClassLabels!.GetType().GetElementType()!);
        return (IEstimator<ITransformer>)method.Invoke(null, new object[] { ml, graph.ClassLabels })!;
    }

    private static IEstimator<ITransformer> KeyMappingOf<T>(MLContext ml, T[] labels)
        => ml.Transforms.Conversion.MapValue("PredictedLabel",
            labels.Select((label, i) => new KeyValuePair<uint, T>((uint)(i + 1), label)),
            HeadColumns.PredictedKey, treatValuesAsKeyType: true);
}

#pragma warning disable CS1591 // Plumbing types: public only because ML.NET instantiates custom mappings by reflection.
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class BinaryHeadInput
{
    [VectorType(1)] public float[] CompressedScore = Array.Empty<float>();
    [VectorType(1)] public bool[] CompressedPredictedLabel = Array.Empty<bool>();
}

[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class BinaryHeadOutput
{
    public float Score;
    public bool PredictedLabel;
}

[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class CalibratedBinaryHeadInput
{
    [VectorType(1)] public float[] CompressedScore = Array.Empty<float>();
    [VectorType(1)] public float[] CompressedProbability = Array.Empty<float>();
    [VectorType(1)] public bool[] CompressedPredictedLabel = Array.Empty<bool>();
}

[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class CalibratedBinaryHeadOutput
{
    public float Score;
    public float Probability;
    public bool PredictedLabel;
}

[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class RegressionHeadInput
{
    [VectorType(1)] public float[] CompressedScore = Array.Empty<float>();
}

[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class RegressionHeadOutput
{
    public float Score;
}

[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class MulticlassHeadInput
{
    [VectorType(1)] public uint[] CompressedPredictedLabel = Array.Empty<uint>();
}

[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class MulticlassHeadOutput
{
    public uint CompressedPredictedKey;
}

[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(Contract)]
public sealed class BinaryHead : CustomMappingFactory<BinaryHeadInput, BinaryHeadOutput>
{
    public const string Contract = "Microsoft.ML.Compression.BinaryHead.v1";
    public override Action<BinaryHeadInput, BinaryHeadOutput> GetMapping() => (i, o) =>
    {
        o.Score = i.CompressedScore[0];
        o.PredictedLabel = i.CompressedPredictedLabel[0];
    };
}

[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(Contract)]
public sealed class CalibratedBinaryHead : CustomMappingFactory<CalibratedBinaryHeadInput, CalibratedBinaryHeadOutput>
{
    public const string Contract = "Microsoft.ML.Compression.CalibratedBinaryHead.v1";
    public override Action<CalibratedBinaryHeadInput, CalibratedBinaryHeadOutput> GetMapping() => (i, o) =>
    {
        o.Score = i.CompressedScore[0];
        o.Probability = i.CompressedProbability[0];
        o.PredictedLabel = i.CompressedPredictedLabel[0];
    };
}

[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(Contract)]
public sealed class RegressionHead : CustomMappingFactory<RegressionHeadInput, RegressionHeadOutput>
{
    public const string Contract = "Microsoft.ML.Compression.RegressionHead.v1";
    public override Action<RegressionHeadInput, RegressionHeadOutput> GetMapping() => (i, o) => o.Score = i.CompressedScore[0];
}

[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(Contract)]
public sealed class MulticlassHead : CustomMappingFactory<MulticlassHeadInput, MulticlassHeadOutput>
{
    public const string Contract = "Microsoft.ML.Compression.MulticlassHead.v1";
    public override Action<MulticlassHeadInput, MulticlassHeadOutput> GetMapping() => (i, o) => o.CompressedPredictedKey = i.CompressedPredictedLabel[0];
}
#pragma warning restore CS1591
