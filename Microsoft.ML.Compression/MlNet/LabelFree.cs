namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// Applies a fitted pipeline to data that may lack the label column. ML.NET pipelines often convert the label
/// (<c>MapValueToKey("Label")</c>, <c>MapValue("Label", …)</c>) and then refuse data without it, although the
/// predictor does not read it; on unlabeled data such label conversions are skipped.
/// </summary>
internal static class LabelFree
{
    public static IDataView Transform(IEnumerable<ITransformer> transformers, IDataView data, string labelColumn)
    {
        bool unlabeled = data.Schema.GetColumnOrNull(labelColumn) == null;
        foreach (var t in transformers)
            if (!(unlabeled && Skipped(t, data.Schema, labelColumn))) data = t.Transform(data);
        return data;
    }

    /// <summary>The schema <see cref="Transform"/> would give, without reading any row.</summary>
    public static DataViewSchema OutputSchema(ITransformer model, DataViewSchema schema, string labelColumn)
    {
        bool unlabeled = schema.GetColumnOrNull(labelColumn) == null;
        foreach (var t in MlNetModelParts.Flatten(model))
            if (!(unlabeled && Skipped(t, schema, labelColumn))) schema = t.GetOutputSchema(schema);
        return schema;
    }

    /// <summary>In unlabeled data: a transformer that refuses its input only because the label column is still missing (a label conversion).</summary>
    private static bool Skipped(ITransformer t, DataViewSchema input, string labelColumn)
        => input.GetColumnOrNull(labelColumn) == null && NeedsMissingLabel(t, input, labelColumn);

    private static bool NeedsMissingLabel(ITransformer t, DataViewSchema schema, string labelColumn)
    {
        try
        {
            t.GetOutputSchema(schema);
            return false;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return e.Message.Contains($"'{labelColumn}'", StringComparison.Ordinal);
        }
    }
}
