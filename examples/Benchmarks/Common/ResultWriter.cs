using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Benchmarks.Common;

/// <summary>Writes a <see cref="BenchmarkReport"/> as JSON and as Markdown tables (one per scenario, ratios beside the values).</summary>
public static class ResultWriter
{
    /// <summary>
    /// The JSON form of results.json and of the per-scenario result files: indented, text unescaped (÷, µ and × stay
    /// readable in a diff), and collections without a setter filled on reading.
    /// </summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PreferredObjectCreationHandling = JsonObjectCreationHandling.Populate,
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
            AppendScenario(sb, s);
        }
        return sb.ToString();
    }

    /// <summary>
    /// One scenario without its heading: description, the table (ratios beside the values unless the scenario turns
    /// them off), memory, notes, and the sensitivity and tensor-error tables. results.md and docs/benchmarks.md both use it.
    /// </summary>
    public static void AppendScenario(StringBuilder sb, ScenarioResult s)
    {
        if (s.Description.Length > 0)
        {
            sb.AppendLine(s.Description);
            sb.AppendLine();
        }
        if (s.Rows.Count > 0) AppendTable(sb, s);
        if (s.Memory is { } m)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Memory: peak working set {m.PeakWorkingSetMB:F0} MB (since {m.PeakSince}), managed allocations {m.ManagedAllocatedMB:F0} MB, managed heap at the last GC {m.ManagedHeapAtLastGcMB:F0} MB. Scenario time {s.Seconds:F1} s."));
        foreach (var note in s.Notes) sb.AppendLine($"- {note}");
        AppendSensitivity(sb, s);
        AppendTensorErrors(sb, s);
    }

    private static void AppendTable(StringBuilder sb, ScenarioResult s)
    {
        int ratios = s.Ratios ? s.Variants.Length : 1;
        var header = new List<string> { "metric" };
        header.AddRange(s.Variants);
        for (int v = 1; v < ratios; v++) header.Add($"{s.Variants[v]} ÷ {s.Variants[0]}");
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|" + string.Concat(header.Select((_, i) => i == 0 ? "---|" : "---:|")));
        foreach (var row in s.Rows)
        {
            var cells = new List<string> { $"{row.Metric} ({row.Unit}, {(row.HigherIsBetter ? "higher" : "lower")} is better)" };
            cells.AddRange(row.Values.Select(v => v is double d ? d.ToString(row.Format, CultureInfo.InvariantCulture) : "–"));
            for (int v = 1; v < ratios; v++)
                cells.Add(ScenarioResult.Ratio(row, v) is double r ? r.ToString("F2", CultureInfo.InvariantCulture) + "×" : "–");
            sb.AppendLine("| " + string.Join(" | ", cells) + " |");
        }
        sb.AppendLine();
    }

    /// <summary>One row per layer: its metric with only that layer pruned, at each sparsity of the sweep.</summary>
    private static void AppendSensitivity(StringBuilder sb, ScenarioResult s)
    {
        if (s.Sensitivity is not { Count: > 0 } layers) return;
        var sparsities = layers.SelectMany(l => l.Metric.Keys).Distinct().OrderBy(x => x).ToArray();
        sb.AppendLine();
        sb.AppendLine($"Pruning sensitivity ({s.SensitivityMetric} with one layer pruned, the others dense; unpruned {layers[0].Baseline.ToString("F4", CultureInfo.InvariantCulture)}):");
        sb.AppendLine();
        sb.AppendLine("| layer | weights | " + string.Join(" | ", sparsities.Select(x => x.ToString("P0", CultureInfo.InvariantCulture))) + " |");
        sb.AppendLine("|---|---:|" + string.Concat(sparsities.Select(_ => "---:|")));
        foreach (var l in layers)
            sb.AppendLine($"| {l.Layer} | {l.Weights} | " + string.Join(" | ", sparsities.Select(x => l.Metric.TryGetValue(x, out var m) ? m.ToString("F4", CultureInfo.InvariantCulture) : "–")) + " |");
    }

    /// <summary>One row per tensor, one column per quantized variant: the SQNR (dB) its Quantize stage measured.</summary>
    private static void AppendTensorErrors(StringBuilder sb, ScenarioResult s)
    {
        if (s.TensorErrors.Count == 0) return;
        var variants = s.TensorErrors.Keys.ToArray();
        var tensors = s.TensorErrors.Values.SelectMany(e => e.Select(t => t.Name)).Distinct().ToArray();
        sb.AppendLine();
        sb.AppendLine("Quantization error per tensor (SQNR in dB between the float and the quantized network on the calibration rows; inputs of the quantized operators, then the outputs; 200 = exact):");
        sb.AppendLine();
        sb.AppendLine("| tensor | " + string.Join(" | ", variants) + " |");
        sb.AppendLine("|---|" + string.Concat(variants.Select(_ => "---:|")));
        foreach (var t in tensors)
            sb.AppendLine($"| {t} | " + string.Join(" | ", variants.Select(v => s.TensorErrors[v].FirstOrDefault(e => e.Name == t) is { } e ? e.SqnrDb.ToString("F1", CultureInfo.InvariantCulture) : "–")) + " |");
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
