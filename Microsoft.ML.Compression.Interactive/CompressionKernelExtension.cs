using Microsoft.DotNet.Interactive;

namespace Microsoft.ML.Compression.Interactive;

/// <summary>
/// The .NET Interactive extension of the Microsoft.ML.Compression package. The package carries this assembly under
/// <c>interactive-extensions/dotnet/</c>; a notebook kernel (Polyglot Notebooks, dotnet-repl) that restores the
/// package with <c>#r "nuget: Microsoft.ML.Compression"</c> loads it and calls <see cref="OnLoadAsync"/>, which
/// registers the HTML formatters of <see cref="CompressionFormatters"/>. Nothing to call by hand.
/// </summary>
public sealed class CompressionKernelExtension : IKernelExtension
{
    /// <summary>Registers the compression formatters with the kernel's formatting (once per process).</summary>
    /// <param name="kernel">The kernel that loaded the package; not used beyond the argument check, because formatters are process-wide.</param>
    /// <returns>A completed task.</returns>
    public Task OnLoadAsync(Kernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        CompressionFormatters.Register();
        return Task.CompletedTask;
    }
}
