using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// One-versus-all students with DistillationOptions.StudentWeightColumnName: weighted class rows, so that each
/// binary learner learns the teacher's probability of its class, instead of proportional copies.
/// </summary>
[TestClass]
public sealed class OneVersusAllDistillationTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    private static IEstimator<ITransformer> Ova(string? weight) => _ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(_ml.MulticlassClassification.Trainers.OneVersusAll(_ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: weight, numberOfTrees: 10, numberOfLeaves: 8)));

    [TestMethod]
    public void PerClassWeightsFollowTheTeacherCloserThanCopies()
    {
        var (train, test) = TestData.Split(_ml, TestData.Sample(_ml, TestData.Letter(_ml), 0.4));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 60)).Fit(train);
        using var weighted = _ml.Compression().Distill(teacher, Ova("Weight"), new DistillationOptions { StudentWeightColumnName = "Weight", TrainLabelOnlyBaseline = false })
            .WithEvaluationData(test).Fit(train);
        using var copies = _ml.Compression().Distill(teacher, Ova(null), new DistillationOptions { TrainLabelOnlyBaseline = false })
            .WithEvaluationData(test).Fit(train);
        var (w, c) = (weighted.Report.Stages[1], copies.Report.Stages[1]);
        Console.WriteLine($"weights: acc {w.EvaluationMetric:F4} KL {w.EvaluationKlDivergence:F4} ({w.Description}) | copies: acc {c.EvaluationMetric:F4} KL {c.EvaluationKlDivergence:F4} ({c.Description})");
        StringAssert.Contains(w.Description, "weighted rows");
        StringAssert.Contains(c.Description, "StudentWeightColumnName"); // the copies say what to add
        Assert.IsTrue(w.KlDivergence < c.KlDivergence, $"KL on the fit rows: weights {w.KlDivergence}, copies {c.KlDivergence}");
        Assert.IsTrue(w.EvaluationMetric > c.EvaluationMetric - 0.02, $"accuracy: weights {w.EvaluationMetric}, copies {c.EvaluationMetric}");
    }

    [TestMethod]
    public void AStudentWeightColumnIsRefusedForATrainerThatShowsItsOwn()
    {
        var options = new DistillationOptions { StudentWeightColumnName = "Weight" };
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_ml.BinaryClassification.Trainers.FastTree(), options));
        Assert.AreEqual("options", e.ParamName);
        Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight"), options));
    }
}
