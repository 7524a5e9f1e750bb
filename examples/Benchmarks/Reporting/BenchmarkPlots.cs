using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Plotting;
using Microsoft.ML.Data;

namespace Benchmarks.Reporting;

/// <summary>
/// The plots written next to results.md (PNG and SVG, drawn by <see cref="CompressionPlots"/>): accuracy vs size per
/// scenario, per-layer pruning sensitivity and per-tensor quantization error where a scenario measured them, and a
/// compression sweep on spam.
/// </summary>
public static class BenchmarkPlots
{
    /// <summary>Writes the plots into <paramref name="folder"/> and returns a Markdown section that links them.</summary>
    public static string Write(BenchmarkReport report, Settings settings, string folder)
    {
        var lines = new List<string> { "", "## Plots", "" };
        foreach (var s in report.Scenarios)
        {
            var quality = s.Rows.FirstOrDefault(r => r.Unit is "AUC" or "share");
            var size = s.Rows.FirstOrDefault(r => r.Metric == "saved zip");
            if (quality == null || size == null) continue;
            var points = s.Variants.Select((v, i) => (v, q: quality.Values[i], z: size.Values[i]))
                .Where(p => p.q != null && p.z != null).Select(p => new PlotPoint(p.v, p.z!.Value, p.q!.Value)).ToList();
            if (points.Count == 0) continue;
            string file = "plot-" + Slug(s.Name);
            CompressionPlots.Save(CompressionPlots.ParetoScatter(points, quality.Metric, quality.HigherIsBetter, $"{s.Name}: {quality.Metric} vs saved size"), Path.Combine(folder, file));
            lines.Add($"- {s.Name}: [{file}.png]({file}.png) ([svg]({file}.svg)), {quality.Metric} against saved zip size");
        }
        foreach (var s in report.Scenarios.Where(s => s.Sensitivity is { Count: > 0 }))
        {
            string file = $"plot-{Slug(s.Name)}-sensitivity";
            CompressionPlots.Save(CompressionPlots.PruningSensitivity(s.Sensitivity!, s.SensitivityMetric ?? "metric", tolerance: 0.005,
                title: $"{s.Name}: pruning sensitivity per layer"), Path.Combine(folder, file));
            lines.Add($"- {s.Name}: [{file}.png]({file}.png) ([svg]({file}.svg)), {s.SensitivityMetric} with one layer pruned, per layer and sparsity");
        }
        foreach (var s in report.Scenarios)
            foreach (var (variant, errors) in s.TensorErrors)
            {
                string file = $"plot-{Slug(s.Name)}-sqnr-{Slug(variant)}";
                CompressionPlots.Save(CompressionPlots.TensorErrors(errors, $"{s.Name}, {variant}: quantization error per tensor"), Path.Combine(folder, file),
                    height: CompressionPlots.TensorErrorsHeight(errors.Count));
                lines.Add($"- {s.Name}, {variant}: [{file}.png]({file}.png) ([svg]({file}.svg)), SQNR per tensor");
            }

        // A small sweep: spam FastTree teacher, pruning sparsities × {FP32, INT8} (and a distilled student in the full run).
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromTextFile(Settings.DataPath("spam.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' },
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 57) },
        });
        data = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label").Fit(data).Transform(data);
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.3, seed: 7);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
        var teacher = ml.BinaryClassification.Trainers.FastTree(numberOfTrees: settings.SpamTeacherTrees).Fit(train);
        var sweep = new CompressionSweep(ml, teacher)
        {
            Sparsities = settings.Quick ? new[] { 0.0, 0.5, 0.9 } : new[] { 0.0, 0.5, 0.8, 0.9, 0.95 },
            Precisions = new Precision?[] { null, Precision.Int8 },
            Students = settings.Quick ? Array.Empty<(string, IEstimator<ITransformer>)>()
                : new[] { ("FastTree 10", (IEstimator<ITransformer>)ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 10)) },
            Progress = new Progress<string>(l => Console.WriteLine($"      sweep: {l}")),
        };
        var result = sweep.Run(train, test);
        CompressionPlots.Save(CompressionPlots.ParetoScatter(result, $"spam, FastTree {settings.SpamTeacherTrees} trees: compression sweep"), Path.Combine(folder, "plot-sweep-spam"));
        var best = result.SmallestWithin(0.01) ?? result.Teacher;
        CompressionPlots.Save(CompressionPlots.StageBars(best.Report, $"spam: smallest model within 1 AUC point of the teacher ({best.Name})"), Path.Combine(folder, "plot-sweep-spam-stages"));
        lines.Add($"- spam compression sweep ({result.Points.Count} models): [plot-sweep-spam.png](plot-sweep-spam.png) ([svg](plot-sweep-spam.svg)); "
            + $"smallest within 1 AUC point of the teacher: {best} — per stage: [plot-sweep-spam-stages.png](plot-sweep-spam-stages.png)");
        lines.Add("");
        lines.Add("```");
        lines.Add(result.ToString().TrimEnd());
        lines.Add("```");
        return string.Join("\n", lines) + "\n";
    }

    private static string Slug(string name)
        => System.Text.RegularExpressions.Regex.Replace(name.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-');
}
