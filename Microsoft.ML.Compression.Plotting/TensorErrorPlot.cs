using ScottPlot;

namespace Microsoft.ML.Compression.Plotting;

public static partial class CompressionPlots
{
    /// <summary>
    /// Per-tensor quantization error of a Quantize stage: one horizontal bar per tensor (the input of each quantized
    /// operator, then the graph outputs, in the report's order, first at the top) with its SQNR in dB, colored red
    /// under 20 dB (a visible loss), orange under 40 dB, green above. Exact tensors
    /// (<see cref="TensorError.MaxSqnrDb"/>) are drawn just past the largest finite value and labelled "exact", so
    /// that they do not flatten the others.
    /// </summary>
    /// <param name="errors">The stage's <see cref="StageReport.TensorErrors"/>.</param>
    /// <param name="title">The plot's title (default: "Quantization error per tensor (SQNR)").</param>
    /// <example>
    /// <code>
    /// var quantized = ml.Compression().Quantize("mlp.onnx", new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(calibration);
    /// var errors = quantized.Report.Final.TensorErrors!;
    /// CompressionPlots.Save(CompressionPlots.TensorErrors(errors), "sqnr", height: CompressionPlots.TensorErrorsHeight(errors.Count));
    /// </code>
    /// </example>
    public static Plot TensorErrors(IReadOnlyList<TensorError> errors, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0) throw new ArgumentException("No tensor errors to plot (only Quantize stages of networks measure them).", nameof(errors));
        var finite = errors.Where(e => e.SqnrDb < TensorError.MaxSqnrDb).Select(e => e.SqnrDb).DefaultIfEmpty(40).Max();
        double exactAt = Math.Max(finite, 40) * 1.15;
        var plot = new Plot();
        var bars = new List<Bar>();
        for (int i = 0; i < errors.Count; i++)
        {
            var e = errors[i];
            bool exact = e.SqnrDb >= TensorError.MaxSqnrDb;
            double value = exact ? exactAt : e.SqnrDb;
            double position = errors.Count - 1 - i; // first tensor at the top
            bars.Add(new Bar
            {
                Position = position,
                Value = value,
                FillColor = exact || e.SqnrDb >= 40 ? Colors.SeaGreen : e.SqnrDb >= 20 ? Colors.Orange : Colors.Crimson,
                Orientation = Orientation.Horizontal,
            });
            var label = plot.Add.Text(exact ? "exact" : $"{e.SqnrDb:F1} dB", value, position);
            label.LabelFontSize = 11;
            label.LabelAlignment = Alignment.MiddleLeft;
            label.LabelOffsetX = 4;
        }
        plot.Add.Bars(bars);
        // The two levels of the color code, explained in the legend (labels on the lines would cover the title).
        foreach (var (db, color, what) in new[] { (20.0, Colors.Crimson, "20 dB: a visible loss below"), (40.0, Colors.SeaGreen, "40 dB: a close match above") })
        {
            var line = plot.Add.VerticalLine(db);
            line.LinePattern = LinePattern.Dotted;
            line.Color = color;
            line.LegendText = what;
        }
        plot.ShowLegend(Edge.Bottom); // below the axis, clear of the bars
        plot.Axes.Left.SetTicks(Enumerable.Range(0, errors.Count).Select(i => (double)(errors.Count - 1 - i)).ToArray(), errors.Select(e => e.Name).ToArray());
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsX(0, exactAt * 1.18); // room for the value labels
        plot.Title(title ?? "Quantization error per tensor (SQNR)");
        plot.XLabel("SQNR, float vs quantized, on the calibration rows (dB, higher is better)");
        return plot;
    }

    /// <summary>A height in pixels that gives each of <paramref name="tensorCount"/> bars room for its name.</summary>
    /// <example><code>int h = CompressionPlots.TensorErrorsHeight(errors.Count);</code></example>
    public static int TensorErrorsHeight(int tensorCount) => Math.Max(340, 170 + 26 * tensorCount);
}
