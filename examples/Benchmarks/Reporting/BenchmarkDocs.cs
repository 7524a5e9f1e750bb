using System.Text;
using System.Text.RegularExpressions;
using Benchmarks.Common;

namespace Benchmarks.Reporting;

/// <summary>
/// Generates docs/benchmarks.md from its template (the prose, no measured numbers) and the per-scenario result files:
/// each line <c>{{table: NAME}}</c> becomes that scenario's table, headed by the date, CPU and runtime it was measured
/// on. Nobody edits the generated page; a test renders it again and compares.
/// </summary>
public static partial class BenchmarkDocs
{
    /// <summary>How to regenerate the page, as its first line says.</summary>
    public const string Command = "dotnet run --project examples/Benchmarks -c Release -- --render-docs";

    public const string GeneratedNotice =
        "<!-- Generated file, do not edit: the prose is docs/benchmarks.template.md, the figures docs/benchmark-results/*.json "
        + "(written by the Benchmarks app's --save-to). Regenerate with `" + Command + "`. -->";

    [GeneratedRegex(@"^\{\{table:\s*(?<name>[^{}]+?)\s*\}\}[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex Placeholder();

    /// <summary>The scenario names the template's placeholders ask for, in order of appearance.</summary>
    public static IReadOnlyList<string> Placeholders(string template)
        => Placeholder().Matches(Normalize(template)).Select(m => m.Groups["name"].Value).ToArray();

    /// <summary>The placeholders of <paramref name="template"/> that no record answers.</summary>
    public static IReadOnlyList<string> Missing(string template, IReadOnlyDictionary<string, ScenarioRecord> records)
        => Placeholders(template).Where(name => !records.ContainsKey(name)).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

    /// <summary>The page: the notice, then the template with every placeholder replaced by its scenario's table.</summary>
    /// <exception cref="InvalidDataException">A placeholder names a scenario without a result file.</exception>
    public static string Render(string template, IReadOnlyDictionary<string, ScenarioRecord> records)
    {
        var missing = Missing(template, records);
        if (missing.Count > 0)
            throw new InvalidDataException("No result file for " + string.Join(", ", missing.Select(n => $"\"{n}\" ({ResultFiles.FileName(n)})"))
                + ": run those scenarios with --only … --save-to docs/benchmark-results, or fix the placeholder's name.");
        var body = Placeholder().Replace(Normalize(template), m => Table(records[m.Groups["name"].Value]));
        return GeneratedNotice + "\n\n" + body;
    }

    /// <summary>One scenario's block: the line saying where it was measured, then what results.md shows for it.</summary>
    public static string Table(ScenarioRecord record)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"*{RunLine(record.Run)}*");
        sb.AppendLine();
        ResultWriter.AppendScenario(sb, record.Result);
        return Normalize(sb.ToString()).TrimEnd('\n');
    }

    /// <summary>"Measured 2026-11-29 on AMD EPYC (AVX2, no VNNI), 2 cores (idle) · .NET 10.0.12 · ONNX Runtime 1.31.1", then how, where not a full run of the app.</summary>
    public static string RunLine(RunInfo run)
    {
        var parts = new List<string>
        {
            $"Measured {run.Date} on {run.Cpu}, {run.Cores} cores" + (string.IsNullOrEmpty(run.Conditions) ? "" : $" ({run.Conditions})"),
        };
        if (run.DotNet.Length > 0) parts.Add($".NET {run.DotNet}");
        if (run.OnnxRuntime.Length > 0) parts.Add($"ONNX Runtime {run.OnnxRuntime}");
        if (run.Quick) parts.Add("--quick run (small models, short timing windows: a smoke test, not figures)");
        if (!string.IsNullOrEmpty(run.Source)) parts.Add(run.Source);
        return string.Join(" · ", parts);
    }

    /// <summary>Renders <paramref name="templatePath"/> with the files of <paramref name="resultsFolder"/> into <paramref name="outputPath"/>.</summary>
    public static void RenderFile(string templatePath, string resultsFolder, string outputPath)
    {
        var page = Render(File.ReadAllText(templatePath), ResultFiles.Load(resultsFolder));
        string temp = outputPath + ".tmp";
        try
        {
            File.WriteAllText(temp, page);
            File.Move(temp, outputPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");
}
