using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>CompressedModel.Transform scores the ONNX graph in batches; it must give what the OnnxTransformer chain gives.</summary>
[TestClass]
public sealed class BatchScoringTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    // A batch sums trees and dot products in another order than single rows: the last float bit may differ.
    private static void AssertClose(float a, float b, string what) => Assert.AreEqual(a, b, 1e-5 + 1e-6 * Math.Abs(a), what);

    private static void AssertSameScores(IDataView a, IDataView b, string column)
    {
        var x = a.GetColumn<float>(column).ToArray();
        var y = b.GetColumn<float>(column).ToArray();
        Assert.AreEqual(x.Length, y.Length, column);
        for (int i = 0; i < x.Length; i++) AssertClose(x[i], y[i], $"{column}, row {i}");
    }

    private static void AssertSameColumn<T>(IDataView a, IDataView b, string column)
    {
        var x = a.GetColumn<T>(column).ToArray();
        var y = b.GetColumn<T>(column).ToArray();
        Assert.AreEqual(x.Length, y.Length, column);
        for (int i = 0; i < x.Length; i++) Assert.AreEqual(x[i], y[i], $"{column}, row {i}");
    }

    private static void AssertSameVectors(IDataView a, IDataView b, string column)
    {
        var x = a.GetColumn<VBuffer<float>>(column).Select(v => v.DenseValues().ToArray()).ToArray();
        var y = b.GetColumn<VBuffer<float>>(column).Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.AreEqual(x.Length, y.Length, column);
        for (int i = 0; i < x.Length; i++)
            for (int j = 0; j < x[i].Length; j++) AssertClose(x[i][j], y[i][j], $"{column}, row {i}, slot {j}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void BatchedBinaryScoresEqualTheOnnxTransformerChainAcrossBatchBoundaries()
    {
        // 7,043 churn rows: several batches of 1,024 and a partial last one; featurization upstream of the graph.
        var data = _ml.Data.Cache(TestData.Churn(_ml));
        var teacher = TestData.ChurnFeaturize(_ml).Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 40)).Fit(data);
        using var compressed = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(data);
        Assert.AreEqual(1, compressed.Transformers.Count(t => t is OnnxTransformer));
        var batched = compressed.Transform(data);
        var rowByRow = compressed.Transformers.Transform(data);
        CollectionAssert.AreEqual(rowByRow.Schema.Select(c => (c.Name, c.Type.ToString())).ToArray(), batched.Schema.Select(c => (c.Name, c.Type.ToString())).ToArray());
        AssertSameScores(batched, rowByRow, "Score");
        AssertSameScores(batched, rowByRow, "Probability");
        AssertSameColumn<bool>(batched, rowByRow, "PredictedLabel");
        AssertSameColumn<bool>(batched, rowByRow, "Label"); // passed through
        AssertSameVectors(batched, rowByRow, "Features");
        Assert.AreEqual(7043, batched.GetColumn<float>("Score").Count());
        var metrics = _ml.BinaryClassification.Evaluate(batched);
        Assert.AreEqual(_ml.BinaryClassification.Evaluate(rowByRow).AreaUnderRocCurve, metrics.AreaUnderRocCurve, 1e-6);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void BatchedMulticlassKeepsKeyLabelsAndScores()
    {
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()).Fit(train);
        using var compressed = _ml.Compression().Quantize(teacher, new QuantizationOptions { Form = ModelForm.Onnx }).Fit(train);
        var batched = compressed.Transform(test);
        var rowByRow = compressed.Transformers.Transform(test);
        AssertSameVectors(batched, rowByRow, "Score");
        AssertSameColumn<uint>(batched, rowByRow, "PredictedLabel");
        Assert.AreEqual(_ml.MulticlassClassification.Evaluate(rowByRow).MicroAccuracy, _ml.MulticlassClassification.Evaluate(batched).MicroAccuracy, 1e-9);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void BatchedNetworkLogitsEqualRowByRowLogits()
    {
        var test = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_test_1000.csv"));
        using var compressed = _ml.Compression().Quantize(TestData.Network("fashion_mlp")).Fit(test);
        AssertSameVectors(compressed.Transform(test), compressed.Transformers.Transform(test), "Score");
    }
}
