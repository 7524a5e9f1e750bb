using System.Text.Json;
using System.Text.RegularExpressions;
using Benchmarks.Common;

namespace Benchmarks.Reporting;

/// <summary>Where and on what one scenario's figures were measured: the line above its table in docs/benchmarks.md.</summary>
public sealed class RunInfo
{
    /// <summary>Day of the run (UTC), yyyy-MM-dd.</summary>
    public string Date { get; init; } = "";
    /// <summary>CPU model and the vector extensions that decide ONNX Runtime's integer kernels, e.g. "AMD EPYC (AVX-512 VNNI)".</summary>
    public string Cpu { get; init; } = "";
    /// <summary>Logical CPUs the process could use.</summary>
    public int Cores { get; init; }
    public string DotNet { get; init; } = "";
    public string OnnxRuntime { get; init; } = "";
    /// <summary>A --quick run: small models and short timing windows, a smoke test rather than figures.</summary>
    public bool Quick { get; init; }
    /// <summary>What else ran on the machine, e.g. "1-minute load average 1.9 at the start" or "other builds running".</summary>
    public string? Conditions { get; init; }
    /// <summary>How the figures were produced when not by a run of the Benchmarks app (another tool, a converted table).</summary>
    public string? Source { get; init; }
}

/// <summary>One scenario's result file: docs/benchmark-results/&lt;slug&gt;.json, named by the scenario's --only name.</summary>
public sealed class ScenarioRecord
{
    /// <summary>The scenario's name in the Benchmarks app (what --only and the {{table: …}} placeholders use).</summary>
    public string Scenario { get; init; } = "";
    public RunInfo Run { get; init; } = new();
    public ScenarioResult Result { get; init; } = new();
}

/// <summary>Reads and writes the per-scenario result files that docs/benchmarks.md is generated from.</summary>
public static class ResultFiles
{
    /// <summary>The file name of a scenario: lower case, runs of other characters as one '-' ("spam trees" → spam-trees.json).</summary>
    public static string FileName(string scenario)
        => Regex.Replace(scenario.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-') + ".json";

    /// <summary>
    /// Writes (or replaces) the scenario's file in <paramref name="folder"/> and leaves every other file alone, so a
    /// run of a subset (--only) updates only those scenarios. Written to a temporary file and then moved over the old
    /// one: a failed write never leaves half a file.
    /// </summary>
    public static string Save(string folder, ScenarioRecord record)
    {
        if (string.IsNullOrWhiteSpace(record.Scenario)) throw new ArgumentException("The record names no scenario.", nameof(record));
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, FileName(record.Scenario)), temp = path + ".tmp";
        try
        {
            File.WriteAllText(temp, JsonSerializer.Serialize(record, ResultWriter.Json) + "\n");
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return path;
    }

    /// <summary>Every result file in <paramref name="folder"/>, by scenario name (case-insensitive).</summary>
    public static Dictionary<string, ScenarioRecord> Load(string folder)
    {
        var records = new Dictionary<string, ScenarioRecord>(StringComparer.OrdinalIgnoreCase);
        if (!Directory.Exists(folder)) return records;
        foreach (var path in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            ScenarioRecord record;
            try
            {
                record = JsonSerializer.Deserialize<ScenarioRecord>(File.ReadAllText(path), ResultWriter.Json)
                    ?? throw new InvalidDataException("the file holds null");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path} is not a scenario result file ({e.Message}). Restore it from git or rerun the scenario with --save-to.", e);
            }
            if (Path.GetFileName(path) != FileName(record.Scenario))
                throw new InvalidDataException($"{path} holds scenario \"{record.Scenario}\", whose file is {FileName(record.Scenario)}. Rename the file.");
            records[record.Scenario] = record;
        }
        return records;
    }
}
