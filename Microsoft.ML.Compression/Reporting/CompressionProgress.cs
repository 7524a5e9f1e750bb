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
    public string StageName { get; }

    /// <summary>Zero-based position of the stage in the chain.</summary>
    public int StageIndex { get; }

    /// <summary>How many stages the chain has.</summary>
    public int StageCount { get; }

    /// <summary>False for the notice sent when the stage starts, true for the one sent when it has ended.</summary>
    public bool IsStageCompleted { get; }

    /// <summary>What happened, in a few words (at the end: what the stage did and its metric).</summary>
    public string Message { get; }

    /// <summary>A one-line text such as <c>[2/3] Prune: started</c>.</summary>
    public override string ToString() => $"[{StageIndex + 1}/{StageCount}] {StageName}: {Message}";
}
