using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>ONNX MLP teachers (trained with PyTorch by tools/train_teachers.py) given as file, stream or OnnxTransformer.</summary>
[TestClass]
public sealed class OnnxNetworkTests
{
    private static MLContext _ml = null!;
    private static IDataView _letter = null!;
    private static string Model => TestData.Network("letter_mlp");

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _letter = _ml.Data.Cache(TestData.Letter(_ml));
    }

    private static double Accuracy(ITransformer model) => TestData.LogitAccuracy(model, _letter);

    private static ITransformer Original() => _ml.Transforms.ApplyOnnxModel(Model).Fit(_letter);

    [TestMethod]
    public void Int8PerChannelMlpFromFileLosesAtMostHalfAPointAndShrinksToUnderAThird()
    {
        var fp32 = Accuracy(Original());
        using var int8 = _ml.Compression().Quantize(Model).Fit(_letter);
        Assert.AreEqual(fp32, Accuracy(int8), 0.005);
        Assert.IsTrue(int8.Report.Final.OnnxBytes < 0.33 * int8.Report.Original.OnnxBytes, int8.Report.ToString());
    }

    [TestMethod]
    public void Fp16MlpFromStreamIsNearlyLossless()
    {
        var fp32 = Accuracy(Original());
        using var stream = File.OpenRead(Model);
        using var fp16 = _ml.Compression().Quantize(stream, new QuantizationOptions { Precision = Precision.Float16 }).Fit(_letter);
        Assert.AreEqual(fp32, Accuracy(fp16), 0.002);
        Assert.IsTrue(fp16.Report.Final.OnnxBytes < 0.55 * fp16.Report.Original.OnnxBytes);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MagnitudePruningOfAnOnnxTransformerReachesTheTargetSparsityPerLayer()
    {
        using var pruned = _ml.Compression().Prune(Original(), new PruningOptions { TargetSparsity = 0.3 }).Fit(_letter);
        var final = pruned.Report.Final;
        Assert.IsTrue(final.Sparsity > 0.27, $"sparsity {final.Sparsity}"); // biases are not pruned
        double before = Accuracy(Original()), after = Accuracy(pruned);
        Console.WriteLine($"letter MLP accuracy: dense {before:F4}, 30% magnitude-pruned {after:F4}");
        Assert.IsTrue(after > before - 0.03, $"dense {before}, pruned {after}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PrunedThenQuantizedNetworkKeepsItsZerosAndGetsSmaller()
    {
        using var model = _ml.Compression().Prune(Model, new PruningOptions { TargetSparsity = 0.5 })
            .Append(_ml.Compression().Quantize()).Fit(_letter);
        Assert.IsTrue(model.Report.Final.Sparsity > 0.45);
        Assert.IsTrue(model.Report.Final.ZipBytes < model.Report.Stages[1].ZipBytes);
    }
}
