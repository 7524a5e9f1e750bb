using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Every task (binary, multiclass, regression) and teacher family (linear, trees) through the stages.</summary>
[TestClass]
public sealed class TaskTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    private static IEstimator<ITransformer> LetterFeaturization(MLContext ml) => ml.Transforms.Conversion.MapValueToKey("Label");

    [TestMethod]
    public void MulticlassLinearInt8KeepsAccuracyAndOutputsKeyPredictedLabelWithOriginalLabels()
    {
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var teacher = LetterFeaturization(_ml).Append(_ml.Transforms.NormalizeMinMax("Features"))
            .Append(_ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 20)).Fit(train);
        var teacherAcc = _ml.MulticlassClassification.Evaluate(teacher.Transform(test)).MicroAccuracy;
        using var compressed = _ml.Compression().Quantize(teacher).Fit(train);
        var scored = compressed.Transform(test);
        var acc = _ml.MulticlassClassification.Evaluate(scored).MicroAccuracy;
        Assert.AreEqual(teacherAcc, acc, 0.01);

        var predicted = scored.Schema["PredictedLabel"];
        Assert.IsInstanceOfType<KeyDataViewType>(predicted.Type);
        VBuffer<ReadOnlyMemory<char>> keys = default;
        predicted.GetKeyValues(ref keys);
        var labels = keys.DenseValues().Select(k => k.ToString()).ToList();
        CollectionAssert.AreEquivalent(Enumerable.Range('A', 26).Select(c => ((char)c).ToString()).ToList(), labels);
        // The compressed model predicts the same class as the teacher on nearly every row.
        var t = teacher.Transform(test).GetColumn<uint>("PredictedLabel").ToArray();
        var c = scored.GetColumn<uint>("PredictedLabel").ToArray();
        Assert.IsTrue(t.Zip(c).Count(p => p.First == p.Second) >= 0.98 * t.Length);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MulticlassLightGbmPruningHalvesTreesAndKeepsAccuracyWithinTwoPoints()
    {
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var teacher = LetterFeaturization(_ml)
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfLeaves: 16, numberOfIterations: 60)).Fit(train);
        var teacherAcc = _ml.MulticlassClassification.Evaluate(teacher.Transform(test)).MicroAccuracy;
        using var compressed = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(train);
        var acc = _ml.MulticlassClassification.Evaluate(compressed.Transform(test)).MicroAccuracy;
        Assert.AreEqual(teacherAcc, acc, 0.02, $"teacher {teacherAcc}, pruned {acc}");
        Assert.IsTrue(compressed.Report.Final.ParameterCount < 0.6 * compressed.Report.Original.ParameterCount);
    }

    [TestMethod]
    [TestCategory("Slow")] // about a second in the fast tier, which read 62 s in CI
    public void RegressionFastTreeWithCategoricalFeaturizationPrunesAndQuantizesWithinTwoPercentRmse()
    {
        var (train, test) = TestData.Split(_ml, TestData.Cps(_ml));
        var featurize = _ml.Transforms.Categorical.OneHotEncoding(new[]
            {
                new InputOutputColumnPair("ethnicity"), new InputOutputColumnPair("smsa"),
                new InputOutputColumnPair("region"), new InputOutputColumnPair("parttime"),
            })
            .Append(_ml.Transforms.Concatenate("Features", "education", "experience", "ethnicity", "smsa", "region", "parttime"));
        var teacher = featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 100, numberOfLeaves: 16)).Fit(train);
        var teacherRmse = _ml.Regression.Evaluate(teacher.Transform(test)).RootMeanSquaredError;
        using var compressed = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.3 })
            .Append(_ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Float16 }))
            .Fit(train);
        var scored = compressed.Transform(test);
        Assert.AreEqual(NumberDataViewType.Single, scored.Schema["Score"].Type);
        var rmse = _ml.Regression.Evaluate(scored).RootMeanSquaredError;
        Assert.IsTrue(rmse <= teacherRmse * 1.02, $"teacher {teacherRmse}, compressed {rmse}");
    }

    [TestMethod]
    public void RegressionLinearModelIsExactBeforeQuantizationAndCloseAfter()
    {
        var (train, test) = TestData.Split(_ml, TestData.Cps(_ml));
        var teacher = _ml.Transforms.Categorical.OneHotEncoding("region")
            .Append(_ml.Transforms.Concatenate("Features", "education", "experience", "region"))
            .Append(_ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(_ml.Regression.Trainers.Sdca()).Fit(train);
        using var fp16 = _ml.Compression().Quantize(teacher, new QuantizationOptions { Precision = Precision.Float16 }).Fit(train);
        var expected = TestData.Scores(teacher.Transform(test));
        var actual = TestData.Scores(fp16.Transform(test));
        var maxRel = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second) / Math.Max(1, Math.Abs(p.First)));
        Assert.IsTrue(maxRel < 1e-2, $"max relative error {maxRel}");
        // Native: float32 storage on the FP16 grid (every weight survives a round trip through Half).
        Assert.IsTrue(TestData.LinearWeights(fp16.Transformers).All(w => (float)(Half)w == w), "every weight is an FP16 value");
        Assert.IsFalse(TestData.LinearWeights(teacher).All(w => (float)(Half)w == w), "the teacher's weights were not");
        Assert.AreEqual(32.0, fp16.Report.Final.BitsPerWeight!.Value, 0.01);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void BinaryFastTreePruningDropsLeastUsefulTreesAndKeepsAuc()
    {
        var (train, test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 200, numberOfLeaves: 16).Fit(train);
        var teacherAuc = _ml.BinaryClassification.Evaluate(teacher.Transform(test)).AreaUnderRocCurve;
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(train);
        var auc = _ml.BinaryClassification.Evaluate(pruned.Transform(test)).AreaUnderRocCurve;
        Assert.AreEqual(teacherAuc, auc, 0.01, $"teacher {teacherAuc}, pruned {auc}");
        Assert.IsTrue(pruned.Report.Final.ZipBytes < 0.7 * pruned.Report.Original.ZipBytes);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void FastForestBinaryWithoutCalibratorIsSupported()
    {
        var (train, test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        var teacher = _ml.BinaryClassification.Trainers.FastForest(numberOfTrees: 40).Fit(train);
        var teacherAuc = _ml.BinaryClassification.EvaluateNonCalibrated(teacher.Transform(test)).AreaUnderRocCurve;
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.25 }).Fit(train);
        var auc = _ml.BinaryClassification.EvaluateNonCalibrated(pruned.Transform(test)).AreaUnderRocCurve;
        Assert.AreEqual(teacherAuc, auc, 0.01);
    }
}
