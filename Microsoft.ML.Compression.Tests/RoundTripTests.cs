using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Save/load round trips for every task and for a native (distilled) result.</summary>
[TestClass]
public sealed class RoundTripTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    private static ITransformer SaveAndLoad(ITransformer model, DataViewSchema schema)
    {
        var path = Path.Combine(Path.GetTempPath(), $"roundtrip-{Guid.NewGuid():N}.zip");
        try
        {
            _ml.Model.Save(model, schema, path);
            var fresh = new MLContext(seed: 3);
            fresh.Compression();
            return fresh.Model.Load(path, out _);
        }
        finally { File.Delete(path); }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MulticlassRoundTripKeepsScoresAndKeyPredictedLabelValues()
    {
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()).Fit(train);
        using var compressed = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.3 })
            .Append(_ml.Compression().Quantize()).Fit(train);
        var loaded = SaveAndLoad(compressed, train.Schema);
        var before = compressed.Transform(test);
        var after = loaded.Transform(test);
        var a = before.GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
        var b = after.GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
        Assert.IsTrue(a.Zip(b).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5);
        CollectionAssert.AreEqual(before.GetColumn<uint>("PredictedLabel").ToArray(), after.GetColumn<uint>("PredictedLabel").ToArray());
        Assert.AreEqual(_ml.MulticlassClassification.Evaluate(before).MicroAccuracy, _ml.MulticlassClassification.Evaluate(after).MicroAccuracy, 1e-9);
    }

    [TestMethod]
    public void RegressionRoundTripKeepsScores()
    {
        var (train, test) = TestData.Split(_ml, TestData.Cps(_ml));
        var teacher = _ml.Transforms.Concatenate("Features", "education", "experience")
            .Append(_ml.Regression.Trainers.LightGbm(numberOfIterations: 50)).Fit(train);
        using var compressed = _ml.Compression().Quantize(teacher, new QuantizationOptions { Precision = Precision.Float16 }).Fit(train);
        var loaded = SaveAndLoad(compressed, train.Schema);
        var a = TestData.Scores(compressed.Transform(test));
        var b = TestData.Scores(loaded.Transform(test));
        // Wages in the hundreds: relative float precision (the in-memory model sums trees a batch at a time).
        Assert.IsTrue(a.Zip(b).Max(p => Math.Abs(p.First - p.Second) / (1 + Math.Abs(p.First))) <= 1e-6);
        Assert.AreEqual(NumberDataViewType.Single, loaded.Transform(test).Schema["Score"].Type);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void DistilledStudentStaysANativeModelAndRoundTripsWithoutAnyOnnx()
    {
        var (train, test) = TestData.Split(_ml, TestData.Cps(_ml));
        var f = _ml.Transforms.Concatenate("Features", "education", "experience");
        var teacher = f.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 100)).Fit(train);
        using var distilled = _ml.Compression().Distill(teacher, f.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 10))).Fit(train);
        Assert.IsNull(distilled.OnnxModel);
        Assert.IsFalse(distilled.Transformers.Any(t => t is Microsoft.ML.Transforms.Onnx.OnnxTransformer));
        var loaded = SaveAndLoad(distilled, train.Schema);
        CollectionAssert.AreEqual(TestData.Scores(distilled.Transform(test)), TestData.Scores(loaded.Transform(test)));
    }
}
