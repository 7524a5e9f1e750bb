using Microsoft.DotNet.Interactive;

namespace Microsoft.ML.Compression.Interactive;

/// <summary>
/// The .NET Interactive extension of the Microsoft.ML.Compression package. The package carries this assembly under
/// <c>interactive-extensions/dotnet/</c>; a notebook kernel (Polyglot Notebooks, dotnet-repl) that restores the
/// package with <c>#r "nuget: Microsoft.ML.Compression"</c> loads it and calls <see cref="OnLoadAsync"/>, which
/// registers the HTML formatters of <see cref="CompressionFormatters"/>. Nothing to call by hand.
/// </summary>
/// <example>
/// <code>
/// #r "nuget: Microsoft.ML.Compression, 0.1.0"   // the kernel loads this extension from the package
/// compressed.Report                              // displayed as an HTML table
/// </code>
/// </example>
public sealed class CompressionKernelExtension : IKernelExtension
{
    /// <summary>Registers the compression formatters with the kernel's formatting (once per process).</summary>
    /// <param name="kernel">The kernel that loaded the package; not used beyond the argument check, because formatters are process-wide.</param>
    /// <returns>A completed task.</returns>
    /// <example><code>await new CompressionKernelExtension().OnLoadAsync(kernel); // what the kernel does on #r "nuget: ..."</code></example>
    public Task OnLoadAsync(Kernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        CompressionFormatters.Register();
        return Task.CompletedTask;
    }
}
