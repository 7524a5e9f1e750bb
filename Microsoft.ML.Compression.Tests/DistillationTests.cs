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
        var teacher = _ml.BinaryClassification.Trainers.SdcaLogisticRegression().Fit(spam);
        var unlabeled = _ml.Transforms.DropColumns("Label").Fit(spam).Transform(spam);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression()
            .Distill(teacher, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5), new DistillationOptions { Alpha = 0.5 }).Fit(unlabeled));
        Assert.AreEqual("Label", e.ColumnName);
    }
}
