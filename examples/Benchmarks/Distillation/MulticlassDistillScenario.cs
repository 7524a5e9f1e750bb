using System.Diagnostics;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Benchmarks.Distillation;

/// <summary>
/// (b) letter: a large LightGBM multiclass teacher vs students with a tenth of its trees: labels only, row expansion
/// (the default), hard labels with MUNGE rows, and per-class regression (26 regressors merged into one ONNX graph).
/// </summary>
public static class MulticlassDistillScenario
{
    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var (data, featureCount) = Tabular.Load(ml, "letter.csv", DataKind.String);
        var split = ml.Data.TrainTestSplit(data, 0.3, seed: 42);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
        int teacherRounds = s.Quick ? 50 : 300, studentRounds = teacherRounds / 10;
        const int Leaves = 32;             // the teacher's: a tenth of the trees, not smaller trees
        const double StudentRate = 0.15;   // the best of 0.1, 0.15, 0.2, 0.3 for the labels-only student (30 rounds)
        const double PerClassRate = 0.3;   // per-class regressors fit logits of up to ±9 with 30 trees: also measured with a larger rate

        IEstimator<ITransformer> Model(int rounds, double rate, string? weight) => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
            {
                NumberOfIterations = rounds, NumberOfLeaves = Leaves, LearningRate = rate,
                MinimumExampleCountPerLeaf = 5, NumberOfThreads = 1, Seed = 1, ExampleWeightColumnName = weight,
            }));
        // Per-class regression: 26 LightGBM regressors of `studentRounds` trees × the same leaves, as many trees as the row-expansion student.
        IEstimator<ITransformer> Regressor(double rate) => ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
        {
            NumberOfIterations = studentRounds, NumberOfLeaves = Leaves, LearningRate = rate,
            MinimumExampleCountPerLeaf = 5, NumberOfThreads = 1, Seed = 1,
        });
        DistillationOptions PerClass(double rate) => new() { MulticlassTargets = MulticlassTargets.PerClassRegression, RegressionStudent = Regressor(rate) };
        var sw = Stopwatch.StartNew();
        var teacher = Model(teacherRounds, 0.05, null).Fit(train);
        double teacherSeconds = sw.Elapsed.TotalSeconds;
        var labelsOnly = Model(studentRounds, StudentRate, null).Fit(train);
        int factor = 1;
        var variants = new (string Name, IEstimator<ITransformer> Student, DistillationOptions Options)[]
        {
            ("distilled", Model(studentRounds, StudentRate, "Weight"), new DistillationOptions()),
            ($"hard labels + MUNGE ×{factor}", Model(studentRounds, StudentRate, "Weight"),
                new DistillationOptions { HardLabels = true, Augmentation = { Factor = factor, SampleSize = 4000 } }),
            ("per-class regression", Model(studentRounds, StudentRate, null), PerClass(StudentRate)),
            ($"per-class regression, rate {PerClassRate}", Model(studentRounds, StudentRate, null), PerClass(PerClassRate)),
        };
        var seconds = new List<double>();
        var distilled = new List<CompressedModel>();
        foreach (var v in variants)
        {
            v.Options.Selection.TrainLabelOnlyBaseline = false; // trained once above
            sw.Restart();
            distilled.Add(ml.Compression().Distill(teacher, v.Student, v.Options).WithEvaluationData(test).Fit(train));
            seconds.Add(sw.Elapsed.TotalSeconds);
        }

        double Accuracy(ITransformer m) => ml.MulticlassClassification.Evaluate(m.Transform(test)).MicroAccuracy;
        long Zip(ITransformer m) { using var z = new MemoryStream(); ml.Model.Save(m, train.Schema, z); return z.Length; }
        double Batch(ITransformer m) => Timing.RowsPerSecond(s, () => m.Transform(test).GetColumn<uint>("PredictedLabel").LongCount());
        var models = new ITransformer[] { teacher, labelsOnly }.Concat(distilled).ToArray();
        int studentTrees = studentRounds * 26;
        var result = new ScenarioResult
        {
            Name = $"Distillation: letter (26 classes), LightGBM {teacherRounds} rounds vs {studentRounds}-round students",
            Description = $"data/letter.csv, 70/30 split (seed 42), {featureCount} integer features. LightGBM multiclass grows one tree per class per round: "
                + $"teacher {teacherRounds} rounds × {Leaves} leaves (learning rate 0.05, {teacherRounds * 26} trees, {teacherSeconds:F1} s); students {studentRounds} rounds × {Leaves} leaves "
                + $"(learning rate {StudentRate}, {studentTrees} trees) on the labels alone; distilled by row expansion (soft targets through a weight column, {seconds[0]:F1} s); "
                + $"on the teacher's hard labels of the train rows plus {factor} MUNGE row per row ({seconds[1]:F1} s); "
                + $"and per-class regression: 26 LightGBM regressors × {studentRounds} trees × {Leaves} leaves on the teacher's centred per-class logits, merged into one ONNX softmax graph "
                + $"(learning rate {StudentRate}: {seconds[2]:F1} s; {PerClassRate}: {seconds[3]:F1} s).",
            Variants = new[] { "teacher", "labels only" }.Concat(variants.Select(v => v.Name)).ToArray(),
        };
        result.Add("trees", "count", false, "F0", new double?[] { teacherRounds * 26, studentTrees }.Concat(distilled.Select(_ => (double?)studentTrees)).ToArray());
        result.Add("accuracy (test)", "fraction", true, "F4", models.Select(m => (double?)Accuracy(m)).ToArray());
        result.Add("agreement with teacher (test)", "fraction", true, "F4",
            new double?[] { 1.0, null }.Concat(distilled.Select(d => d.Report.Stages[1].EvaluationAgreement)).ToArray());
        result.Add("saved zip", "bytes", false, "F0", models.Select(m => (double?)Zip(m)).ToArray());
        result.Add("batch Transform", "rows/s", true, "F0", models.Select(m => (double?)Batch(m)).ToArray());
        foreach (var d in distilled) d.Dispose();
        return result;
    }
}
