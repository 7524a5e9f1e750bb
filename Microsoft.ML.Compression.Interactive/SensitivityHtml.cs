using System.Text;

namespace Microsoft.ML.Compression.Interactive;

/// <summary>
/// A pruning sensitivity sweep (<c>ml.Compression().PruningSensitivity(...)</c>) as HTML: the metric against each
/// layer's sparsity, one line per layer starting together at the unpruned model, with the unpruned metric dashed
/// (which layer breaks first is what the sweep is for, and what a table of numbers hides), then the table.
/// </summary>
internal static class SensitivityHtml
{
    /// <summary>The plot and the table, in one &lt;div class="ml-compression-sensitivity"&gt;.</summary>
    public static string Format(IReadOnlyList<LayerSensitivity> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var sb = new StringBuilder("<div class=\"ml-compression-sensitivity\">");
        sb.Append("<p><strong>Pruning sensitivity</strong>: ").Append(layers.Count).Append(" layer(s), each pruned alone</p>");
        var sparsities = layers.SelectMany(l => l.Metric.Keys).Distinct().Order().ToList();
        if (layers.Count > 0 && sparsities.Count > 0)
        {
            var values = layers.SelectMany(l => l.Metric.Values.Append(l.Baseline)).Where(double.IsFinite).ToList();
            if (values.Count > 0)
            {
                var plot = new SvgPlot().XAxis(0, 100 * sparsities.Max(), "sparsity of the layer (%)", "0")
                    .YAxis(values.Min(), values.Max(), "metric");
                double baseline = layers[0].Baseline;
                plot.Line(new[] { (0.0, baseline), (100 * sparsities.Max(), baseline) }, "#555", "unpruned", dashed: true, width: 1);
                for (int i = 0; i < layers.Count; i++)
                {
                    var layer = layers[i];
                    string color = SvgPlot.Palette[i % SvgPlot.Palette.Length];
                    var points = layer.Metric.Where(kv => kv.Key > 0 && double.IsFinite(kv.Value)).OrderBy(kv => kv.Key)
                        .Select(kv => (100 * kv.Key, kv.Value)).Prepend((0.0, layer.Baseline)).ToList();
                    plot.Line(points, color, layer.Layer);
                    foreach (var (x, y) in points.Skip(1))
                        plot.Point(x, y, color, 3, $"{layer.Layer} at {x:0}%: {y:0.####}");
                }
                sb.Append(plot.ToSvg());
            }
        }
        sb.Append("<table><thead><tr><th>layer</th><th>weights</th><th>unpruned</th>");
        foreach (var s in sparsities) sb.Append("<th>").Append(SvgPlot.F(100 * s, "0")).Append(" %</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var layer in layers)
        {
            sb.Append("<tr><td>").Append(SvgPlot.E(layer.Layer)).Append("</td><td style=\"text-align:right\">").Append(layer.Weights)
              .Append("</td><td style=\"text-align:right\">").Append(SvgPlot.F(layer.Baseline, "0.0000")).Append("</td>");
            foreach (var s in sparsities)
                sb.Append("<td style=\"text-align:right\">").Append(layer.Metric.TryGetValue(s, out var m) ? SvgPlot.F(m, "0.0000") : "-").Append("</td>");
            sb.Append("</tr>");
        }
        return sb.Append("</tbody></table></div>").ToString();
    }
}
