using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The per-layer result of Prune and Quantize on networks (<see cref="StageReport.Layers"/>): numbers read off the
/// graph that ships, checked against the graph itself and against what each mode stores.
/// </summary>
[TestClass]
public sealed class LayerEditTests
{
    private static MLContext _ml = null!;
    private static IDataView _calib = null!, _letter = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _calib = TestData.Head(_ml, TestData.Fashion(_ml, "fashion_mnist_calib_512.csv"), 256);
        _letter = TestData.Head(_ml, TestData.Letter(_ml), 300);
    }

    private static string FashionMlp => TestData.Network("fashion_mlp");
    private static string LetterMlp => TestData.Network("letter_mlp");

    /// <summary>The float weights of the graph that went in: MatMul/Gemm weight inputs, by name, with their element counts.</summary>
    private static Dictionary<string, long[]> FloatWeights(string path)
    {
        var g = OnnxModelIO.Parse(File.ReadAllBytes(path), "test").Graph;
        return g.Node.Where(n => n.OpType is "MatMul" or "Gemm").Select(n => g.Initializer.FirstOrDefault(t => t.Name == n.Input[1]))
            .Where(t => t is { DataType: OnnxType.Float, Dims.Count: 2 }).ToDictionary(t => t!.Name, t => t!.Dims.ToArray());
    }

    [TestMethod]
    public void WeightOnlyInt8ListsEveryWeightAsInt8PerChannelAtAQuarterOfItsBytes()
    {
        using var model = _ml.Compression().Quantize(LetterMlp, Precision.Int8).Fit(_letter);
        var layers = model.Report.Final.Layers!;
        var weights = FloatWeights(LetterMlp);
        CollectionAssert.AreEquivalent(weights.Keys.ToList(), layers.Select(l => l.Tensor).ToList());
        foreach (var l in layers)
        {
            Assert.AreEqual(LayerStorage.Int8, l.Storage, l.ToString());
            Assert.IsTrue(l.PerChannel, l.ToString());
            var dims = weights[l.Tensor];
            Assert.AreEqual(dims[0] * dims[1], l.Weights);
            Assert.AreEqual(l.Weights, l.StoredWeights);
            Assert.AreEqual(4 * l.Weights, l.BytesBefore);
            // int8 values plus one float scale per output channel (the output axis is the second for MatMul, the first for a transposed Gemm).
            CollectionAssert.Contains(new[] { l.Weights + 4 * dims[0], l.Weights + 4 * dims[1] }, l.BytesAfter, l.ToString());
        }
        Assert.IsNull(model.Report.Original.Layers, "the model that went in has no edit");
    }

    [TestMethod]
    [DataRow(QuantizationMode.Dynamic)]
    [DataRow(QuantizationMode.Static)]
    public void EveryModeAccountsForEachWeightInTheGraphItWrites(QuantizationMode mode)
    {
        using var model = _ml.Compression().Quantize(FashionMlp, new QuantizationOptions { Network = { Mode = mode } }).Fit(_calib);
        var layers = model.Report.Final.Layers!;
        Assert.AreEqual(FloatWeights(FashionMlp).Count, layers.Count);
        foreach (var l in layers)
            Assert.IsTrue(l.Storage is LayerStorage.Int8 or LayerStorage.UInt8 or LayerStorage.Float32, l.ToString());
        Assert.IsTrue(layers.Any(l => l.Storage != LayerStorage.Float32), string.Join("; ", layers));
        Assert.IsTrue(layers.Sum(l => l.BytesAfter) <= model.Report.Final.OnnxBytes, "the weights fit in the file");
    }

    [TestMethod]
    public void Float16HalvesEveryWeight()
    {
        using var model = _ml.Compression().Quantize(LetterMlp, Precision.Float16).Fit(_letter);
        foreach (var l in model.Report.Final.Layers!)
        {
            Assert.AreEqual(LayerStorage.Float16, l.Storage, l.ToString());
            Assert.AreEqual(l.BytesBefore / 2, l.BytesAfter);
            Assert.AreEqual(l.Weights, l.NonZero, "a trained weight does not round to zero in FP16");
        }
    }

    [TestMethod]
    public void UnstructuredPruningReportsTheZerosOfEachLayerAndTheirSumIsTheTarget()
    {
        using var model = _ml.Compression().Prune(LetterMlp, 0.6).Fit(_letter);
        var layers = model.Report.Final.Layers!;
        var g = OnnxModelIO.Parse(model.OnnxModel!, "test").Graph;
        foreach (var l in layers)
        {
            Assert.AreEqual(LayerStorage.Float32, l.Storage);
            var stored = OnnxTensors.ReadFloats(g.Initializer.Single(t => t.Name == l.Tensor));
            Assert.AreEqual(stored.LongCount(v => v != 0f), l.NonZero, $"{l.Layer}: the count is the graph's");
        }
        double zero = 1 - (double)layers.Sum(l => l.NonZero!.Value) / layers.Sum(l => l.Weights);
        Assert.AreEqual(0.6, zero, 0.01, "the layers' zeros add up to the target sparsity");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void StructuredPruningKeepsFewerWeightsThanWentIn()
    {
        using var model = _ml.Compression().Prune(FashionMlp, new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } }).Fit(_calib);
        var layers = model.Report.Final.Layers!;
        Assert.IsTrue(layers.Any(l => l.StoredWeights < l.Weights), string.Join("; ", layers));
        Assert.IsTrue(layers.Sum(l => l.StoredWeights) < 0.75 * layers.Sum(l => l.Weights), string.Join("; ", layers));
        foreach (var l in layers) Assert.AreEqual(4 * l.StoredWeights, l.BytesAfter, l.ToString());
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void LayersRoundTripThroughTheReportsJson()
    {
        using var model = _ml.Compression().Quantize(FashionMlp, new QuantizationOptions { Precision = Precision.Int4 }).Fit(_calib);
        var layers = model.Report.Final.Layers!;
        Assert.IsTrue(layers.Any(l => l.Storage == LayerStorage.Int4 && l.BlockSize > 1), string.Join("; ", layers));
        var back = CompressionReport.FromJson(model.Report.ToJson()).Final.Layers!;
        Assert.AreEqual(layers.Count, back.Count);
        for (int i = 0; i < layers.Count; i++)
            Assert.AreEqual(layers[i].ToString(), back[i].ToString());
        StringAssert.Contains(model.Report.ToString(), "layers: ");
        Console.WriteLine(model.Report);
    }
}
