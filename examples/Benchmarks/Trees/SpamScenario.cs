using System.Diagnostics;
using Benchmarks.Common;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace Benchmarks.Trees;

/// <summary>(a) A large FastTree on spam vs the same model with most of its trees pruned.</summary>
public static class SpamScenario
{
    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromTextFile(Settings.DataPath("spam.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 57) },
        });
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.3, seed: 7);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);

        var sw = Stopwatch.StartNew();
        var teacher = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label")
            .Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: s.SpamTeacherTrees))
            .Fit(train);
        double trainSeconds = sw.Elapsed.TotalSeconds;

        double sparsity = 1.0 - (double)s.SpamPrunedTrees / s.SpamTeacherTrees;
        var rows = ml.Data.CreateEnumerable<SpamRow>(test, reuseRowObject: false).ToList();
        var seconds = new List<double>();
        CompressedModel Prune(string name, PruningOptions options)
        {
            sw.Restart();
            var model = StageProgress.Run(name, progress => ml.Compression().Prune(teacher, options).WithProgress(progress).Fit(train));
            seconds.Add(sw.Elapsed.TotalSeconds);
            return model;
        }
        using var pruned = Prune("spam", new PruningOptions { TargetSparsity = sparsity, Trees = { LeafPruningTolerance = 0 } });
        using var leaf = Prune("spam + leaves", new PruningOptions { TargetSparsity = sparsity, Trees = { LeafPruningTolerance = LeafTolerance } });
        using var classic = Prune("spam + leaves, classic storage", new PruningOptions { TargetSparsity = sparsity, Trees = { LeafPruningTolerance = LeafTolerance, Storage = TreeStorage.Classic } });
        using var refit = Prune("spam + leaves + refit", new PruningOptions { TargetSparsity = sparsity, Trees = { LeafPruningTolerance = LeafTolerance, RefitLeaves = true } });
        var models = new ITransformer[] { teacher, pruned, leaf, classic, refit };

        var result = new ScenarioResult
        {
            Name = $"Trees: spam, FastTree {s.SpamTeacherTrees} trees vs pruned to {s.SpamPrunedTrees}",
            Description = $"Spambase subset (data/spam.csv), 70/30 split (seed 7), {rows.Count} test rows, 57 numeric features. "
                + $"Pruning keeps {s.SpamPrunedTrees} trees, re-weighted by lasso to reproduce the teacher's score on the training data (TargetSparsity {sparsity:F2}, LeafPruningTolerance 0); "
                + $"\"+ leaves\": then leaf/node pruning of the kept trees (LeafPruningTolerance {LeafTolerance}); \"(classic)\": the same stored as TreeEnsembleRegressor (TreeStorage.Classic) rather than the opset-5 TreeEnsemble that TreeStorage.Auto chose; \"+ refit\": and the leaf values refitted to the teacher's score (RefitLeaves). "
                + "The pruned models are native ML.NET FastTree models (Prune edits the predictor's own streams; no ONNX Runtime), so TreeStorage has no effect and \"(classic)\" is the same model as \"+ leaves\"; "
                + "the ONNX and node figures are of ml.Model.ConvertToOnnx's export of each model. "
                + "Throughput measured in turns (one pass of each model per round), medians; CPU µs/row is the process's CPU time per row (all threads), which moves less than wall time on a shared machine. "
                + $"Teacher trained in {trainSeconds:F1} s, pruning took {string.Join(" / ", seconds.Select(x => x.ToString("F1")))} s.",
            Variants = new[] { "teacher", "pruned", "pruned + leaves", "pruned + leaves (classic)", "pruned + leaves + refit" },
        };
        var size = models.Select(m => TreeModelMeasure.Size(TreeModelMeasure.Onnx(ml, m, train))).ToArray();
        result.Add("AUC (test)", "AUC", true, "F4", models.Select(m => (double?)ml.BinaryClassification.Evaluate(m.Transform(test)).AreaUnderRocCurve).ToArray());
        result.Add("score RMSE vs teacher (test)", "score", false, "F3", models.Select(m => (double?)ScoreRmse(teacher, m, test)).ToArray());
        result.Add("trees", "trees", false, "F0", size.Select(x => (double?)x.Trees).ToArray());
        result.Add("tree nodes (leaves included)", "nodes", false, "F0", size.Select(x => (double?)x.Nodes).ToArray());
        result.Add("ONNX", "bytes", false, "F0", size.Select(x => (double?)x.OnnxBytes).ToArray());
        result.Add("saved zip", "bytes", false, "F0", models.Select(m => (double?)ZipBytes(ml, m, train.Schema)).ToArray());
        // Last: a disposed PredictionEngine of an ONNX model leaves that model unusable (ONNX Runtime crashed in a
        // later Transform), so the engines of the throughput turns are disposed after everything else was measured.
        var speed = TreeModelMeasure.ThroughputInTurns(ml, s, models, test, rows);
        result.Add("batch Transform", "rows/s", true, "F0", speed.Select(x => (double?)x.BatchRowsPerSecond).ToArray());
        result.Add("batch Transform CPU", "µs/row", false, "F2", speed.Select(x => (double?)x.BatchCpuMicrosecondsPerRow).ToArray());
        result.Add("PredictionEngine", "rows/s", true, "F0", speed.Select(x => (double?)x.EngineRowsPerSecond).ToArray());
        result.Add("PredictionEngine CPU", "µs/row", false, "F2", speed.Select(x => (double?)x.EngineCpuMicrosecondsPerRow).ToArray());
        // ONNX Runtime alone (one intra-op thread, the graph each pruned model runs; no ML.NET in between), in turns:
        // where the pruned models differ in speed, this says whether the trees or the pipeline around them did it.
        // Only where the pruned models are ONNX graphs: the native ML.NET models have none.
        var graphs = new[] { pruned, leaf, classic, refit }.Select(m => m.OnnxModel).ToList();
        var features = rows.Select(r => r.Features).ToArray();
        if (graphs.Any(g => g == null)) result.Notes.Add("ONNX Runtime alone: not measured, the pruned models are native ML.NET models (no ONNX graph).");
        else foreach (var batchSize in new[] { 1, 256 })
        {
            var (wall, cpu) = Benchmarks.Networks.OrtLatency.MedianMicrosecondsInTurns(s, graphs.Select(g => g!).ToList(), features, batchSize, threads: 1);
            var us = cpu ?? wall;
            result.Add($"ONNX Runtime alone, batch {batchSize}, 1 thread ({(cpu != null ? "thread CPU" : "wall")})", "µs/row", false, "F2",
                new double?[] { null }.Concat(us.Select(v => (double?)(v / batchSize))).ToArray());
        }
        foreach (var (name, m) in new[] { ("pruned + leaves", leaf), ("pruned + leaves + refit", refit) })
            result.Notes.Add($"{name}: {m.Report.Final.Description}");
        SweepTolerances(ml, s, teacher, train, test, sparsity, result);
        return result;
    }

    /// <summary>The leaf pruning tolerance of the scenario's "+ leaves" variants.</summary>
    private const double LeafTolerance = 0.1;

    /// <summary>
    /// Notes: nodes, AUC and zip bytes over a range of tolerances with and without refit, and with few calibration
    /// rows (where leaves no calibration row reaches appear).
    /// </summary>
    private static void SweepTolerances(MLContext ml, Settings s, ITransformer teacher, IDataView train, IDataView test, double sparsity, ScenarioResult result)
    {
        var cases = new List<(string Label, PruningOptions Options)>();
        foreach (var calibration in new[] { 10_000, 200 })
            foreach (var tolerance in s.Quick ? new[] { 0, 0.1 } : new[] { 0, 0.05, 0.1, 0.2, 0.3 })
                foreach (var refit in new[] { false, true })
                    cases.Add(($"rows {Math.Min(calibration, 10_000)}, tol {tolerance:G3}{(refit ? ", refit" : "")}",
                        new PruningOptions { TargetSparsity = sparsity, MaxCalibrationRows = calibration, Trees = { LeafPruningTolerance = tolerance, RefitLeaves = refit } }));
        foreach (var (label, options) in cases)
        {
            using var model = ml.Compression().Prune(teacher, options).Fit(train);
            var size = TreeModelMeasure.Size(TreeModelMeasure.Onnx(ml, model, train));
            double auc = ml.BinaryClassification.Evaluate(model.Transform(test)).AreaUnderRocCurve;
            var description = model.Report.Final.Description;
            int leafAt = description.IndexOf(" Leaf pruning", StringComparison.Ordinal);
            result.Notes.Add($"sweep {label}: AUC {auc:F4}, score RMSE vs teacher {ScoreRmse(teacher, model, test):F3}, {size.Trees} trees, {size.Nodes} nodes, ONNX {size.OnnxBytes:N0} B, zip {ZipBytes(ml, model, train.Schema):N0} B"
                + (leafAt >= 0 ? $" —{description[leafAt..]}" : ""));
        }
    }

    private static long ZipBytes(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(model, schema, zip);
        return zip.Length;
    }

    private static double ScoreRmse(ITransformer reference, ITransformer model, IDataView data)
    {
        var a = Scores(reference.Transform(data));
        var b = Scores(model.Transform(data));
        return Math.Sqrt(a.Zip(b).Average(p => (p.First - p.Second) * (p.First - p.Second)));
        static float[] Scores(IDataView scored) => scored.GetColumn<float>("Score").ToArray();
    }
}

/// <summary>One e-mail: its label and 57 numeric features.</summary>
public sealed class SpamRow
{
    public string Label { get; set; } = "";
    [VectorType(57)] public float[] Features { get; set; } = Array.Empty<float>();
}
