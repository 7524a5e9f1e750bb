using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Coefficient pruning of linear models: data-aware ranking and least-squares reconstruction.</summary>
[TestClass]
public sealed class LinearPruningTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        _teacher = _ml.Transforms.NormalizeMeanVariance("Features")
            .Append(_ml.BinaryClassification.Trainers.LbfgsLogisticRegression()).Fit(_train);
    }

    private static double ScoreRmse(ITransformer model) => TestData.ScoreRmse(_teacher, model, _test);

    [TestMethod]
    public void ReconstructionAfterPruningReproducesTheTeacherBetterThanZeroingAlone()
    {
        using var rebuilt = _ml.Compression().Prune(_teacher, new PruningOptions { TargetSparsity = 0.7 }).Fit(_train);
        using var zeroed = _ml.Compression().Prune(_teacher, new PruningOptions { TargetSparsity = 0.7, Reconstruct = false }).Fit(_train);
        double a = ScoreRmse(rebuilt), b = ScoreRmse(zeroed);
        var teacherAuc = _ml.BinaryClassification.Evaluate(_teacher.Transform(_test)).AreaUnderRocCurve;
        var aucRebuilt = _ml.BinaryClassification.Evaluate(rebuilt.Transform(_test)).AreaUnderRocCurve;
        var aucZeroed = _ml.BinaryClassification.Evaluate(zeroed.Transform(_test)).AreaUnderRocCurve;
        Console.WriteLine($"70% of 57 coefficients pruned: score RMSE reconstructed {a:F3} vs zeroed {b:F3}; AUC teacher {teacherAuc:F4}, reconstructed {aucRebuilt:F4}, zeroed {aucZeroed:F4}");
        Assert.IsTrue(a < b, $"reconstructed {a}, zeroed {b}");
        Assert.IsTrue(aucRebuilt > teacherAuc - 0.01, $"teacher {teacherAuc}, pruned {aucRebuilt}");
        StringAssert.Contains(rebuilt.Report.Final.Description, "refitted by least squares");
        Assert.AreEqual(0.7, rebuilt.Report.Final.Sparsity!.Value, 0.03);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void TextModelWithAHundredThousandFeaturesIsPrunedAndQuantizedWithoutDensifyingTheData()
    {
        var data = _ml.Data.LoadFromTextFile(TestData.Path("spamassassin_3000.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("subject", DataKind.String, 1), new TextLoader.Column("body", DataKind.String, 2) },
        });
        var (train, test) = TestData.Split(_ml, _ml.Data.TakeRows(data, 1500));
        var teacher = _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["ham"] = false }, "Label")
            .Append(_ml.Transforms.Text.FeaturizeText("Features", new Microsoft.ML.Transforms.Text.TextFeaturizingEstimator.Options(), "subject", "body"))
            .Append(_ml.BinaryClassification.Trainers.LbfgsLogisticRegression()).Fit(train);
        var width = ((VectorDataViewType)teacher.Transform(test).Schema["Features"].Type).Size;
        Assert.IsTrue(width > 50_000, $"{width} features");
        using var compressed = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.9 }).Append(_ml.Compression().Quantize()).Fit(train);
        var before = _ml.BinaryClassification.Evaluate(teacher.Transform(test)).Accuracy;
        var after = _ml.BinaryClassification.Evaluate(compressed.Transform(test)).Accuracy;
        Console.WriteLine($"spamassassin text ({width} features): accuracy {before:F4} → {after:F4} after 90 % pruning + INT8; zip {compressed.Report.Original.ZipBytes} → {compressed.Report.Final.ZipBytes}");
        Assert.IsTrue(after >= before - 0.01, $"before {before}, after {after}");
        Assert.IsTrue(compressed.Report.Stages[1].Sparsity >= 0.9);
    }
}
