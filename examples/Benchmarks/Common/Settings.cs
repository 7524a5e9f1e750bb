namespace Benchmarks.Common;

/// <summary>Sizes and timing windows of one benchmark run: full (the README's figures) or quick (CI, well under a minute).</summary>
public sealed record Settings(
    bool Quick,
    int ChurnTeacherTrees,
    int ChurnStudentTrees,
    int SpamTeacherTrees,
    int SpamPrunedTrees,
    int Runs,
    double SecondsPerRun,
    int[] OrtBatchSizes)
{
    public static Settings Full { get; } = new(false, 500, 20, 500, 100, Runs: 5, SecondsPerRun: 0.4, new[] { 1, 32, 256 });
    public static Settings QuickRun { get; } = new(true, 100, 10, 100, 20, Runs: 3, SecondsPerRun: 0.05, new[] { 1, 32, 256 });

    /// <summary>Where the data files were copied next to the program.</summary>
    public static string DataPath(string file) => Path.Combine(AppContext.BaseDirectory, "Data", file);
}
