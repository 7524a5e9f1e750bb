using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>Reads the first rows of a float vector column, densified, to rank coefficients and trees.</summary>
internal static class FeatureSample
{
    private const long MaxDenseFloats = 32_000_000;

    public static float[][] Read(IDataView data, string column, int maxRows) => Read(data, column, maxRows, skipNonFinite: false, out _);

    /// <summary>
    /// The first <paramref name="maxRows"/> rows; with <paramref name="skipNonFinite"/>, rows holding a NaN or an
    /// infinity are passed over (and counted in <paramref name="skipped"/>) instead of being returned.
    /// </summary>
    public static float[][] Read(IDataView data, string column, int maxRows, bool skipNonFinite, out long skipped)
    {
        skipped = 0;
        var col = data.Schema.GetColumnOrNull(column)
            ?? throw new DataMismatchException($"The data has no column '{column}'. Give data with the columns the model was trained on.", column);
        // Never hold more than about 128 MB of densified rows, however wide the column (text n-grams can be 10⁵+).
        maxRows = (int)Math.Max(1, Math.Min(maxRows, MaxDenseFloats / Math.Max(1, Width(col))));
        var rows = new List<float[]>();
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> buffer = default;
        while (rows.Count < maxRows && cursor.MoveNext())
        {
            getter(ref buffer);
            if (skipNonFinite && !AllFinite(buffer.GetValues())) { skipped++; continue; }
            rows.Add(buffer.DenseValues().ToArray());
        }
        return rows.ToArray();
    }

    /// <summary>
    /// Standard deviation of every slot of a float vector column over the first <paramref name="maxRows"/> rows,
    /// streamed (sparse vectors stay sparse), for inputs too wide to hold as rows (e.g. text n-grams).
    /// </summary>
    public static float[] Spread(IDataView data, string column, int maxRows) => Spread(data, column, maxRows, skipNonFinite: false, out _, out _);

    /// <summary><see cref="Spread(IDataView, string, int)"/>, optionally passing over (and counting) rows with NaN or infinite values.</summary>
    public static float[] Spread(IDataView data, string column, int maxRows, bool skipNonFinite, out long skipped, out long kept)
    {
        skipped = 0;
        var col = data.Schema.GetColumnOrNull(column)
            ?? throw new DataMismatchException($"The data has no column '{column}'. Give data with the columns the model was trained on.", column);
        int width = Width(col);
        var sum = new double[width];
        var sumSq = new double[width];
        long rows = 0;
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> buffer = default;
        while (rows < maxRows && cursor.MoveNext())
        {
            getter(ref buffer);
            var values = buffer.GetValues();
            if (skipNonFinite && !AllFinite(values)) { skipped++; continue; }
            var indices = buffer.GetIndices();
            for (int i = 0; i < values.Length; i++)
            {
                int slot = buffer.IsDense ? i : indices[i];
                sum[slot] += values[i];
                sumSq[slot] += (double)values[i] * values[i];
            }
            rows++;
        }
        var std = new float[width];
        for (int j = 0; rows > 0 && j < width; j++)
        {
            double mean = sum[j] / rows;
            std[j] = (float)Math.Sqrt(Math.Max(0, sumSq[j] / rows - mean * mean));
        }
        kept = rows;
        return std;
    }

    /// <summary>Whether no value is NaN or infinite.</summary>
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    private static int Width(DataViewSchema.Column col) => col.Type is VectorDataViewType v ? Math.Max(1, v.Size) : 1;

    public static bool HasRows(IDataView data)
    {
        if (data.GetRowCount() is long n) return n > 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        return cursor.MoveNext();
    }

    /// <summary>The number of rows: the view's own count, or one pass that reads no column.</summary>
    public static long RowCount(IDataView data)
    {
        if (data.GetRowCount() is long n) return n;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        long rows = 0;
        while (cursor.MoveNext()) rows++;
        return rows;
    }
}
