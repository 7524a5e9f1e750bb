using System.Text;

namespace Microsoft.ML.Compression.Interactive;

/// <summary>
/// A <see cref="CompressionReport"/> as HTML for notebooks: the report's own table and stage notes
/// (<see cref="CompressionReport.ToHtml"/>), then the plots that say more than the table: the saved size after each
/// stage, and, for each stage that measured them, the per-tensor SQNR of its quantized tensors (worst first: where
/// precision was lost).
/// </summary>
internal static class ReportHtml
{
    /// <summary>At most this many tensors in an SQNR plot: the worst ones, which are what a reader acts on.</summary>
    internal const int MaxTensors = 20;

    public static string Format(CompressionReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder(report.ToHtml());
        if (report.Stages.Count > 1)
        {
            sb.Append("<p>Saved model size after each stage (KB)</p>");
            sb.Append(SvgPlot.HorizontalBars(report.Stages.Select(s => (s.Stage, s.ZipBytes / 1024.0)).ToList(), "saved zip (KB)", SvgPlot.Palette[0]));
        }
        foreach (var stage in report.Stages.Where(s => s.TensorErrors is { Count: > 0 }))
        {
            var worst = stage.TensorErrors!.OrderBy(e => e.SqnrDb).Take(MaxTensors).Select(e => (e.Name, e.SqnrDb)).ToList();
            sb.Append("<p>").Append(SvgPlot.E(stage.Stage)).Append(": SQNR of the ").Append(worst.Count).Append(" worst of ")
              .Append(stage.TensorErrors!.Count).Append(" tensors (dB, higher is better)</p>");
            sb.Append(SvgPlot.HorizontalBars(worst, "SQNR (dB)", SvgPlot.Palette[1]));
        }
        return sb.ToString();
    }
}
