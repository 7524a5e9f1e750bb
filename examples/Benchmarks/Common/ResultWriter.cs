using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Benchmarks.Common;

/// <summary>Writes a <see cref="BenchmarkReport"/> as JSON and as Markdown tables (one per scenario, ratios beside the values).</summary>
public static class ResultWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string ToJson(BenchmarkReport report) => JsonSerializer.Serialize(report, Json);

    public static string ToMarkdown(BenchmarkReport report)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Microsoft.ML.Compression benchmarks ({report.Mode})");
        sb.AppendLine();
        sb.AppendLine($"{report.StartedAt:yyyy-MM-dd HH:mm} UTC · {report.Machine} · {report.ProcessorCount} logical CPUs · {report.Runtime} · total {report.TotalSeconds:F0} s");
        sb.AppendLine();
        sb.AppendLine(report.Method);
        foreach (var s in report.Scenarios)
        {
            sb.AppendLine();
            sb.AppendLine($"## {s.Name}");
            sb.AppendLine();
            sb.AppendLine(s.Description);
            sb.AppendLine();
            var header = new List<string> { "metric" };
            header.AddRange(s.Variants);
            for (int v = 1; v < s.Variants.Length; v++) header.Add($"{s.Variants[v]} ÷ {s.Variants[0]}");
            sb.AppendLine("| " + string.Join(" | ", header) + " |");
            sb.AppendLine("|" + string.Concat(header.Select((_, i) => i == 0 ? "---|" : "---:|")));
            foreach (var row in s.Rows)
            {
                var cells = new List<string> { $"{row.Metric} ({row.Unit}, {(row.HigherIsBetter ? "higher" : "lower")} is better)" };
                cells.AddRange(row.Values.Select(v => v is double d ? d.ToString(row.Format, CultureInfo.InvariantCulture) : "–"));
                for (int v = 1; v < s.Variants.Length; v++)
                    cells.Add(ScenarioResult.Ratio(row, v) is double r ? r.ToString("F2", CultureInfo.InvariantCulture) + "×" : "–");
                sb.AppendLine("| " + string.Join(" | ", cells) + " |");
            }
            sb.AppendLine();
            if (s.Memory is { } m)
                sb.AppendLine($"Memory: peak working set {m.PeakWorkingSetMB:F0} MB (since {m.PeakSince}), managed allocations {m.ManagedAllocatedMB:F0} MB, managed heap at the last GC {m.ManagedHeapAtLastGcMB:F0} MB. Scenario time {s.Seconds:F1} s.");
            foreach (var note in s.Notes) sb.AppendLine($"- {note}");
        }
        return sb.ToString();
    }

    public static (string json, string markdown) Write(BenchmarkReport report, string folder)
    {
        Directory.CreateDirectory(folder);
        string json = Path.Combine(folder, "results.json"), md = Path.Combine(folder, "results.md");
        File.WriteAllText(json, ToJson(report));
        File.WriteAllText(md, ToMarkdown(report));
        return (json, md);
    }
}
