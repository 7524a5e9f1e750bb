using ScottPlot;

namespace Microsoft.ML.Compression.Plotting;

public static partial class CompressionPlots
{
    /// <summary>
    /// A pruning sensitivity sweep: the metric (y) against the sparsity of one layer (x, percent), one line per layer,
    /// each starting at the unpruned model (0 %), and the unpruned metric as a dashed line. With a
    /// <paramref name="tolerance"/>, a dotted line marks the metric the tolerance allows, so the largest sparsity
    /// each layer can take is where its line crosses it (what <see cref="LayerSensitivity.LargestSparsityWithin"/> picks).
    /// </summary>
    /// <param name="layers">The sweep, as returned by <c>ml.Compression().PruningSensitivity(...)</c>.</param>
    /// <param name="metricName">The y-axis label, e.g. "accuracy".</param>
    /// <param name="tolerance">Allowed loss against the unpruned metric; null draws no tolerance line.</param>
    /// <param name="higherIsBetter">False for error metrics (the tolerance line then sits above the baseline).</param>
    /// <param name="title">The plot's title (default: "Pruning sensitivity per layer").</param>
    /// <example>
    /// <code>
    /// var sweep = ml.Compression().PruningSensitivity("mlp.onnx", calibration, m => Accuracy(m, test), 0.5, 0.8, 0.9, 0.95);
    /// var plot = CompressionPlots.PruningSensitivity(sweep, "test accuracy", tolerance: 0.005);
    /// CompressionPlots.Save(plot, "sensitivity");
    /// </code>
    /// </example>
    public static Plot PruningSensitivity(IReadOnlyList<LayerSensitivity> layers, string metricName = "metric", double? tolerance = null,
        bool higherIsBetter = true, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new ArgumentException("The sweep has no layers to plot.", nameof(layers));
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            // The unpruned model is every layer's point at 0 %, so the lines start together.
            var points = layer.Metric.Where(kv => kv.Key > 0).OrderBy(kv => kv.Key).Prepend(new KeyValuePair<double, double>(0, layer.Baseline)).ToArray();
            var line = plot.Add.Scatter(points.Select(p => 100 * p.Key).ToArray(), points.Select(p => p.Value).ToArray());
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LegendText = $"{layer.Layer} ({layer.Weights:N0} weights)";
        }
        double baseline = layers[0].Baseline;
        var unpruned = plot.Add.HorizontalLine(baseline);
        unpruned.LinePattern = LinePattern.Dashed;
        unpruned.Color = Colors.Gray;
        unpruned.LegendText = $"unpruned ({baseline:G4})";
        if (tolerance is double t)
        {
            var allowed = plot.Add.HorizontalLine(higherIsBetter ? baseline - t : baseline + t);
            allowed.LinePattern = LinePattern.Dotted;
            allowed.Color = Colors.Black;
            allowed.LegendText = $"tolerance ({t:G3})";
        }
        plot.Title(title ?? "Pruning sensitivity per layer");
        plot.XLabel("sparsity of the layer, the others unpruned (%)");
        plot.YLabel($"{metricName} ({(higherIsBetter ? "higher" : "lower")} is better)");
        plot.ShowLegend(higherIsBetter ? Alignment.LowerLeft : Alignment.UpperLeft);
        return plot;
    }
}
