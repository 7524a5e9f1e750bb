using System.Diagnostics;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Benchmarks.Distillation;

/// <summary>(c) cps1988 wages: an early-stopped LightGBM regression teacher vs students with a tenth of its trees.</summary>
public static class RegressionDistillScenario
{
    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var (data, featureCount) = Tabular.Load(ml, "cps1988.csv", DataKind.Single);
        var first = ml.Data.TrainTestSplit(data, 0.2, seed: 42);
        var second = ml.Data.TrainTestSplit(first.TrainSet, 0.25, seed: 42);
        IDataView train = ml.Data.Cache(second.TrainSet), valid = ml.Data.Cache(second.TestSet), test = ml.Data.Cache(first.TestSet);

        var sw = Stopwatch.StartNew();
        var teacher = ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
        {
            NumberOfIterations = s.Quick ? 200 : 1000, NumberOfLeaves = 64, LearningRate = 0.01, EarlyStoppingRound = 100,
            MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
        }).Fit(train, valid);
        double teacherSeconds = sw.Elapsed.TotalSeconds;
        int teacherTrees = Tabular.TreeCount(teacher) ?? 100;
        int studentTrees = Math.Max(1, teacherTrees / 10);

        LightGbmRegressionTrainer Student() => ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
        {
            NumberOfIterations = studentTrees, NumberOfLeaves = 16, LearningRate = Math.Min(0.3, 1.5 / studentTrees), MinimumExampleCountPerLeaf = 10,
            NumberOfThreads = 1, Seed = 1,
        });
        var labelsOnly = Student().Fit(train);
        sw.Restart();
        using var distilled = ml.Compression().Distill(teacher, Student(), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).WithEvaluationData(test).Fit(train);
        double distillSeconds = sw.Elapsed.TotalSeconds;
        int factor = s.Quick ? 1 : 5;
        sw.Restart();
        using var munged = ml.Compression().Distill(teacher, Student(), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false }, Augmentation = { Factor = factor, SampleSize = 3000 } })
            .WithEvaluationData(test).Fit(train);
        double mungeSeconds = sw.Elapsed.TotalSeconds;

        double Rmse(ITransformer m) => ml.Regression.Evaluate(m.Transform(test)).RootMeanSquaredError;
        long Zip(ITransformer m) { using var z = new MemoryStream(); ml.Model.Save(m, train.Schema, z); return z.Length; }
        double Batch(ITransformer m) => Timing.RowsPerSecond(s, () => m.Transform(test).GetColumn<float>("Score").LongCount());
        var models = new ITransformer[] { teacher, labelsOnly, distilled, munged };
        var result = new ScenarioResult
        {
            Name = $"Distillation: cps1988 wages (regression), LightGBM {teacherTrees} trees vs {studentTrees}-tree students",
            Description = $"data/cps1988.csv (4,000 rows; {featureCount} features after one-hot), 60/20/20 split (seed 42), validation only early-stops the teacher. "
                + $"Teacher: LightGBM up to {(s.Quick ? 200 : 1000)} trees × 64 leaves, learning rate 0.01, early-stopped (100 rounds): {teacherTrees} trees, {teacherSeconds:F1} s. "
                + $"Students: {studentTrees} trees × 16 leaves (learning rate {Math.Min(0.3, 1.5 / studentTrees):G2}) on the labels alone, distilled on the teacher's scores ({distillSeconds:F1} s), and with MUNGE ({factor} synthetic rows per row, {mungeSeconds:F1} s).",
            Variants = new[] { "teacher", "labels only", "distilled", "distilled + MUNGE" },
        };
        result.Add("trees", "count", false, "F0", teacherTrees, studentTrees, studentTrees, studentTrees);
        result.Add("RMSE (test)", "USD/week", false, "F1", models.Select(m => (double?)Rmse(m)).ToArray());
        result.Add("score MSE vs teacher (test)", "USD²", false, "F0", 0, null, distilled.Report.Stages[1].EvaluationScoreMse, munged.Report.Stages[1].EvaluationScoreMse);
        result.Add("saved zip", "bytes", false, "F0", models.Select(m => (double?)Zip(m)).ToArray());
        result.Add("batch Transform", "rows/s", true, "F0", models.Select(m => (double?)Batch(m)).ToArray());
        return result;
    }
}
