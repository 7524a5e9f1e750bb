using System.Diagnostics;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// A quick batch-throughput reading of a model while it is being compressed, for the report: the same rows through
/// every stage's model, so that a stage that makes the model slower can say so. Not a benchmark (the benchmark app
/// measures side by side with warm-ups and repeats): a few passes, each stopped after a time budget.
/// </summary>
internal static class Throughput
{
    private const int MaxRows = 2000;
    private static readonly TimeSpan PassBudget = TimeSpan.FromSeconds(0.4);

    /// <summary>
    /// Rows per second of <paramref name="score"/> (the model's batch <c>Transform</c>, as the report scores it) over
    /// the first rows of <paramref name="data"/>, best of three passes; null when the model writes no float column
    /// to read, or when scoring fails (a reading for the report never fails the stage: the metric measures it).
    /// </summary>
    public static double? Measure(MLContext ml, Func<IDataView, IDataView> score, IDataView data)
    {
        try
        {
            var sample = ml.Data.Cache(ml.Data.TakeRows(data, MaxRows));
            Pass(score, sample, TimeSpan.FromSeconds(0.2), out _); // warm-up: the cache, the model's first call
            double? best = null;
            for (int i = 0; i < 3; i++)
            {
                var rate = Pass(score, sample, PassBudget, out bool none);
                if (none) return null;
                if (rate is double r && (best == null || r > best)) best = r;
            }
            return best;
        }
        catch (Exception e) when (e is not (OutOfMemoryException or CompressionException))
        {
            return null;
        }
    }

    /// <summary>One pass reading the model's output (Score, or its last float column) until the rows or the budget run out.</summary>
    private static double? Pass(Func<IDataView, IDataView> score, IDataView sample, TimeSpan budget, out bool noColumn)
    {
        var scored = score(sample);
        DataViewSchema.Column? found = scored.Schema.GetColumnOrNull("Score");
        if (found == null || !IsFloat(found.Value.Type))
            found = scored.Schema.Where(c => !c.IsHidden && IsFloat(c.Type) && sample.Schema.GetColumnOrNull(c.Name) == null).Select(c => (DataViewSchema.Column?)c).LastOrDefault();
        noColumn = found == null;
        if (found is not { } column) return null;
        var watch = Stopwatch.StartNew();
        long rows = 0;
        using var cursor = scored.GetRowCursor(new[] { column });
        if (column.Type is VectorDataViewType)
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> value = default;
            while (watch.Elapsed < budget && cursor.MoveNext()) { getter(ref value); rows++; }
        }
        else
        {
            var getter = cursor.GetGetter<float>(column);
            float value = 0;
            while (watch.Elapsed < budget && cursor.MoveNext()) { getter(ref value); rows++; }
        }
        double seconds = watch.Elapsed.TotalSeconds;
        return rows > 0 && seconds > 0 ? rows / seconds : null;
    }

    private static bool IsFloat(DataViewType type)
        => type == NumberDataViewType.Single || type is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Single;
}
