using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Pipeline;

/// <summary>Reads the first rows of a float vector column, densified, to rank coefficients and trees.</summary>
internal static class FeatureSample
{
    public static float[][] Read(IDataView data, string column, int maxRows)
    {
        var col = data.Schema.GetColumnOrNull(column)
            ?? throw new DataMismatchException($"The data has no column '{column}'. Give data with the columns the model was trained on.", column);
        var rows = new List<float[]>();
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> buffer = default;
        while (rows.Count < maxRows && cursor.MoveNext())
        {
            getter(ref buffer);
            rows.Add(buffer.DenseValues().ToArray());
        }
        return rows.ToArray();
    }

    public static bool HasRows(IDataView data)
    {
        if (data.GetRowCount() is long n) return n > 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        return cursor.MoveNext();
    }
}
