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
    private static readonly TimeSpan WarmUpBudget = TimeSpan.FromSeconds(0.3);

    /// <summary>
    /// The least time a timed pass reads (the sample again and again): a small tree model reads 2,000 rows in a few
    /// milliseconds, where the cursor's setup and the timer's noise weigh as much as the rows.
    /// </summary>
    internal static readonly TimeSpan DefaultMinPass = TimeSpan.FromSeconds(0.01);

    // Declared after its default: static fields are initialized in the order they are written.
    private static TimeSpan MinPass = DefaultMinPass;

    /// <summary>
    /// The least time all models are warmed up together the first time in the process: .NET compiles a hot method
    /// again, optimized, only after it has run for a while (tiered compilation, about 0.1 s), so a model timed right
    /// after its first call is read at the speed of unoptimized code (measured: a 14-tree LightGBM model read 47,000
    /// rows/s cold and 380,000 warm). The scoring code is shared by the models of later readings, which then warm up
    /// with one pass each (a Fit costs about 0.1 s more only once).
    /// </summary>
    internal static readonly TimeSpan DefaultMinWarmUp = TimeSpan.FromSeconds(0.1);

    private static TimeSpan MinWarmUp = DefaultMinWarmUp;

    /// <summary>
    /// The two minimums above, settable for this library's own test suite: it reads no speeds that need them (speed
    /// targets live in the benchmark app) and runs hundreds of Fits, each of which would time several models for
    /// tens of milliseconds more.
    /// </summary>
    internal static void UseMinimums(TimeSpan pass, TimeSpan warmUp) => (MinPass, MinWarmUp) = (pass, warmUp);

    private static int _warmedUp;

    /// <summary>
    /// Rows per second of each of <paramref name="models"/> (each the model's batch <c>Transform</c>, as the report
    /// scores it) over the same first rows of <paramref name="data"/>: one warm-up pass each, then three rounds in
    /// which every model runs one timed pass in turn; the best pass of each. Null for a model that writes no float
    /// column to read. A pass reads the sample again until <see cref="MinPass"/> has passed, after a warm-up of at least
    /// <see cref="MinWarmUp"/> the first time, so that a model of a few trees is read at its per-row speed, not at the cost of one
    /// cursor or of code not yet optimized.
    /// </summary>
    public static IReadOnlyList<double?> SideBySide(MLContext ml, IReadOnlyList<Func<IDataView, IDataView>> models, IDataView data)
    {
        var sample = ml.Data.Cache(ml.Data.TakeRows(data, MaxRows));
        // Fill the cache before any timing: else the rows a short warm-up did not reach are parsed from the source
        // inside the timed passes of the first model.
        using (var fill = sample.GetRowCursor(sample.Schema))
            while (fill.MoveNext()) { }
        var best = new double?[models.Count];
        var none = new bool[models.Count];
        var warmUp = Stopwatch.StartNew();
        for (int m = 0; m < models.Count; m++)
            Pass(models[m], sample, TimeSpan.Zero, WarmUpBudget, out none[m]); // the model's first call (JIT, ONNX Runtime sessions)
        bool first = Interlocked.Exchange(ref _warmedUp, 1) == 0;
        while (first && warmUp.Elapsed < MinWarmUp && none.Contains(false))
            for (int m = 0; m < models.Count; m++)
                if (!none[m]) Pass(models[m], sample, TimeSpan.Zero, WarmUpBudget, out _);
        for (int round = 0; round < 3; round++)
            for (int m = 0; m < models.Count; m++)
            {
                if (none[m]) continue;
                if (Pass(models[m], sample, MinPass, PassBudget, out _) is double r && (best[m] == null || r > best[m])) best[m] = r;
            }
        return best;
    }

    /// <summary>
    /// One pass reading the model's output (Score, or its last float column): the sample read through (each time a
    /// new Transform and cursor, as a caller scoring a batch pays) until <paramref name="minimum"/> has passed, stopped
    /// early when <paramref name="budget"/> runs out.
    /// </summary>
    private static double? Pass(Func<IDataView, IDataView> score, IDataView sample, TimeSpan minimum, TimeSpan budget, out bool noColumn)
    {
        var watch = Stopwatch.StartNew();
        long rows = 0;
        noColumn = false;
        do
        {
            var scored = score(sample);
            DataViewSchema.Column? found = scored.Schema.GetColumnOrNull("Score");
            if (found == null || !IsFloat(found.Value.Type))
                found = scored.Schema.Where(c => !c.IsHidden && IsFloat(c.Type) && sample.Schema.GetColumnOrNull(c.Name) == null).Select(c => (DataViewSchema.Column?)c).LastOrDefault();
            noColumn = found == null;
            if (found is not { } column) return null;
            long before = rows;
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
            if (rows == before) break; // no rows: nothing to read again
        } while (watch.Elapsed < minimum && watch.Elapsed < budget);
        double seconds = watch.Elapsed.TotalSeconds;
        return rows > 0 && seconds > 0 ? rows / seconds : null;
    }

    private static bool IsFloat(DataViewType type)
        => type == NumberDataViewType.Single || type is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Single;
}
