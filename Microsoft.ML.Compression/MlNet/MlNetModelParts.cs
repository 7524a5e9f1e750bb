using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// A trained ML.NET model split into the featurization before its predictor, the predictor itself, and the
/// transforms after it (typically MapKeyToValue). Only the predictor is compressed: the featurization stays
/// the user's own standard transformers.
/// </summary>
internal sealed class MlNetModelParts
{
    public required IReadOnlyList<ITransformer> Prefix { get; init; }
    public required ITransformer Predictor { get; init; }
    public required IReadOnlyList<ITransformer> Suffix { get; init; }
    public required ModelTask Task { get; init; }
    public required string FeatureColumn { get; init; }

    public static MlNetModelParts Decompose(ITransformer model, string paramName)
    {
        if (model == null) throw new ArgumentNullException(paramName);
        var flat = Flatten(model).ToList();
        int index = flat.FindLastIndex(t => TaskOf(t) != null);
        if (index < 0)
            throw new UnsupportedModelException(
                $"The model given as '{paramName}' contains no ML.NET predictor (binary, multiclass or regression prediction transformer). " +
                "Pass the fitted pipeline that ends in a trainer, or give an ONNX network as a file, stream or OnnxTransformer.");
        var predictor = flat[index];
        var featureColumn = (predictor as ISingleFeaturePredictionTransformer<object>)?.FeatureColumnName
            ?? throw new UnsupportedModelException($"The predictor {predictor.GetType().Name} does not read a single feature column, so it cannot be exported to ONNX.");
        return new MlNetModelParts
        {
            Prefix = flat.Take(index).ToList(),
            Predictor = predictor,
            Suffix = flat.Skip(index + 1).ToList(),
            Task = TaskOf(predictor)!.Value,
            FeatureColumn = featureColumn,
        };
    }

    /// <summary>
    /// The featurization before the predictor, applied to <paramref name="data"/>; label conversions are skipped
    /// when the data has no "Label" column (unlabeled data).
    /// </summary>
    public IDataView TransformPrefix(IDataView data) => LabelFree.Transform(Prefix, data, "Label");

    public int FeatureCount(DataViewSchema prefixOutput)
    {
        var col = prefixOutput.GetColumnOrNull(FeatureColumn);
        if (col == null)
            throw new DataMismatchException($"The data has no column '{FeatureColumn}' after the model's featurization. Give data with the columns the model was trained on.", FeatureColumn);
        if (col.Value.Type is not VectorDataViewType { ItemType: NumberDataViewType n, IsKnownSize: true } v || n != NumberDataViewType.Single)
            throw new DataMismatchException($"Column '{FeatureColumn}' is {col.Value.Type}; the predictor needs a known-size vector of Single.", FeatureColumn);
        return v.Size;
    }

    internal static IEnumerable<ITransformer> Flatten(ITransformer t)
    {
        if (t is IEnumerable<ITransformer> chain)
        {
            foreach (var inner in chain)
                foreach (var x in Flatten(inner)) yield return x;
        }
        else yield return t;
    }

    internal static ModelTask? TaskOf(ITransformer t)
    {
        var type = t.GetType();
        if (!type.IsGenericType) return null;
        var def = type.GetGenericTypeDefinition();
        if (def == typeof(BinaryPredictionTransformer<>)) return ModelTask.BinaryClassification;
        if (def == typeof(MulticlassPredictionTransformer<>)) return ModelTask.MulticlassClassification;
        if (def == typeof(RegressionPredictionTransformer<>)) return ModelTask.Regression;
        return null;
    }
}
