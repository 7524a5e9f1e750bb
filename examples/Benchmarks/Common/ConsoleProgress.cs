using Microsoft.ML.Compression;

namespace Benchmarks.Common;

/// <summary>Prints one text line per compression progress notice, in line with the Fit call.</summary>
public sealed class ConsoleProgress : IProgress<CompressionProgress>
{
    private readonly string _what;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public ConsoleProgress(string what) => _what = what;

    public void Report(CompressionProgress p)
        => Console.WriteLine($"    {_what} {p} ({_clock.Elapsed.TotalSeconds:F1} s)");
}
