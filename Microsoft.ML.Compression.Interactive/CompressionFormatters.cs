using Microsoft.DotNet.Interactive.Formatting;

namespace Microsoft.ML.Compression.Interactive;

/// <summary>
/// Registers HTML formatters for the compression types with .NET Interactive, so that a cell ending in a
/// <see cref="CompressionReport"/> (or a <see cref="CompressedModel"/>) shows the report as a table with plots of the
/// size per stage and the worst tensors' SQNR, one ending in a <see cref="SweepResult"/> shows its size/metric scatter
/// with the Pareto front, then its table, and one ending in a pruning sensitivity sweep shows the metric against each
/// layer's sparsity. A notebook
/// that restores the package with <c>#r "nuget: Microsoft.ML.Compression"</c> gets this without calling anything
/// (<see cref="CompressionKernelExtension"/>); <see cref="Register"/> is for a notebook that #r's the dlls instead.
/// </summary>
/// <example>
/// <code>
/// #r "Microsoft.ML.Compression.Interactive.dll"
/// Microsoft.ML.Compression.Interactive.CompressionFormatters.Register();
/// compressed.Report   // displayed as an HTML table
/// </code>
/// </example>
public static class CompressionFormatters
{
    private static int _registered;

    /// <summary>Registers the formatters (text/html for reports, compressed models and sweep results, text/plain for reports); calling it again does nothing.</summary>
    /// <example><code>CompressionFormatters.Register();</code></example>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        Formatter.Register<CompressionReport>((report, writer) => writer.Write(ReportHtml.Format(report)), HtmlFormatter.MimeType);
        Formatter.Register<CompressionReport>((report, writer) => writer.Write(report.ToString()), PlainTextFormatter.MimeType);
        Formatter.Register<CompressedModel>((model, writer) => writer.Write(ReportHtml.Format(model.Report)), HtmlFormatter.MimeType);
        // PruningSensitivity returns a list; register the interface and the concrete list and array types it may be.
        Formatter.Register<IReadOnlyList<LayerSensitivity>>((sweep, writer) => writer.Write(SensitivityHtml.Format(sweep)), HtmlFormatter.MimeType);
        Formatter.Register<List<LayerSensitivity>>((sweep, writer) => writer.Write(SensitivityHtml.Format(sweep)), HtmlFormatter.MimeType);
        Formatter.Register<LayerSensitivity[]>((sweep, writer) => writer.Write(SensitivityHtml.Format(sweep)), HtmlFormatter.MimeType);
        Formatter.Register<SweepResult>((sweep, writer) => writer.Write(SweepHtml.Format(sweep)), HtmlFormatter.MimeType);
    }
}
