using ScottPlot;

namespace Microsoft.ML.Compression.Plotting;

public static partial class CompressionPlots
{
    /// <summary>
    /// One bar per row of the report (the input model, then each stage): the saved zip size in KB, with the task
    /// metric (evaluation data when measured, else fit data) written above each bar.
    /// </summary>
    /// <example><code>CompressionPlots.Save(CompressionPlots.StageBars(compressed.Report, "churn: per stage"), "out/churn-stages");</code></example>
    public static Plot StageBars(CompressionReport report, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plot = new Plot();
        var stages = report.Stages;
        if (stages.Count == 0) throw new ArgumentException("The report has no rows.", nameof(report));
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
        plot.Title(title ?? "Saved size per stage");
        plot.YLabel("saved model size (KB)");
        return plot;
    }
}
