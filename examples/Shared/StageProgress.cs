using Microsoft.ML.Compression;
using Spectre.Console;

namespace Examples.Shared;

/// <summary>
/// Shows the progress of a compression chain (the library's <see cref="CompressionProgress"/> notices) while it is
/// fitted. On an interactive terminal: a live Spectre.Console display with an overall bar (stages done of stages
/// in the chain) and one row per stage, animated while the stage runs, with elapsed times. When the output is
/// redirected (CI logs, pipes) or the terminal cannot redraw lines: the same notices as plain text lines, one per
/// stage start and end, so logs get no escape codes or redraw garbage.
/// </summary>
/// <example>
/// <code>
/// using CompressedModel compressed = StageProgress.Run("churn", progress => chain.WithProgress(progress).Fit(train));
/// </code>
/// </example>
public static class StageProgress
{
    /// <summary>
    /// True when the live display is used: standard output is a terminal that Spectre.Console reports as
    /// interactive and ANSI-capable (it also turns this off on known CI systems and with TERM=dumb).
    /// </summary>
    public static bool IsLive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

    /// <summary>Runs <paramref name="fit"/> with a progress sink that shows its notices; returns what it returns.</summary>
    /// <param name="what">A short name for the chain, shown before every notice.</param>
    /// <param name="fit">Fits the chain, passing the given sink to <c>WithProgress</c>.</param>
    public static T Run<T>(string what, Func<IProgress<CompressionProgress>, T> fit)
    {
        if (!IsLive) return fit(new LineProgress(what));
        T result = default!;
        var finished = new List<string>();
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context => result = fit(new BarProgress(what, context, finished)));
        // What each stage did, in full (too long for the live rows).
        foreach (var line in finished) AnsiConsole.MarkupLine($"    [grey]{Markup.Escape(line)}[/]");
        return result;
    }

    /// <summary>Plain lines: <c>    churn [2/3] Prune: started (1.2 s)</c>.</summary>
    public sealed class LineProgress : IProgress<CompressionProgress>
    {
        private readonly string _what;
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

        /// <summary>Creates the sink; <paramref name="what"/> starts every line.</summary>
        public LineProgress(string what) => _what = what;

        /// <inheritdoc/>
        public void Report(CompressionProgress p) => Console.WriteLine($"    {_what} {p} ({_clock.Elapsed.TotalSeconds:F1} s)");
    }

    /// <summary>
    /// Drives the live display. The library reports in line on the fitting thread; Spectre.Console redraws on its
    /// own thread, and its tasks are safe to update from another one.
    /// </summary>
    private sealed class BarProgress : IProgress<CompressionProgress>
    {
        private readonly string _what;
        private readonly ProgressContext _context;
        private readonly List<string> _finished;
        private readonly ProgressTask _overall;
        private ProgressTask? _stage;

        public BarProgress(string what, ProgressContext context, List<string> finished)
        {
            _what = what;
            _context = context;
            _finished = finished;
            // Indeterminate until the first notice says how many stages there are (the input model is measured first).
            _overall = context.AddTask(Markup.Escape($"{what}: measuring the input model"), maxValue: 1);
            _overall.IsIndeterminate = true;
        }

        public void Report(CompressionProgress p)
        {
            _overall.IsIndeterminate = false;
            _overall.MaxValue = p.StageCount;
            if (!p.IsStageCompleted)
            {
                _overall.Description = Markup.Escape($"{_what}: stage {p.StageIndex + 1} of {p.StageCount}");
                _stage = _context.AddTask(Markup.Escape($"  {p.StageName}"), maxValue: 1);
                _stage.IsIndeterminate = true;
                return;
            }
            if (_stage != null)
            {
                _stage.IsIndeterminate = false;
                _stage.Value = 1;
                _stage.StopTask();
            }
            _overall.Value = p.StageIndex + 1;
            if (p.StageIndex + 1 == p.StageCount)
            {
                _overall.Description = Markup.Escape($"{_what}: {p.StageCount} stage(s) done");
                _overall.StopTask();
            }
            _finished.Add($"{_what} {p}");
        }
    }
}
