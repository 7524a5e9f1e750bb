using System.Diagnostics;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Benchmarks.Distillation;

/// <summary>(b) letter: a large LightGBM multiclass teacher vs students with a tenth of its boosting rounds.</summary>
public static class MulticlassDistillScenario
{
    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var (data, featureCount) = Tabular.Load(ml, "letter.csv", DataKind.String);
        var split = ml.Data.TrainTestSplit(data, 0.3, seed: 42);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
        int teacherRounds = s.Quick ? 50 : 300, studentRounds = teacherRounds / 10;

        IEstimator<ITransformer> Model(int rounds, int leaves, string? weight) => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
            {
                NumberOfIterations = rounds, NumberOfLeaves = leaves, LearningRate = rounds == teacherRounds ? 0.05 : 0.2,
                MinimumExampleCountPerLeaf = 5, NumberOfThreads = 1, Seed = 1, ExampleWeightColumnName = weight,
            }));
        var sw = Stopwatch.StartNew();
        var teacher = Model(teacherRounds, 32, null).Fit(train);
        double teacherSeconds = sw.Elapsed.TotalSeconds;
        var labelsOnly = Model(studentRounds, 16, null).Fit(train);
        sw.Restart();
        using var distilled = ml.Compression().Distill(teacher, Model(studentRounds, 16, "Weight"), new DistillationOptions { TrainLabelOnlyBaseline = false })
            .WithEvaluationData(test).Fit(train);
        double distillSeconds = sw.Elapsed.TotalSeconds;
        int factor = 1;
        sw.Restart();
        using var munged = ml.Compression().Distill(teacher, Model(studentRounds, 16, "Weight"),
            new DistillationOptions { TrainLabelOnlyBaseline = false, AugmentationFactor = factor, AugmentationSampleSize = 4000 })
            .WithEvaluationData(test).Fit(train);
        double mungeSeconds = sw.Elapsed.TotalSeconds;

        double Accuracy(ITransformer m) => ml.MulticlassClassification.Evaluate(m.Transform(test)).MicroAccuracy;
        long Zip(ITransformer m) { using var z = new MemoryStream(); ml.Model.Save(m, train.Schema, z); return z.Length; }
        double Batch(ITransformer m) => Timing.RowsPerSecond(s, () => m.Transform(test).GetColumn<uint>("PredictedLabel").LongCount());
        var models = new ITransformer[] { teacher, labelsOnly, distilled, munged };
        var result = new ScenarioResult
        {
            Name = $"Distillation: letter (26 classes), LightGBM {teacherRounds} rounds vs {studentRounds}-round students",
            Description = $"data/letter.csv, 70/30 split (seed 42), {featureCount} integer features. LightGBM multiclass grows one tree per class per round: "
                + $"teacher {teacherRounds} rounds × 32 leaves (learning rate 0.05, {teacherRounds * 26} trees, {teacherSeconds:F1} s); students {studentRounds} rounds × 16 leaves "
                + $"(learning rate 0.2, {studentRounds * 26} trees) on the labels alone, distilled (soft targets through a weight column, {distillSeconds:F1} s) and distilled with MUNGE ({factor} synthetic rows per row, {mungeSeconds:F1} s).",
            Variants = new[] { "teacher", "labels only", "distilled", "distilled + MUNGE" },
        };
        result.Add("trees", "count", false, "F0", teacherRounds * 26, studentRounds * 26, studentRounds * 26, studentRounds * 26);
        result.Add("accuracy (test)", "fraction", true, "F4", models.Select(m => (double?)Accuracy(m)).ToArray());
        result.Add("agreement with teacher (test)", "fraction", true, "F4", 1.0, null, distilled.Report.Stages[1].EvaluationAgreement, munged.Report.Stages[1].EvaluationAgreement);
        result.Add("saved zip", "bytes", false, "F0", models.Select(m => (double?)Zip(m)).ToArray());
        result.Add("batch Transform", "rows/s", true, "F0", models.Select(m => (double?)Batch(m)).ToArray());
        return result;
    }
}
