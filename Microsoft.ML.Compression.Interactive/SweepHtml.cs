using System.Globalization;
using System.Net;
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
    private const int Width = 640, Height = 360, Left = 70, Right = 170, Top = 20, Bottom = 50;

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
        double xMax = measured.Max(p => p.SizeBytes) / 1024.0 * 1.05;
        double yMin = measured.Min(p => p.Metric!.Value), yMax = measured.Max(p => p.Metric!.Value);
        double pad = Math.Max((yMax - yMin) * 0.08, 1e-4);
        yMin -= pad;
        yMax += pad;
        double X(SweepPoint p) => Left + p.SizeBytes / 1024.0 / Math.Max(xMax, 1e-9) * (Width - Left - Right);
        double Y(double m) => Top + (yMax - m) / (yMax - yMin) * (Height - Top - Bottom);

        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"11\">");
        sb.Append($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\" fill=\"none\" stroke=\"#888\"/>");
        for (int i = 0; i <= 4; i++)
        {
            double xv = xMax * i / 4, yv = yMin + (yMax - yMin) * i / 4;
            double xp = Left + (Width - Left - Right) * i / 4.0, yp = Y(yv);
            sb.Append($"<text x=\"{F(xp)}\" y=\"{Height - Bottom + 15}\" text-anchor=\"middle\">{F(xv, "0.#")}</text>");
            sb.Append($"<text x=\"{Left - 5}\" y=\"{F(yp + 4)}\" text-anchor=\"end\">{F(yv, "0.####")}</text>");
        }
        sb.Append($"<text x=\"{(Width - Right + Left) / 2}\" y=\"{Height - 12}\" text-anchor=\"middle\">saved model size (KB)</text>");
        sb.Append($"<text transform=\"translate(14,{(Height - Bottom + Top) / 2}) rotate(-90)\" text-anchor=\"middle\">")
          .Append(E(sweep.MetricName)).Append(sweep.HigherIsBetter ? " (higher is better)" : " (lower is better)").Append("</text>");

        var front = sweep.ParetoFront;
        if (front.Count > 1)
            sb.Append("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"")
              .Append(string.Join(" ", front.Select(p => $"{F(X(p))},{F(Y(p.Metric!.Value))}"))).Append("\"/>");
        foreach (var p in measured)
        {
            bool onFront = front.Contains(p);
            double x = X(p), y = Y(p.Metric!.Value);
            sb.Append($"<circle cx=\"{F(x)}\" cy=\"{F(y)}\" r=\"{(onFront ? 5 : 4)}\" fill=\"{(onFront ? "#1f77b4" : "#999")}\">")
              .Append("<title>").Append(E(p.ToString())).Append("</title></circle>");
            sb.Append($"<text x=\"{F(x + 7)}\" y=\"{F(y - 5)}\" fill=\"{(onFront ? "#000" : "#777")}\">").Append(E(p.Name)).Append("</text>");
        }
        sb.Append("</svg>");
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

    private static string E(string s) => WebUtility.HtmlEncode(s);
    private static string F(double v, string format = "0.#") => v.ToString(format, CultureInfo.InvariantCulture);
}
