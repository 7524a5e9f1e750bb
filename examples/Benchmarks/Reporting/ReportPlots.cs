using Microsoft.ML.Compression;
using ScottPlot;

namespace Benchmarks.Reporting;

/// <summary>One model on an accuracy-vs-size plot.</summary>
public sealed record PlotPoint(string Label, double SizeBytes, double Metric);

/// <summary>
/// Plots of compression results with ScottPlot 5 (drawn by SkiaSharp; on Linux its self-contained native library
/// comes from the SkiaSharp.NativeAssets.Linux.NoDependencies package that ScottPlot brings, so no system
/// libraries are needed besides a font). Each plot is written as PNG and SVG.
/// </summary>
/// <example>
/// <code>
/// ReportPlots.ParetoScatter(result.Points.Select(p => new PlotPoint(p.Name, p.SizeBytes, p.Metric!.Value)),
///     "AUC", higherIsBetter: true, "spam: compression sweep", "out/sweep-pareto");
/// ReportPlots.StageBars(compressed.Report, "churn: per stage", "out/churn-stages");
/// </code>
/// </example>
public static class ReportPlots
{
    private const int Width = 900, Height = 560;

    /// <summary>
    /// Metric against saved size (KB), one marker per model with its label, and the Pareto front (the points no
    /// other point beats on both) joined by a line. Writes <paramref name="pathWithoutExtension"/>.png and .svg.
    /// </summary>
    public static (string Png, string Svg) ParetoScatter(IEnumerable<PlotPoint> points, string metricName, bool higherIsBetter, string title, string pathWithoutExtension)
    {
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
        return Save(plot, pathWithoutExtension);
    }

    /// <summary>
    /// One bar per row of the report (the input model, then each stage): the saved zip size in KB, with the task
    /// metric (evaluation data when measured, else fit data) written above each bar.
    /// </summary>
    public static (string Png, string Svg) StageBars(CompressionReport report, string title, string pathWithoutExtension)
    {
        var plot = new Plot();
        var stages = report.Stages;
        double max = stages.Max(s => s.ZipBytes / 1024.0);
        var bars = stages.Select((s, i) => new Bar
        {
            Position = i,
            Value = s.ZipBytes / 1024.0,
            FillColor = i == 0 ? Colors.Gray : Colors.C0,
        }).ToArray();
        plot.Add.Bars(bars);
        for (int i = 0; i < stages.Count; i++)
        {
            var s = stages[i];
            double? m = s.EvaluationMetric ?? s.Metric;
            string label = $"{s.ZipBytes / 1024.0:F1} KB" + (m is double v ? $"\n{(string.IsNullOrEmpty(report.MetricName) ? "metric" : report.MetricName)} {v:F4}" : "");
            var text = plot.Add.Text(label, i, s.ZipBytes / 1024.0 + 0.02 * max);
            text.LabelFontSize = 12;
            text.LabelAlignment = Alignment.LowerCenter;
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, stages.Count).Select(i => (double)i).ToArray(), stages.Select(s => s.Stage).ToArray());
        plot.Axes.Margins(bottom: 0, top: 0.25);
        plot.Title(title);
        plot.YLabel("saved model size (KB)");
        return Save(plot, pathWithoutExtension);
    }

    /// <summary>The points no other point beats on both size and metric, smallest first (same rule as <see cref="SweepResult.ParetoFront"/>).</summary>
    public static List<PlotPoint> ParetoFront(IReadOnlyList<PlotPoint> points, bool higherIsBetter)
    {
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

    private static (string, string) Save(Plot plot, string pathWithoutExtension)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(pathWithoutExtension));
        if (dir != null) Directory.CreateDirectory(dir);
        string png = pathWithoutExtension + ".png", svg = pathWithoutExtension + ".svg";
        plot.SavePng(png, Width, Height);
        plot.SaveSvg(svg, Width, Height);
        return (png, svg);
    }
}
