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

    private sealed class LetterLabel { public string Label { get; set; } = ""; }

    [TestCategory("Slow")]
    [TestMethod]
    public void EachBinaryLearnerReadsTheClassWeights()
    {
        // Five letters that the small students confuse (E, F, P, R, B): the teacher's probabilities are spread among them.
        var five = _ml.Data.FilterByCustomPredicate<LetterLabel>(TestData.Letter(_ml), r => !"EFPRB".Contains(r.Label));
        var (train, test) = TestData.Split(_ml, _ml.Data.Cache(five));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 50)).Fit(train);
        CompressedModel Distill(string? trainerWeight, string? optionWeight) => _ml.Compression()
            .Distill(teacher, Ova(trainerWeight), new DistillationOptions { StudentWeightColumnName = optionWeight, Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } })
            .WithEvaluationData(test).Fit(train);
        using var weighted = Distill("Weight", "Weight");
        using var copies = Distill(null, null);
        using var ignored = Distill(null, "Weight"); // weighted class rows, but the binary trainer reads no weights
        var (w, c, i) = (weighted.Report.Stages[1], copies.Report.Stages[1], ignored.Report.Stages[1]);
        Console.WriteLine($"weights: acc {w.EvaluationMetric:F4} KL fit {w.KlDivergence:F4} eval {w.EvaluationKlDivergence:F4} | copies: acc {c.EvaluationMetric:F4} KL fit {c.KlDivergence:F4} eval {c.EvaluationKlDivergence:F4} | weights ignored: KL fit {i.KlDivergence:F4}");
        StringAssert.Contains(w.Description, "weighted rows");
        StringAssert.Contains(c.Description, "StudentWeightColumnName"); // the copies say what to add
        // Read, the weights make the class rows the teacher's distribution; ignored, every likely class counts as much as the teacher's choice.
        Assert.IsTrue(i.KlDivergence > 1.2 * w.KlDivergence, $"KL on the fit rows: weights {w.KlDivergence}, ignored {i.KlDivergence}");
        // Per-class weights teach as well as copies (on letter they measured no better: see docs/stages.md).
        Assert.IsTrue(w.KlDivergence < 1.05 * c.KlDivergence, $"KL on the fit rows: weights {w.KlDivergence}, copies {c.KlDivergence}");
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
