using System.Diagnostics;
using Benchmarks.Common;
using Benchmarks.Trees;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Benchmarks.Distillation;

/// <summary>
/// (a) A large early-stopped LightGBM teacher on a binary data set distilled into a small LightGBM student, with and
/// without MUNGE augmentation, and a regression student of the same shape on the teacher's logit, next to the same
/// small model trained on the labels alone.
/// </summary>
public static class BinaryDistillScenario
{
    public static ScenarioResult Run(Settings s, string file, string positive, string negative, string title)
    {
        var ml = new MLContext(seed: 1);
        var (raw, featureCount) = Tabular.Load(ml, file, DataKind.String);
        var data = ml.Data.Cache(ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { [positive] = true, [negative] = false }, "Label")
            .Fit(raw).Transform(raw));
        // 60 / 20 / 20: train (teacher and students), validation (teacher's early stopping only), test.
        var first = ml.Data.TrainTestSplit(data, 0.2, seed: 42);
        var second = ml.Data.TrainTestSplit(first.TrainSet, 0.25, seed: 42);
        IDataView train = ml.Data.Cache(second.TrainSet), valid = ml.Data.Cache(second.TestSet), test = ml.Data.Cache(first.TestSet);
        long trainRows = train.GetColumn<bool>("Label").LongCount(), testRows = test.GetColumn<bool>("Label").LongCount();

        var sw = Stopwatch.StartNew();
        var teacher = Tabular.LargeBinaryTeacher(ml, s, train, valid);
        double teacherSeconds = sw.Elapsed.TotalSeconds;
        int teacherTrees = Tabular.TreeCount(teacher) ?? -1;

        int studentTrees = s.Quick ? 20 : 50;
        LightGbmBinaryTrainer Student(string? weight) => Tabular.BinaryStudent(ml, studentTrees, 0.1, weight);
        var labelsOnly = Student(null).Fit(train);
        sw.Restart();
        using var distilled = ml.Compression().Distill(teacher, Student("Weight"), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } })
            .WithEvaluationData(test).Fit(train);
        double distillSeconds = sw.Elapsed.TotalSeconds;
        int factor = s.Quick ? 2 : 5;
        sw.Restart();
        using var munged = ml.Compression().Distill(teacher, Student("Weight"), new DistillationOptions
        {
            Selection = { TrainLabelOnlyBaseline = false }, Augmentation = { Factor = factor, SampleSize = 5000 },
        }).WithEvaluationData(test).Fit(train);
        double mungeSeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        using var logit = ml.Compression().Distill(teacher, Student(null), new DistillationOptions
        { BinaryTargets = BinaryTargets.LogitRegression, RegressionStudent = Tabular.LogitStudent(ml, studentTrees, 0.1),
            Selection = { TrainLabelOnlyBaseline = false },
        }).WithEvaluationData(test).Fit(train);
        double logitSeconds = sw.Elapsed.TotalSeconds;

        var rows = Tabular.Rows(ml, test);
        var figures = new[] { (ITransformer)teacher, labelsOnly, distilled, munged, logit }
            .Select(m => BinaryModelMeasure.Measure(ml, s, m, train.Schema, test, rows)).ToArray();

        var result = new ScenarioResult
        {
            Name = $"Distillation: {title}, LightGBM teacher vs {studentTrees}-tree students",
            Description = $"data/{file} ({trainRows} train / {testRows} test rows, {featureCount} features after one-hot; 60/20/20 split, seed 42, the 20 % validation part only early-stops the teacher). "
                + $"Teacher: LightGBM up to {(s.Quick ? 200 : 1000)} trees × 64 leaves, learning rate 0.03, early-stopped after 100 rounds without gain: {teacherTrees} trees, trained in {teacherSeconds:F1} s. "
                + $"Students: LightGBM {studentTrees} trees × 16 leaves (learning rate 0.1), on the labels alone, distilled (exact soft targets through a weight column, {distillSeconds:F1} s), "
                + $"distilled with MUNGE ({factor} synthetic rows per row, {mungeSeconds:F1} s), "
                + $"and a LightGBM regression student of the same shape on the teacher's logit (BinaryTargets.LogitRegression, {logitSeconds:F1} s). All single-threaded.",
            Variants = new[] { "teacher", "labels only", "distilled", "distilled + MUNGE", "logit regression" },
        };
        result.Add("trees", "count", false, "F0", teacherTrees, Tabular.TreeCount(labelsOnly), studentTrees, studentTrees, studentTrees);
        result.Add("AUC (test)", "AUC", true, "F4", figures.Select(f => (double?)f.Auc).ToArray());
        result.Add("agreement with teacher (test)", "fraction", true, "F4", 1.0, Agreement(ml, teacher, labelsOnly, test),
            distilled.Report.Stages[1].EvaluationAgreement, munged.Report.Stages[1].EvaluationAgreement, logit.Report.Stages[1].EvaluationAgreement);
        result.Add("saved zip", "bytes", false, "F0", figures.Select(f => (double?)f.ZipBytes).ToArray());
        result.Add("batch Transform", "rows/s", true, "F0", figures.Select(f => (double?)f.BatchRowsPerSecond).ToArray());
        result.Add("PredictionEngine", "rows/s", true, "F0", figures.Select(f => (double?)f.EngineRowsPerSecond).ToArray());
        return result;
    }

    internal static double Agreement(MLContext ml, ITransformer a, ITransformer b, IDataView test)
    {
        var x = a.Transform(test).GetColumn<bool>("PredictedLabel").ToArray();
        var y = b.Transform(test).GetColumn<bool>("PredictedLabel").ToArray();
        return x.Zip(y).Count(p => p.First == p.Second) / (double)x.Length;
    }
}
