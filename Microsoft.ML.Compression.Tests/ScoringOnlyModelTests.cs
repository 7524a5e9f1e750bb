using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Models without one of ML.NET's standard prediction transformers (here a field-aware factorization machine) teach
/// through their Score column and learn as students; there is nothing in them to prune or quantize, and the
/// library says so.
/// </summary>
[TestClass]
public sealed class ScoringOnlyModelTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _fastTree = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        _fastTree = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20).Fit(_train);
    }

    private static IEstimator<ITransformer> Ffm() => _ml.Transforms.NormalizeMinMax("Features")
        .Append(_ml.BinaryClassification.Trainers.FieldAwareFactorizationMachine(new[] { "Features" }));

    [TestMethod]
    [TestCategory("Slow")]
    public void AFactorizationMachineStudentLearnsATreeTeacherBetterThanTheLabels()
    {
        using var distilled = _ml.Compression().Distill(_fastTree, Ffm()).WithEvaluationData(_test).Fit(_train);
        var row = distilled.Report.Stages[1];
        Console.WriteLine(distilled.Report);
        Assert.IsNull(row.ParameterCount, "no predictor ConvertToOnnx exports: sizes come from the zip");
        Assert.IsTrue(row.ZipBytes > 0);
        Assert.IsTrue(row.EvaluationAgreement > 0.9, $"agreement {row.EvaluationAgreement}");
        double auc = _ml.BinaryClassification.Evaluate(distilled.Transform(_test)).AreaUnderRocCurve;
        Assert.AreEqual(auc, row.EvaluationMetric!.Value, 1e-9);
        // The soft targets of 20 trees teach the factorization machine more than the 0/1 labels do.
        Assert.IsTrue(auc > row.BaselineEvaluationMetric, $"distilled {auc} vs labels only {row.BaselineEvaluationMetric}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void AFactorizationMachineTeachesThroughItsScoreColumn()
    {
        var teacher = Ffm().Fit(_train);
        using var distilled = _ml.Compression().Distill(teacher, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20))
            .WithEvaluationData(_test).Fit(_train);
        var (teacherRow, row) = (distilled.Report.Stages[0], distilled.Report.Stages[1]);
        StringAssert.Contains(teacherRow.Description, "Score column");
        Assert.IsNull(teacherRow.ParameterCount);
        double teacherAuc = _ml.BinaryClassification.Evaluate(teacher.Transform(_test)).AreaUnderRocCurve;
        Assert.AreEqual(teacherAuc, teacherRow.EvaluationMetric!.Value, 1e-9);
        Assert.IsTrue(row.EvaluationAgreement > 0.9, $"agreement {row.EvaluationAgreement}");
        // The tree student is an ordinary ML.NET model: it can be compressed further.
        using var quantized = _ml.Compression().Quantize(distilled).Fit(_train);
        Assert.IsNull(quantized.OnnxModel, "a quantized tree student stays a native ML.NET model");
        StringAssert.Contains(quantized.Report.Final.Description, "native ML.NET model");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PruningOrQuantizingAScoringOnlyModelSaysToDistilItFirst()
    {
        var ffm = Ffm().Fit(_train);
        var direct = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Quantize(ffm));
        StringAssert.Contains(direct.Message, "Distill");
        using var student = _ml.Compression().Distill(_fastTree, Ffm(), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).Fit(_train);
        var again = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Prune(student).Fit(_train));
        StringAssert.Contains(again.Message, "Distil it into a student");
        // As a teacher it still works.
        using var redistilled = _ml.Compression().Distill(student, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 10), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).Fit(_train);
        Assert.AreEqual(ModelTask.BinaryClassification, redistilled.Report.Task);
    }

    [TestMethod]
    public void AScoringOnlyTeacherWhoseScoreDoesNotFitTheStudentIsRefusedBeforeTraining()
    {
        var ffm = Ffm().Fit(_train);
        var multiclass = _ml.Transforms.Conversion.MapValueToKey("Label").Append(_ml.MulticlassClassification.Trainers.SdcaMaximumEntropy());
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Distill(ffm, multiclass).Fit(_train));
        StringAssert.Contains(e.Message, "one Single score per class");
        // A transformer that scores nothing cannot teach.
        var noScore = _ml.Transforms.NormalizeMinMax("Features").Fit(_train);
        var none = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Distill(noScore, _ml.BinaryClassification.Trainers.FastTree()).Fit(_train));
        StringAssert.Contains(none.Message, "'Score'");
    }

    [TestMethod]
    public void AStudentEndingInACalibratorIsRefusedWithWhatToDoInstead()
    {
        var calibrated = _ml.BinaryClassification.Trainers.FastTree().Append(_ml.BinaryClassification.Calibrators.Platt());
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_fastTree, calibrated));
        StringAssert.Contains(e.Message, "calibrator after the trainer");
    }
}
