using Microsoft.ML;
using Microsoft.ML.Compression.Distillation;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Microsoft.ML.Compression.Tests;

/// <summary>MulticlassTargets.PerClassRegression: K regression students merged into one ONNX multiclass model, and its option checks.</summary>
[TestClass]
public sealed class PerClassRegressionTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    /// <summary>Single-threaded LightGBM: OpenMP threads spin badly on a busy 2-core machine.</summary>
    private static IEstimator<ITransformer> Multiclass(int leaves, int iterations)
        => _ml.Transforms.Conversion.MapValueToKey("Label").Append(_ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
        {
            NumberOfLeaves = leaves, NumberOfIterations = iterations, NumberOfThreads = 1, MinimumExampleCountPerLeaf = 5,
        }));

    private static LightGbmRegressionTrainer Regressor(int leaves, int iterations) => TestData.LightGbmRegressor(_ml, leaves, iterations);

    private static DistillationOptions PerClass(IEstimator<ITransformer>? regression) => new()
    {
        MulticlassTargets = MulticlassTargets.PerClassRegression, RegressionStudent = regression,
    };

    private static string[] PredictedValues(IDataView scored)
        => _ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<ReadOnlyMemory<char>>("PredictedValue").Select(v => v.ToString()).ToArray();

    [TestMethod]
    public void TargetsAreCentredLogitsWhoseSoftmaxTimesTheTemperatureGivesTheFlooredProbabilitiesBack()
    {
        var p = new[] { 0.7, 0.2, 0.1 - 1e-9, 1e-9 };
        var floored = p.Select(x => Math.Max(x, PerClassStudent.ProbabilityFloor)).ToArray();
        foreach (var temperature in new[] { 1.0, 2.0, 0.5 })
        {
            var z = PerClassStudent.LogTargets(p, temperature);
            Assert.AreEqual(0, z.Sum(), 1e-4, "centred");
            Assert.AreEqual(Math.Log(0.7 / 0.2) / temperature, z[0] - z[1], 1e-5, "a difference of logits divided by T");
            // What the merged graph computes: softmax(T · z).
            var e = z.Select(v => Math.Exp(temperature * v)).ToArray();
            for (int c = 0; c < p.Length; c++) Assert.AreEqual(floored[c] / floored.Sum(), e[c] / e.Sum(), 1e-5, $"T {temperature}, class {c}");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PerClassStudentIsOneOnnxMulticlassModelThatMlNetEvaluatesSavesAndLoads()
    {
        var (train, test) = TestData.Split(_ml, TestData.Head(_ml, TestData.Letter(_ml), 1000));
        var teacher = Multiclass(8, 20).Fit(train);
        using var distilled = _ml.Compression().Distill(teacher, Multiclass(8, 4), PerClass(Regressor(8, 8))).WithEvaluationData(test).Fit(train);
        Console.WriteLine(distilled.Report);
        var row = distilled.Report.Stages[1];
        Assert.AreEqual(ModelTask.MulticlassClassification, distilled.Report.Task);
        StringAssert.Contains(row.Description, "26 regression students (one per class)");
        Assert.IsNotNull(distilled.OnnxModel, "the merged graph is the model");
        Assert.IsTrue(row.EvaluationAgreement > 0.6, $"agreement {row.EvaluationAgreement}");
        Assert.IsTrue(row.BaselineEvaluationMetric is > 0.3, $"labels-only baseline (the multiclass student) {row.BaselineEvaluationMetric}");

        // ML.NET's own evaluator reads it: Label and PredictedLabel are the same key type, in the teacher's class order.
        var scored = distilled.Transform(test);
        double accuracy = _ml.MulticlassClassification.Evaluate(scored).MicroAccuracy;
        Assert.AreEqual(row.EvaluationMetric!.Value, accuracy, 1e-9);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        Assert.IsTrue(scores.All(s => s.Length == 26 && Math.Abs(s.Sum() - 1) < 1e-4), "softmax probabilities");
        var studentValues = PredictedValues(scored);
        // PredictedLabel is the class of the highest score.
        var keys = scored.GetColumn<uint>("PredictedLabel").ToArray();
        for (int i = 0; i < keys.Length; i++) Assert.AreEqual(Array.IndexOf(scores[i], scores[i].Max()) + 1, (int)keys[i], $"row {i}");
        var teacherValues = PredictedValues(teacher.Transform(test));
        Assert.AreEqual(row.EvaluationAgreement!.Value, teacherValues.Zip(studentValues).Count(p => p.First == p.Second) / (double)teacherValues.Length, 1e-9);

        // Saved and loaded by ML.NET, it predicts the same through the standard OnnxTransformer (one row per call).
        using var zip = new MemoryStream();
        _ml.Model.Save(distilled, train.Schema, zip);
        zip.Position = 0;
        var loaded = _ml.Model.Load(zip, out _);
        var loadedScored = loaded.Transform(test);
        CollectionAssert.AreEqual(studentValues, PredictedValues(loadedScored));
        var loadedScores = loadedScored.GetColumn<float[]>("Score").ToArray();
        for (int i = 0; i < scores.Length; i++)
            for (int c = 0; c < 26; c++) Assert.AreEqual(scores[i][c], loadedScores[i][c], 1e-6);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PerClassStudentWithItsOwnFeaturizationAndATemperatureFollowsTheTeacher()
    {
        var (train, test) = TestData.Split(_ml, TestData.Head(_ml, TestData.Letter(_ml), 800));
        var teacher = Multiclass(8, 15).Fit(train);
        var regression = _ml.Transforms.NormalizeMinMax("Scaled", "Features")
            .Append(_ml.Regression.Trainers.FastTree(featureColumnName: "Scaled", numberOfLeaves: 8, numberOfTrees: 6, minimumExampleCountPerLeaf: 5));
        var options = PerClass(regression);
        options.Temperature = 2;
        options.Selection.TrainLabelOnlyBaseline = false;
        using var distilled = _ml.Compression().Distill(teacher, Multiclass(8, 2), options).WithEvaluationData(test).Fit(train);
        var row = distilled.Report.Stages[1];
        Assert.IsNull(row.BaselineMetric, "baseline off");
        Assert.IsTrue(row.EvaluationAgreement > 0.5, $"agreement {row.EvaluationAgreement}");
        Assert.IsTrue(distilled.Transformers.Any(t => t.GetType().Name.Contains("Normaliz")), "the regression student's featurization is part of the model");
        // At T = 2 the targets are half those at T = 1; least-squares trees fit them at half scale, and the graph
        // multiplies by T again: both students give the same probabilities (an unsoftened estimate of the teacher's).
        options.Temperature = 1;
        using var atOne = _ml.Compression().Distill(teacher, Multiclass(8, 2), options).Fit(train);
        var two = distilled.Transform(test).GetColumn<float[]>("Score").ToArray();
        var one = atOne.Transform(test).GetColumn<float[]>("Score").ToArray();
        double maxDiff = two.Zip(one).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        Assert.IsTrue(maxDiff < 1e-3, $"largest difference {maxDiff}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PerClassStudentIsAGraphLaterStagesEdit()
    {
        var (train, test) = TestData.Split(_ml, TestData.Head(_ml, TestData.Letter(_ml), 600));
        var teacher = Multiclass(8, 10).Fit(train);
        var options = PerClass(Regressor(8, 5));
        options.Selection.TrainLabelOnlyBaseline = false;
        using var compressed = _ml.Compression().Distill(teacher, Multiclass(8, 2), options)
            .Append(_ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Float16 }))
            .WithEvaluationData(test).Fit(train);
        var report = compressed.Report;
        CollectionAssert.AreEqual(new[] { "Teacher", "Distill", "Quantize" }, report.Stages.Select(s => s.Stage).ToArray());
        Assert.IsTrue(report.Final.OnnxBytes < report.Stages[1].OnnxBytes, report.ToString());
        Assert.AreEqual(report.Stages[1].EvaluationMetric!.Value, report.Final.EvaluationMetric!.Value, 0.02, report.ToString());
        Assert.AreEqual(report.Final.EvaluationMetric!.Value, _ml.MulticlassClassification.Evaluate(compressed.Transform(test)).MicroAccuracy, 1e-9);
    }

    [TestMethod]
    public void PerClassOptionsAreCheckedBeforeAnyTraining()
    {
        var letter = TestData.Head(_ml, TestData.Letter(_ml), 300);
        var teacher = Multiclass(4, 3).Fit(letter);
        var student = Multiclass(4, 2);

        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, student, PerClass(null)));
        Assert.AreEqual("RegressionStudent", e.ParamName);
        e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, student, PerClass(Multiclass(4, 2))));
        StringAssert.Contains(e.Message, "regression trainer");
        e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, student, new DistillationOptions { RegressionStudent = Regressor(4, 2) }));
        StringAssert.Contains(e.Message, "PerClassRegression");
        var hard = PerClass(Regressor(4, 2));
        hard.HardLabels = true;
        Assert.AreEqual("HardLabels", Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, student, hard)).ParamName);
        var otherLabel = PerClass(_ml.Regression.Trainers.LightGbm(labelColumnName: "Target"));
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, student, otherLabel)).Message, "'Target'");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(teacher, student, new DistillationOptions { MulticlassTargets = (MulticlassTargets)7 }));
        // The student given to Distill stays the multiclass one (the labels-only baseline).
        e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, Regressor(4, 2), PerClass(Regressor(4, 2))));
        Assert.AreEqual("student", e.ParamName);

        // A binary teacher: rejected before the teacher reads a row.
        var spam = TestData.Head(_ml, TestData.SpamBool(_ml), 200);
        var binaryTeacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2).Fit(spam);
        var rows = 0;
        var counted = new CountingView(spam, () => rows++);
        e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(binaryTeacher, student, PerClass(Regressor(4, 2))).Fit(counted));
        StringAssert.Contains(e.Message, "BinaryClassification");
        Assert.AreEqual(0, rows, "rejected before the teacher read a row");
    }

    /// <summary>Counts the cursors that read a column (Fit's "any rows?" check reads none).</summary>
    private sealed class CountingView(IDataView source, Action onCursor) : IDataView
    {
        public bool CanShuffle => source.CanShuffle;
        public DataViewSchema Schema => source.Schema;
        public long? GetRowCount() => source.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            if (columnsNeeded.Any()) onCursor();
            return source.GetRowCursor(columnsNeeded, rand);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            if (columnsNeeded.Any()) onCursor();
            return source.GetRowCursorSet(columnsNeeded, n, rand);
        }
    }
}
