using Microsoft.ML;

namespace Microsoft.ML.Compression.Tests;

/// <summary>CompressionSweep: a small grid on spam (FastTree teacher), Pareto front and SmallestWithin.</summary>
[TestClass]
public sealed class SweepTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static SweepResult _result = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 60, numberOfLeaves: 16).Fit(_train);
        _result = new CompressionSweep(_ml, teacher)
        {
            Sparsities = new[] { 0.0, 0.5, 0.9 },
            Precisions = new Precision?[] { null, Precision.Int8 },
            Students = new[] { ("FastTree 10", (IEstimator<ITransformer>)_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 10, numberOfLeaves: 8)) },
        }.Run(_train, _test);
        Console.WriteLine(_result);
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void ASweepOverStudentSettingsPicksTheDistilledStudentWithTheBestValidationMetric()
    {
        // Student settings matter (README, LETTER.p2): a sweep with only distillation points is a tuner — run it on
        // validation rows, keep the models, take the best; the options (here unlabeled rows) reach every point.
        var (train, valid) = TestData.Split(_ml, _train, 0.4);
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 60, numberOfLeaves: 16).Fit(train);
        var grid = from rate in new[] { 0.05, 0.3 } from leaves in new[] { 4, 16 }
                   select ($"LightGBM rate {rate}, {leaves} leaves", (IEstimator<ITransformer>)_ml.BinaryClassification.Trainers.LightGbm(
                       new Microsoft.ML.Trainers.LightGbm.LightGbmBinaryTrainer.Options
                       {
                           NumberOfIterations = 20, NumberOfLeaves = leaves, LearningRate = rate, NumberOfThreads = 1, ExampleWeightColumnName = "Weight",
                       }));
        var result = new CompressionSweep(_ml, teacher)
        {
            Sparsities = new[] { 0.0 }, Precisions = new Precision?[] { null }, IncludeUndistilled = false, KeepModels = true,
            Students = grid.ToArray(),
            DistillationOptions = new DistillationOptions { UnlabeledData = TestData.DropLabel(_ml, _test), Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } },
        }.Run(train, valid);
        try
        {
            var students = result.Points.Where(p => !p.IsTeacher).ToList();
            Assert.AreEqual(4, students.Count);
            Assert.IsTrue(students.All(p => p.Report.Stages[1].Description.Contains("from UnlabeledData")), "the options reach every point");
            var best = students.MaxBy(p => p.Metric!.Value)!;
            Assert.AreEqual(best.Metric!.Value, _ml.BinaryClassification.Evaluate(best.Model!.Transform(valid)).AreaUnderRocCurve, 1e-9, "Metric is the validation AUC");
            Assert.IsTrue(students.Select(p => p.Metric).Distinct().Count() > 1, "the settings give different students");
        }
        finally
        {
            foreach (var p in result.Points) p.Model?.Dispose();
        }
    }

    [TestMethod]
    public void EveryGridPointRunsOnceWithTheTeacherFirst()
    {
        // (no student + 1 student) × 3 sparsities × 2 precisions, less the empty chain, plus the teacher.
        Assert.AreEqual(1 + 2 * 3 * 2 - 1, _result.Points.Count);
        Assert.IsTrue(_result.Points[0].IsTeacher);
        Assert.AreEqual("AUC", _result.MetricName);
        Assert.IsTrue(_result.HigherIsBetter);
        Assert.AreEqual(_result.Points.Count, _result.Points.Select(p => p.Name).Distinct().Count());
        Assert.IsTrue(_result.Points.All(p => p.Metric is > 0.5 and <= 1));
        var int8 = _result.Points.Single(p => p.Name == "prune 0.5 + Int8");
        CollectionAssert.AreEqual(new[] { "Original", "Prune", "Quantize" }, int8.Report.Stages.Select(s => s.Stage).ToArray());
        var distilled = _result.Points.Single(p => p.Name == "FastTree 10 + prune 0.9");
        CollectionAssert.AreEqual(new[] { "Teacher", "Distill", "Prune" }, distilled.Report.Stages.Select(s => s.Stage).ToArray());
        Assert.IsTrue(distilled.SizeBytes < _result.Teacher.SizeBytes / 5, $"{distilled.SizeBytes} vs {_result.Teacher.SizeBytes}");
    }

    [TestMethod]
    public void ParetoFrontIsSortedBySizeWithStrictlyImprovingMetricAndDominatesEveryOtherPoint()
    {
        var front = _result.ParetoFront;
        Assert.IsTrue(front.Count >= 2);
        for (int i = 1; i < front.Count; i++)
        {
            Assert.IsTrue(front[i].SizeBytes > front[i - 1].SizeBytes);
            Assert.IsTrue(front[i].Metric > front[i - 1].Metric, "a larger point on the front must score better");
        }
        foreach (var p in _result.Points.Except(front))
            Assert.IsTrue(front.Any(q => q.SizeBytes <= p.SizeBytes && q.Metric >= p.Metric), $"{p} is not dominated");
        // The best-scoring point is on the front.
        var best = _result.Points.Max(p => p.Metric!.Value);
        Assert.AreEqual(best, front[^1].Metric);
    }

    [TestMethod]
    public void SmallestWithinReturnsTheSmallestPointInsideTheTolerance()
    {
        double teacher = _result.Teacher.Metric!.Value;
        var within = _result.SmallestWithin(0.01)!;
        Assert.IsNotNull(within);
        Assert.IsTrue(within.Metric >= teacher - 0.01);
        Assert.IsTrue(_result.Points.Where(p => p.SizeBytes < within.SizeBytes).All(p => p.Metric < teacher - 0.01));
        Assert.IsTrue(within.SizeBytes < _result.Teacher.SizeBytes, "some compressed model should stay within a point of the teacher");
        // Zero tolerance: only models at least as good as the teacher; a huge tolerance: the smallest model of all.
        Assert.IsTrue(_result.SmallestWithin(0)!.Metric >= teacher);
        Assert.AreEqual(_result.Points.Min(p => p.SizeBytes), _result.SmallestWithin(1)!.SizeBytes);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _result.SmallestWithin(-0.1));
    }

    [TestMethod]
    public void LowerIsBetterMetricsFlipTheFront()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.SpamBool(ml);
        var asFloat = ml.Transforms.Conversion.ConvertType("Label", outputKind: Microsoft.ML.Data.DataKind.Single).Fit(data).Transform(data);
        var (train, test) = TestData.Split(ml, asFloat);
        var teacher = ml.Regression.Trainers.FastTree(numberOfTrees: 40, numberOfLeaves: 8).Fit(train);
        var result = new CompressionSweep(ml, teacher) { Sparsities = new[] { 0.0, 0.75 }, Precisions = new Precision?[] { null } }.Run(train, test);
        Assert.AreEqual("RMSE", result.MetricName);
        Assert.IsFalse(result.HigherIsBetter);
        Assert.AreEqual(2, result.Points.Count);
        var front = result.ParetoFront;
        for (int i = 1; i < front.Count; i++) Assert.IsTrue(front[i].Metric < front[i - 1].Metric);
        var within = result.SmallestWithin(1.0)!; // any RMSE up to teacher + 1: the pruned model
        Assert.AreEqual("prune 0.75", within.Name);
    }

    [TestMethod]
    public void AGridWithNothingToDoIsRejected()
    {
        var sweep = new CompressionSweep(_ml, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2).Fit(_train))
        {
            Sparsities = new[] { 0.0 },
            Precisions = new Precision?[] { null },
        };
        Assert.ThrowsExactly<ArgumentException>(() => sweep.Run(_train));
    }
}
