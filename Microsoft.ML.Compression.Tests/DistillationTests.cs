using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Distillation: soft targets for every task, weighted expansion or proportional copies, label blending.</summary>
[TestClass]
public sealed class DistillationTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    [TestMethod]
    public void MulticlassStudentWithWeightColumnLearnsTheTeachersDistribution()
    {
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfLeaves: 16, numberOfIterations: 100)).Fit(train);
        var student = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(exampleWeightColumnName: "Weight", numberOfLeaves: 16, numberOfIterations: 10));
        using var distilled = _ml.Compression().Distill(teacher, student).Fit(train);
        var labelsOnly = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfLeaves: 16, numberOfIterations: 10)).Fit(train);
        double teacherAcc = _ml.MulticlassClassification.Evaluate(teacher.Transform(test)).MicroAccuracy;
        double acc = _ml.MulticlassClassification.Evaluate(distilled.Transform(test)).MicroAccuracy;
        double baseline = _ml.MulticlassClassification.Evaluate(labelsOnly.Transform(test)).MicroAccuracy;
        // Teacher and student number their keys independently: compare the predicted label values.
        var t = PredictedValues(teacher.Transform(test));
        var s = PredictedValues(distilled.Transform(test));
        double agreement = t.Zip(s).Count(p => p.First == p.Second) / (double)t.Length;
        Console.WriteLine($"letter: teacher {teacherAcc:F4}, distilled {acc:F4}, labels-only {baseline:F4}, agreement {agreement:F4}");
        StringAssert.Contains(distilled.Report.Stages[1].Description, "weighted rows");
        Assert.IsTrue(acc > teacherAcc - 0.1, $"teacher {teacherAcc}, student {acc}");
        Assert.IsTrue(agreement > 0.8, $"agreement {agreement}");
    }

    private static string[] PredictedValues(IDataView scored)
        => _ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<ReadOnlyMemory<char>>("PredictedValue").Select(v => v.ToString()).ToArray();

    [TestMethod]
    public void BinaryStudentWithoutWeightColumnGetsProportionalCopiesInTheDataLabelType()
    {
        var (train, test) = TestData.Split(_ml, TestData.Spam(_ml));
        var toBool = _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label");
        var teacher = toBool.Append(_ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 200)).Fit(train);
        using var distilled = _ml.Compression().Distill(teacher, toBool.Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20)),
            new DistillationOptions { Alpha = 0.7, SoftTargetResolution = 8 }).Fit(train);
        StringAssert.Contains(distilled.Report.Stages[1].Description, "8 copies");
        double teacherAuc = _ml.BinaryClassification.Evaluate(teacher.Transform(test)).AreaUnderRocCurve;
        double auc = _ml.BinaryClassification.Evaluate(distilled.Transform(test)).AreaUnderRocCurve;
        Console.WriteLine($"spam: teacher AUC {teacherAuc:F4}, distilled {auc:F4}");
        Assert.IsTrue(auc > teacherAuc - 0.02, $"teacher {teacherAuc}, student {auc}");
    }

    [TestMethod]
    public void RegressionStudentRegressesOnTheTeachersScore()
    {
        var (train, test) = TestData.Split(_ml, TestData.Cps(_ml));
        var featurize = _ml.Transforms.Categorical.OneHotEncoding("region")
            .Append(_ml.Transforms.Concatenate("Features", "education", "experience", "region"));
        var teacher = featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 200, numberOfLeaves: 16)).Fit(train);
        using var distilled = _ml.Compression().Distill(teacher, featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 16))).Fit(train);
        var teacherRmse = _ml.Regression.Evaluate(teacher.Transform(test)).RootMeanSquaredError;
        var rmse = _ml.Regression.Evaluate(distilled.Transform(test)).RootMeanSquaredError;
        Assert.IsTrue(rmse < teacherRmse * 1.05, $"teacher {teacherRmse}, student {rmse}");
        var fidelity = TestData.Scores(teacher.Transform(test)).Zip(TestData.Scores(distilled.Transform(test))).Average(p => Math.Abs(p.First - p.Second));
        Assert.IsTrue(fidelity < 0.2 * teacherRmse, $"mean |teacher - student| {fidelity}");
    }

    [TestMethod]
    public void AlphaBelowOneWithoutLabelColumnIsRejected()
    {
        var spam = TestData.SpamBool(_ml);
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5).Fit(spam);
        var unlabeled = _ml.Transforms.DropColumns("Label").Fit(spam).Transform(spam);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression()
            .Distill(teacher, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5), new DistillationOptions { Alpha = 0.5 }).Fit(unlabeled));
        Assert.AreEqual("Label", e.ColumnName);
    }
}
