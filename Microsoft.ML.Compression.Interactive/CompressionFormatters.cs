using Microsoft.DotNet.Interactive.Formatting;

namespace Microsoft.ML.Compression.Interactive;

/// <summary>
/// Registers HTML formatters for the compression types with .NET Interactive, so that a cell ending in a
/// <see cref="CompressionReport"/> (or a <see cref="CompressedModel"/>) shows the report as a table.
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

    /// <summary>Registers the formatters (text/html for reports and compressed models, text/plain for reports); calling it again does nothing.</summary>
    /// <example><code>CompressionFormatters.Register();</code></example>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        Formatter.Register<CompressionReport>((report, writer) => writer.Write(report.ToHtml()), HtmlFormatter.MimeType);
        Formatter.Register<CompressionReport>((report, writer) => writer.Write(report.ToString()), PlainTextFormatter.MimeType);
        Formatter.Register<CompressedModel>((model, writer) => writer.Write(model.Report.ToHtml()), HtmlFormatter.MimeType);
    }
}
