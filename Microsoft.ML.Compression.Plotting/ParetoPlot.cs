using ScottPlot;

namespace Microsoft.ML.Compression.Plotting;

/// <summary>One model on a metric-vs-size plot.</summary>
/// <example><code>var p = new PlotPoint("INT8", sizeBytes: 244_619, metric: 0.881);</code></example>
public sealed record PlotPoint(string Label, double SizeBytes, double Metric);

public static partial class CompressionPlots
{
    /// <summary>
    /// Metric against saved size (KB), one labelled marker per model, and the Pareto front (the points no other
    /// point beats on both) joined by a line.
    /// </summary>
    /// <example>
    /// <code>
    /// var plot = CompressionPlots.ParetoScatter(new[] { new PlotPoint("FP32", 997_001, 0.882), new PlotPoint("INT8", 244_619, 0.881) },
    ///     "accuracy", higherIsBetter: true, "fashion_mlp: accuracy vs size");
    /// </code>
    /// </example>
    public static Plot ParetoScatter(IEnumerable<PlotPoint> points, string metricName, bool higherIsBetter, string title)
    {
        ArgumentNullException.ThrowIfNull(points);
        var all = points.ToList();
        if (all.Count == 0) throw new ArgumentException("No points to plot.", nameof(points));
        var front = ParetoFront(all, higherIsBetter);
        var plot = new Plot();

        var others = all.Except(front).ToList();
        if (others.Count > 0)
        {
            var dots = plot.Add.ScatterPoints(others.Select(p => p.SizeBytes / 1024).ToArray(), others.Select(p => p.Metric).ToArray());
            dots.MarkerSize = 9;
            dots.Color = Colors.Gray;
            dots.LegendText = "dominated";
        }
        var line = plot.Add.Scatter(front.Select(p => p.SizeBytes / 1024).ToArray(), front.Select(p => p.Metric).ToArray());
        line.MarkerSize = 10;
        line.LineWidth = 2;
        line.Color = Colors.C0;
        line.LegendText = "Pareto front";
        foreach (var p in all)
        {
            var text = plot.Add.Text(p.Label, p.SizeBytes / 1024, p.Metric);
            text.LabelFontSize = 11;
            text.LabelOffsetX = 6;
            text.LabelOffsetY = -6;
            text.LabelFontColor = front.Contains(p) ? Colors.Black : Colors.DimGray;
        }
        plot.Title(title);
        plot.XLabel("saved model size (KB)");
        plot.YLabel($"{metricName} ({(higherIsBetter ? "higher" : "lower")} is better)");
        plot.ShowLegend(Alignment.LowerRight);
        // Room for the labels right of the largest point.
        plot.Axes.AutoScale();
        var limits = plot.Axes.GetLimits();
        plot.Axes.SetLimitsX(Math.Max(0, limits.Left - 0.02 * limits.HorizontalSpan), limits.Right + 0.25 * limits.HorizontalSpan);
        return plot;
    }

    /// <summary>The points of a <see cref="SweepResult"/> (those with a metric) on a <see cref="ParetoScatter(IEnumerable{PlotPoint}, string, bool, string)"/>.</summary>
    /// <example><code>var plot = CompressionPlots.ParetoScatter(new CompressionSweep(ml, teacher).Run(train, test), "spam sweep");</code></example>
    public static Plot ParetoScatter(SweepResult sweep, string title)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        return ParetoScatter(sweep.Points.Where(p => p.Metric != null).Select(p => new PlotPoint(p.Name, p.SizeBytes, p.Metric!.Value)),
            sweep.MetricName, sweep.HigherIsBetter, title);
    }

    /// <summary>The points no other point beats on both size and metric, smallest first (same rule as <see cref="SweepResult.ParetoFront"/>).</summary>
    /// <example><code>var front = CompressionPlots.ParetoFront(points, higherIsBetter: true);</code></example>
    public static List<PlotPoint> ParetoFront(IReadOnlyList<PlotPoint> points, bool higherIsBetter)
    {
        ArgumentNullException.ThrowIfNull(points);
        double Better(double m) => higherIsBetter ? m : -m;
        bool Dominates(int qi, int pi)
        {
            PlotPoint q = points[qi], p = points[pi];
            if (q.SizeBytes > p.SizeBytes || Better(q.Metric) < Better(p.Metric)) return false;
            return q.SizeBytes < p.SizeBytes || Better(q.Metric) > Better(p.Metric) || qi < pi;
        }
        return Enumerable.Range(0, points.Count)
            .Where(pi => !Enumerable.Range(0, points.Count).Any(qi => qi != pi && Dominates(qi, pi)))
            .Select(pi => points[pi]).OrderBy(p => p.SizeBytes).ToList();
    }
}
