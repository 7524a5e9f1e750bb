using Microsoft.ML;
using Microsoft.ML.Data;

namespace MicroBenchmarks;

/// <summary>Reads scored data the way an application would, so that lazy transforms really run.</summary>
public static class Scoring
{
    /// <summary>Reads PredictedLabel, Score and Probability of every row; returns the row count.</summary>
    public static long ReadBinaryPredictions(IDataView scored)
    {
        var cols = new[] { "PredictedLabel", "Score", "Probability" }.Select(c => scored.Schema[c]).ToArray();
        using var cursor = scored.GetRowCursor(cols);
        var label = cursor.GetGetter<bool>(cols[0]);
        var score = cursor.GetGetter<float>(cols[1]);
        var probability = cursor.GetGetter<float>(cols[2]);
        bool l = false; float s = 0, p = 0;
        long n = 0;
        while (cursor.MoveNext()) { label(ref l); score(ref s); probability(ref p); n++; }
        return n;
    }

    /// <summary>Reads the vector column <paramref name="column"/> of every row; returns the row count.</summary>
    public static long ReadVectors(IDataView scored, string column)
    {
        var col = scored.Schema[column];
        using var cursor = scored.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        var value = default(VBuffer<float>);
        long n = 0;
        while (cursor.MoveNext()) { getter(ref value); n++; }
        return n;
    }
}
