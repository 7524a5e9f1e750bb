namespace Microsoft.ML.Compression;

/// <summary>
/// One progress notice of a compression chain, sent to the <see cref="IProgress{T}"/> given to
/// <see cref="CompressionEstimator.WithProgress"/>: once when a stage starts and once when it ends.
/// </summary>
/// <example>
/// <code>
/// var compressed = chain
///     .WithProgress(new ConsoleProgress())   // any IProgress&lt;CompressionProgress&gt;
///     .Fit(train);
///
/// sealed class ConsoleProgress : IProgress&lt;CompressionProgress&gt;
/// {
///     public void Report(CompressionProgress p) => Console.WriteLine(p);   // "[2/3] Prune: started"
/// }
/// </code>
/// </example>
public sealed class CompressionProgress
{
    /// <summary>Creates a progress notice.</summary>
    /// <example><code>var p = new CompressionProgress("Prune", 1, 3, false, "started");</code></example>
    public CompressionProgress(string stageName, int stageIndex, int stageCount, bool isStageCompleted, string message)
    {
        StageName = stageName;
        StageIndex = stageIndex;
        StageCount = stageCount;
        IsStageCompleted = isStageCompleted;
        Message = message;
    }

    /// <summary>The stage's name, as in the report: "Distill", "Prune" or "Quantize".</summary>
    /// <example><code>public void Report(CompressionProgress p) { if (p.StageName == "Quantize" &amp;&amp; p.IsStageCompleted) Console.WriteLine(p.Message); }</code></example>
    public string StageName { get; }

    /// <summary>Zero-based position of the stage in the chain.</summary>
    /// <example><code>double done = (p.StageIndex + (p.IsStageCompleted ? 1 : 0)) / (double)p.StageCount; // fraction of the chain done</code></example>
    public int StageIndex { get; }

    /// <summary>How many stages the chain has.</summary>
    /// <example><code>Console.WriteLine($"stage {p.StageIndex + 1} of {p.StageCount}: {p.StageName}");</code></example>
    public int StageCount { get; }

    /// <summary>False for the notice sent when the stage starts, true for the one sent when it has ended.</summary>
    /// <example><code>if (p.IsStageCompleted) Console.WriteLine($"{p.StageName} finished: {p.Message}");</code></example>
    public bool IsStageCompleted { get; }

    /// <summary>What happened, in a few words (at the end: what the stage did and its metric).</summary>
    /// <example><code>Console.WriteLine(p.Message); // "started", or at the end e.g. "done: … AUC (fit) 0.9123."</code></example>
    public string Message { get; }

    /// <summary>A one-line text such as <c>[2/3] Prune: started</c>.</summary>
    /// <example><code>chain.WithProgress(new Progress&lt;CompressionProgress&gt;(p =&gt; Console.WriteLine(p.ToString()))); // "[2/3] Prune: started"</code></example>
    public override string ToString() => $"[{StageIndex + 1}/{StageCount}] {StageName}: {Message}";
}
