using System.Globalization;
using System.Text;

namespace Microsoft.ML.Compression.Interactive;

/// <summary>
/// A <see cref="SweepResult"/> as HTML: a metric-vs-size scatter with the Pareto front joined by a line (what the
/// sweep is for, and what a table of a dozen points hides), then the table of every point. The plot is inline SVG
/// drawn here, so that the package's notebook extension needs no plotting library (the optional
/// Microsoft.ML.Compression.Plotting assembly draws the same chart with ScottPlot, as PNG/SVG files).
/// </summary>
internal static class SweepHtml
{
    /// <summary>The plot and the table of <paramref name="sweep"/>, in one &lt;div class="ml-compression-sweep"&gt;.</summary>
    public static string Format(SweepResult sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var sb = new StringBuilder("<div class=\"ml-compression-sweep\">");
        sb.Append("<p><strong>Compression sweep</strong>: ").Append(sweep.Points.Count).Append(" models, ")
          .Append(sweep.ParetoFront.Count).Append(" on the Pareto front (size vs ").Append(E(sweep.MetricName)).Append(")</p>");
        var measured = sweep.Points.Where(p => p.Metric != null).ToList();
        if (measured.Count > 0) AppendPlot(sb, sweep, measured);
        AppendTable(sb, sweep);
        return sb.Append("</div>").ToString();
    }

    private static void AppendPlot(StringBuilder sb, SweepResult sweep, List<SweepPoint> measured)
    {
        // Size in KB on x from 0 (compression ratios read off directly), the metric on y over its own range.
        var plot = new SvgPlot()
            .XAxis(0, measured.Max(p => p.SizeBytes) / 1024.0 * 1.05, "saved model size (KB)")
            .YAxis(measured.Min(p => p.Metric!.Value), measured.Max(p => p.Metric!.Value),
                sweep.MetricName + (sweep.HigherIsBetter ? " (higher is better)" : " (lower is better)"));
        var front = sweep.ParetoFront;
        plot.Line(front.Select(p => (p.SizeBytes / 1024.0, p.Metric!.Value)), SvgPlot.Palette[0]);
        foreach (var p in measured)
        {
            bool onFront = front.Contains(p);
            plot.Point(p.SizeBytes / 1024.0, p.Metric!.Value, onFront ? SvgPlot.Palette[0] : "#999", onFront ? 5 : 4, p.ToString(), p.Name, onFront ? "#000" : "#777");
        }
        sb.Append(plot.ToSvg());
    }

    private static void AppendTable(StringBuilder sb, SweepResult sweep)
    {
        sb.Append("<table><thead><tr><th>Pareto</th><th>model</th><th>zip bytes</th><th>")
          .Append(E(sweep.MetricName)).Append("</th></tr></thead><tbody>");
        foreach (var p in sweep.Points)
        {
            sb.Append("<tr><td>").Append(sweep.ParetoFront.Contains(p) ? "*" : "").Append("</td><td>").Append(E(p.Name))
              .Append("</td><td style=\"text-align:right\">").Append(p.SizeBytes.ToString("N0", CultureInfo.InvariantCulture))
              .Append("</td><td style=\"text-align:right\">").Append(p.Metric is double m ? F(m, "0.0000") : "-").Append("</td></tr>");
        }
        sb.Append("</tbody></table>");
    }

    private static string E(string s) => SvgPlot.E(s);
    private static string F(double v, string format = "0.#") => SvgPlot.F(v, format);
}
