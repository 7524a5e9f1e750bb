using Microsoft.ML;
using Microsoft.ML.Compression.Distillation;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Microsoft.ML.Compression.Tests;

/// <summary>BinaryTargets.LogitRegression: a regression student on the teacher's logit, as one ONNX binary model, and its option checks.</summary>
[TestClass]
public sealed class LogitRegressionTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.Sample(_ml, TestData.SpamBool(_ml), 0.5));
        _teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 16, numberOfTrees: 100).Fit(_train);
    }

    private static LightGbmRegressionTrainer Regressor(int leaves, int iterations) => TestData.LightGbmRegressor(_ml, leaves, iterations);

    private static IEstimator<ITransformer> BinaryStudent() => _ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 8, numberOfTrees: 10);

    private static DistillationOptions Logit(IEstimator<ITransformer>? regression) => new()
    {
        BinaryTargets = BinaryTargets.LogitRegression, RegressionStudent = regression,
    };

    [TestMethod]
    public void TargetsAreTheLogitOfTheClippedProbability()
    {
        Assert.AreEqual(0, LogitRegressionStudent.LogitTarget(0.5), 1e-7);
        Assert.AreEqual(Math.Log(9), LogitRegressionStudent.LogitTarget(0.9), 1e-6);
        Assert.AreEqual(-Math.Log(3), LogitRegressionStudent.LogitTarget(0.25), 1e-6);
        double bound = Math.Log((1 - LogitRegressionStudent.ProbabilityFloor) / LogitRegressionStudent.ProbabilityFloor);
        Assert.AreEqual(bound, LogitRegressionStudent.LogitTarget(1), 1e-5, "a certain teacher is clipped");
        Assert.AreEqual(-bound, LogitRegressionStudent.LogitTarget(0), 1e-5);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void LogitStudentIsOneOnnxBinaryModelWhoseScoreFollowsTheTeachersLogit()
    {
        using var distilled = _ml.Compression().Distill(_teacher, BinaryStudent(), Logit(Regressor(16, 40))).WithEvaluationData(_test).Fit(_train);
        Console.WriteLine(distilled.Report);
        var row = distilled.Report.Stages[1];
        Assert.AreEqual(ModelTask.BinaryClassification, distilled.Report.Task);
        StringAssert.Contains(row.Description, "regression student trained on the teacher's logit");
        StringAssert.Contains(row.Description, "one ONNX binary model");
        Assert.IsNotNull(distilled.OnnxModel, "the binary graph is the model");
        Assert.IsTrue(row.BaselineEvaluationMetric is > 0.9, $"labels-only baseline (the binary student) {row.BaselineEvaluationMetric}");
        Assert.IsTrue(row.EvaluationAgreement > 0.93, $"agreement {row.EvaluationAgreement}");

        // ML.NET's own evaluator reads it, and the report's metric is that evaluator's AUC.
        var scored = distilled.Transform(_test);
        var metrics = _ml.BinaryClassification.Evaluate(scored);
        Assert.AreEqual(row.EvaluationMetric!.Value, metrics.AreaUnderRocCurve, 1e-9);
        Assert.IsTrue(metrics.AreaUnderRocCurve > 0.95, $"AUC {metrics.AreaUnderRocCurve}");
        var score = scored.GetColumn<float>("Score").ToArray();
        var probability = scored.GetColumn<float>("Probability").ToArray();
        var predicted = scored.GetColumn<bool>("PredictedLabel").ToArray();
        for (int i = 0; i < score.Length; i++)
        {
            Assert.AreEqual(1 / (1 + Math.Exp(-score[i])), probability[i], 1e-5, $"row {i}: Probability = sigmoid(Score)");
            Assert.AreEqual(score[i] > 0, predicted[i], $"row {i}: PredictedLabel = Score > 0");
        }

        // Score estimates the teacher's own logit: much closer to it than a constant is.
        var teacherLogit = _teacher.Transform(_test).GetColumn<float>("Probability").Select(p => (double)LogitRegressionStudent.LogitTarget(p)).ToArray();
        double mean = teacherLogit.Average();
        double spread = Math.Sqrt(teacherLogit.Average(t => (t - mean) * (t - mean)));
        double rmse = Math.Sqrt(teacherLogit.Zip(score).Average(p => (p.First - p.Second) * (p.First - p.Second)));
        Assert.IsTrue(rmse < 0.5 * spread, $"RMSE to the teacher's logit {rmse:F3}, its spread {spread:F3}");

        // Saved and loaded by ML.NET, it predicts the same through the standard OnnxTransformer.
        using var zip = new MemoryStream();
        _ml.Model.Save(distilled, _train.Schema, zip);
        zip.Position = 0;
        var loaded = _ml.Model.Load(zip, out _);
        var loadedScore = loaded.Transform(_test).GetColumn<float>("Score").ToArray();
        for (int i = 0; i < score.Length; i++) Assert.AreEqual(score[i], loadedScore[i], 1e-5, $"row {i}");

        // Loaded back as a CompressedModel, it is the same binary model, and a later stage can compress it again.
        zip.Position = 0;
        using var reloaded = _ml.Compression().LoadModel(zip, out _);
        Assert.AreEqual(ModelTask.BinaryClassification, reloaded.Report.Task);
        var reloadedScore = reloaded.Transform(_test).GetColumn<float>("Score").ToArray();
        for (int i = 0; i < score.Length; i++) Assert.AreEqual(score[i], reloadedScore[i], 1e-5, $"row {i}");
        using var quantized = _ml.Compression().Quantize(reloaded, new QuantizationOptions { Precision = Precision.Float16 }).Fit(_train);
        Assert.AreEqual(metrics.AreaUnderRocCurve, _ml.BinaryClassification.Evaluate(quantized.Transform(_test)).AreaUnderRocCurve, 0.005);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void LogitStudentWithItsOwnFeaturizationAndATemperatureEstimatesTheUnsoftenedLogit()
    {
        var regression = _ml.Transforms.NormalizeMinMax("Scaled", "Features")
            .Append(_ml.Regression.Trainers.FastTree(featureColumnName: "Scaled", numberOfLeaves: 8, numberOfTrees: 20, minimumExampleCountPerLeaf: 5));
        // A teacher whose logits all lie inside the ±9.2 clip, so that the temperature only scales the targets.
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 4, numberOfTrees: 10).Fit(_train);
        var logits = teacher.Transform(_train).GetColumn<float>("Probability").Select(p => Math.Abs(Math.Log(p / (1.0 - p)))).ToArray();
        Assert.IsTrue(logits.Max() < 9, $"precondition: largest teacher logit {logits.Max():F2}");
        var options = Logit(regression);
        options.Selection.TrainLabelOnlyBaseline = false;
        options.Selection.ChooseOnValidation = false; // the two students are compared with each other, not chosen
        options.Temperature = 2;
        using var atTwo = _ml.Compression().Distill(teacher, BinaryStudent(), options).Fit(_train);
        Assert.IsNull(atTwo.Report.Stages[1].BaselineMetric, "baseline off");
        Assert.IsTrue(atTwo.Transformers.Any(t => t.GetType().Name.Contains("Normaliz")), "the regression student's featurization is part of the model");
        options.Temperature = 1;
        using var atOne = _ml.Compression().Distill(teacher, BinaryStudent(), options).Fit(_train);
        // At T = 2 the student learns logit / 2 and the graph doubles it again: both estimate the teacher's own logit
        // (least-squares trees fit the halved targets at half scale).
        var two = atTwo.Transform(_test).GetColumn<float>("Score").ToArray();
        var one = atOne.Transform(_test).GetColumn<float>("Score").ToArray();
        double maxDiff = two.Zip(one).Max(p => Math.Abs(p.First - p.Second));
        Assert.IsTrue(maxDiff < 1e-3, $"largest difference {maxDiff}");
        Assert.IsTrue(two.Max() > 1 && two.Min() < -1, "scores on the logit scale, not halved");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void LogitStudentWithUnlabeledRowsIsAGraphLaterStagesPruneAndQuantize()
    {
        var options = Logit(Regressor(16, 30));
        options.Selection.TrainLabelOnlyBaseline = false;
        options.UnlabeledData = TestData.DropLabel(_ml, _test);
        using var compressed = _ml.Compression().Distill(_teacher, BinaryStudent(), options)
            .Append(_ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 }))
            .Append(_ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }))
            .WithEvaluationData(_test).Fit(_train);
        var report = compressed.Report;
        Console.WriteLine(report);
        CollectionAssert.AreEqual(new[] { "Teacher", "Distill", "Prune", "Quantize" }, report.Stages.Select(s => s.Stage).ToArray());
        StringAssert.Contains(report.Stages[1].Description, "from UnlabeledData");
        Assert.IsTrue(report.Stages[2].OnnxBytes < report.Stages[1].OnnxBytes, "half the trees pruned: " + report);
        Assert.IsTrue(report.Final.OnnxBytes < report.Stages[2].OnnxBytes, report.ToString());
        Assert.AreEqual(report.Stages[1].EvaluationMetric!.Value, report.Final.EvaluationMetric!.Value, 0.02, report.ToString());
        Assert.AreEqual(report.Final.EvaluationMetric!.Value, _ml.BinaryClassification.Evaluate(compressed.Transform(_test)).AreaUnderRocCurve, 1e-9);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void ChurnPipelinesWithCategoricalFeaturizationDistillIntoALogitStudentWithItsOwnFeaturization()
    {
        // Raw churn rows (strings, missing values) with the label already Boolean; teacher and student featurize on their own.
        var raw = TestData.Churn(_ml);
        var data = TestData.Sample(_ml, _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["Yes"] = true, ["No"] = false }, "Label").Fit(raw).Transform(raw), 0.4);
        var (train, test) = TestData.Split(_ml, data);
        IEstimator<ITransformer> Featurize() => _ml.Transforms.Categorical.OneHotEncoding(TestData.ChurnCategorical.Select(c => new InputOutputColumnPair(c + "_onehot", c)).ToArray())
            .Append(_ml.Transforms.ReplaceMissingValues(TestData.ChurnNumeric.Select(c => new InputOutputColumnPair(c + "_filled", c)).ToArray()))
            .Append(_ml.Transforms.Concatenate("Features", TestData.ChurnCategorical.Select(c => c + "_onehot").Concat(TestData.ChurnNumeric.Select(c => c + "_filled")).ToArray()));
        var teacher = Featurize().Append(_ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 16, numberOfTrees: 100)).Fit(train);
        var options = Logit(Featurize().Append(Regressor(8, 30)));
        using var distilled = _ml.Compression().Distill(teacher, Featurize().Append(BinaryStudent()), options).WithEvaluationData(test).Fit(train);
        var row = distilled.Report.Stages[1];
        Console.WriteLine(distilled.Report);
        Assert.IsTrue(row.EvaluationAgreement > 0.85, $"agreement {row.EvaluationAgreement}");
        double teacherAuc = _ml.BinaryClassification.Evaluate(teacher.Transform(test)).AreaUnderRocCurve;
        double auc = _ml.BinaryClassification.Evaluate(distilled.Transform(test)).AreaUnderRocCurve;
        Assert.IsTrue(auc > teacherAuc - 0.03, $"student AUC {auc:F4}, teacher {teacherAuc:F4}");
        Assert.IsTrue(distilled.Transformers.Any(t => t.GetType().Name.Contains("OneHot")), "the student's own featurization runs before its graph");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void OnnxNetworkTeacherDistillsIntoALogitStudentThatFollowsItsLogitDifference()
    {
        // spam_mlp gives two logits; the binary teacher's logit is logit 1 − logit 0.
        var model = TestData.Network("spam_mlp");
        var options = Logit(Regressor(16, 60));
        // The logit student itself is under test: no choice that may return the label-only one (it was, within the noise of 149 held-out rows).
        options.Selection.ChooseOnValidation = false;
        options.Selection.TrainLabelOnlyBaseline = false;
        using var distilled = _ml.Compression().Distill(model, BinaryStudent(), options).WithEvaluationData(_test).Fit(_train);
        var row = distilled.Report.Stages[1];
        Console.WriteLine(distilled.Report);
        Assert.AreEqual(ModelTask.BinaryClassification, distilled.Report.Task);
        Assert.IsTrue(row.EvaluationAgreement > 0.9, $"agreement {row.EvaluationAgreement}");
        var network = _ml.Transforms.ApplyOnnxModel(model).Fit(_test).Transform(_test).GetColumn<float[]>("Score")
            .Select(l => (double)LogitRegressionStudent.LogitTarget(1 / (1 + Math.Exp(-(l[1] - l[0]))))).ToArray();
        var score = distilled.Transform(_test).GetColumn<float>("Score").Select(x => (double)x).ToArray();
        double mean = network.Average(), spread = Math.Sqrt(network.Average(t => (t - mean) * (t - mean)));
        double rmse = Math.Sqrt(network.Zip(score).Average(p => (p.First - p.Second) * (p.First - p.Second)));
        Assert.IsTrue(rmse < 0.5 * spread, $"RMSE to the network's logit {rmse:F3}, its spread {spread:F3}");
    }

    [TestMethod]
    public void LogitOptionsAreCheckedBeforeAnyTraining()
    {
        var student = BinaryStudent();
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_teacher, student, Logit(null)));
        Assert.AreEqual("RegressionStudent", e.ParamName);
        StringAssert.Contains(e.Message, "LogitRegression");
        e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_teacher, student, Logit(BinaryStudent())));
        StringAssert.Contains(e.Message, "regression trainer");
        var hard = Logit(Regressor(4, 2));
        hard.HardLabels = true;
        Assert.AreEqual("HardLabels", Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_teacher, student, hard)).ParamName);
        var both = Logit(Regressor(4, 2));
        both.MulticlassTargets = MulticlassTargets.PerClassRegression;
        Assert.AreEqual("BinaryTargets", Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_teacher, student, both)).ParamName);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(_teacher, student, new DistillationOptions { BinaryTargets = (BinaryTargets)5 }));
        // The student given to Distill stays the binary one (the labels-only baseline).
        e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_teacher, Regressor(4, 2), Logit(Regressor(4, 2))));
        Assert.AreEqual("student", e.ParamName);

        // A label that is not Boolean ("spam"/"nonspam", mapped inside the teacher's pipeline): refused before the student trains.
        var raw = TestData.Head(_ml, TestData.Spam(_ml), 300);
        var mapping = _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label");
        var stringTeacher = mapping.Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 3)).Fit(raw);
        var m = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Distill(stringTeacher, mapping.Append(BinaryStudent()), Logit(Regressor(4, 2))).Fit(raw));
        StringAssert.Contains(m.Message, "Map the label to Boolean");
        Assert.AreEqual("Label", m.ColumnName);
    }
}
