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

        sw.Restart();
        double sparsity = 1.0 - (double)s.SpamPrunedTrees / s.SpamTeacherTrees;
        using var pruned = StageProgress.Run("spam", progress => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = sparsity })
            .WithProgress(progress)
            .Fit(train));
        double pruneSeconds = sw.Elapsed.TotalSeconds;

        var rows = ml.Data.CreateEnumerable<SpamRow>(test, reuseRowObject: false).ToList();
        var a = BinaryModelMeasure.Measure(ml, s, teacher, train.Schema, test, rows);
        var b = BinaryModelMeasure.Measure(ml, s, pruned, train.Schema, test, rows);

        var result = new ScenarioResult
        {
            Name = $"Trees: spam, FastTree {s.SpamTeacherTrees} trees vs pruned to {s.SpamPrunedTrees}",
            Description = $"Spambase subset (data/spam.csv), 70/30 split (seed 7), {rows.Count} test rows, 57 numeric features. "
                + $"Pruning keeps {s.SpamPrunedTrees} trees, re-weighted by lasso to reproduce the teacher's score on the training data (TargetSparsity {sparsity:F2}); the pruned model runs as ONNX through ONNX Runtime: a batch of rows per call in Transform, one row per call (OnnxTransformer) in the PredictionEngine. "
                + $"Teacher trained in {trainSeconds:F1} s, pruning took {pruneSeconds:F1} s.",
            Variants = new[] { "teacher", "pruned" },
        };
        BinaryModelMeasure.AddRows(result, a, b);
        return result;
    }
}

/// <summary>One e-mail: its label and 57 numeric features.</summary>
public sealed class SpamRow
{
    public string Label { get; set; } = "";
    [VectorType(57)] public float[] Features { get; set; } = Array.Empty<float>();
}
