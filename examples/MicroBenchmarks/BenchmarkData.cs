namespace MicroBenchmarks;

/// <summary>Where the repository's data/ folder is, from wherever BenchmarkDotNet runs the benchmark process.</summary>
public static class BenchmarkData
{
    /// <summary>
    /// The path of a file under data/. BenchmarkDotNet builds and runs each benchmark in a generated project below
    /// this project's bin folder, so the folder is found by walking up from the running program, not copied.
    /// </summary>
    public static string Path(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "data", relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"data/{relative} was not found above {AppContext.BaseDirectory}; run the benchmarks from this repository.");
    }
}
