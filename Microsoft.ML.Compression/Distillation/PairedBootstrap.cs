namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// The noise of "candidate B beats candidate A on these validation rows": the standard error of the difference of
/// their task metric (AUC, accuracy, RMSE), from a paired bootstrap, i.e. the same rows resampled with replacement
/// for both. Paired because both students err on many of the same rows: their metrics move together, and what
/// matters is how much their difference moves. With folds, each fold is resampled on its own and the differences
/// averaged, as the candidates' metrics are averaged over the folds.
/// </summary>
internal static class PairedBootstrap
{
    /// <summary>Resamples per estimate: enough for a standard error to about 5 % of itself.</summary>
    public const int Resamples = 200;

    /// <summary>
    /// The standard error of metric(b) − metric(a), one pair of <see cref="ValidationRows"/> per fold (the same rows
    /// in the same order for both), or null when it cannot be measured (rows that differ in count, a resample
    /// without both classes every time).
    /// </summary>
    public static double? StandardError(IReadOnlyList<(ValidationRows A, ValidationRows B)> folds, int seed)
    {
        if (folds.Count == 0 || folds.Any(f => f.A.Count != f.B.Count || f.A.Task != f.B.Task || f.A.Count < 2)) return null;
        var random = new Random(seed);
        var differences = new List<double>(Resamples);
        var orders = folds.Select(f => f.A.Task == ModelTask.BinaryClassification ? (ScoreOrder(f.A), ScoreOrder(f.B)) : (null, null)).ToList();
        for (int r = 0; r < Resamples; r++)
        {
            double sum = 0;
            bool measured = true;
            for (int k = 0; k < folds.Count && measured; k++)
            {
                var (a, b) = folds[k];
                var counts = new int[a.Count];
                for (int i = 0; i < counts.Length; i++) counts[random.Next(counts.Length)]++;
                double? ma = Metric(a, counts, orders[k].Item1), mb = Metric(b, counts, orders[k].Item2);
                if (ma is double x && mb is double y) sum += y - x;
                else measured = false;
            }
            if (measured) differences.Add(sum / folds.Count);
        }
        if (differences.Count < Resamples / 2) return null;
        double mean = differences.Average();
        return Math.Sqrt(differences.Sum(d => (d - mean) * (d - mean)) / (differences.Count - 1));
    }

    /// <summary>The task metric of <paramref name="rows"/> with each row counted <paramref name="counts"/> times; null for an AUC without both classes.</summary>
    internal static double? Metric(ValidationRows rows, int[] counts, int[]? scoreOrder = null)
    {
        switch (rows.Task)
        {
            case ModelTask.BinaryClassification:
                return Auc(rows, counts, scoreOrder ?? ScoreOrder(rows));
            case ModelTask.MulticlassClassification:
            {
                double right = 0, all = 0;
                for (int i = 0; i < counts.Length; i++) { right += counts[i] * rows.Predictions[i]; all += counts[i]; }
                return all > 0 ? right / all : null;
            }
            default:
            {
                double squares = 0, all = 0;
                for (int i = 0; i < counts.Length; i++)
                {
                    double e = rows.Predictions[i] - rows.Labels[i];
                    squares += counts[i] * e * e; all += counts[i];
                }
                return all > 0 ? Math.Sqrt(squares / all) : null;
            }
        }
    }

    private static int[] ScoreOrder(ValidationRows rows)
    {
        var order = Enumerable.Range(0, rows.Count).ToArray();
        Array.Sort(rows.Predictions.ToArray(), order);
        return order;
    }

    /// <summary>
    /// The area under the ROC curve with counted rows: the chance that a positive row scores above a negative one,
    /// ties counting half (ML.NET's AUC), in one pass over the rows in score order.
    /// </summary>
    private static double? Auc(ValidationRows rows, int[] counts, int[] order)
    {
        double negativesBelow = 0, pairs = 0, positives = 0;
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            double groupPositives = 0, groupNegatives = 0;
            double score = rows.Predictions[order[start]];
            for (; end < order.Length && rows.Predictions[order[end]] == score; end++)
            {
                int i = order[end];
                if (rows.Labels[i] > 0) groupPositives += counts[i]; else groupNegatives += counts[i];
            }
            pairs += groupPositives * (negativesBelow + 0.5 * groupNegatives);
            negativesBelow += groupNegatives;
            positives += groupPositives;
            start = end;
        }
        return positives > 0 && negativesBelow > 0 ? pairs / (positives * negativesBelow) : null;
    }
}
