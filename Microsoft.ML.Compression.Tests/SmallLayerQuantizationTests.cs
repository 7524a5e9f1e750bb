using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Dynamic/static defaults leave layers with few multiply-adds per row in float arithmetic (INT8 weights restored at
/// load), because quantizing their inputs costs more than integer kernels save (QuantizationOptions.Network.MinMatMulMultiplyAdds,
/// MinConvMultiplyAdds).
/// </summary>
[TestClass]
public sealed class SmallLayerQuantizationTests
{
    private static MLContext _ml = null!;
    private static IDataView _letter = null!, _calib = null!, _fashionTest = null!;
    private static string Model(string name) => TestData.Network(name);

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _letter = _ml.Data.Cache(TestData.Letter(_ml));
        _calib = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_calib_512.csv"));
        _fashionTest = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_test_1000.csv"));
    }

    [TestMethod]
    public void LetterMlpLayersAreTooSmallForStaticActivationsButKeepInt8Weights()
    {
        using var model = _ml.Compression().Quantize(Model("letter_mlp"), new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(_letter);
        var g = OnnxModelIO.Parse(model.OnnxModel!, "test").Graph;
        var description = model.Report.Final.Description;
        Console.WriteLine(description);
        // Every layer too small for integer arithmetic: all three keep float MatMul/Gemm, their weights stored INT8.
        Assert.AreEqual(3, model.Report.Final.Layers!.Count(l => l.Storage == LayerStorage.Int8));
        Assert.AreEqual(3, g.Node.Count(n => n.OpType is "Gemm" or "MatMul"));
        StringAssert.Contains(description, "/3/Gemm 8,192, ");
        Assert.IsFalse(g.Node.Any(n => n.OpType is "QuantizeLinear" or "DequantizeLinear"));
        Assert.AreEqual(3, g.Initializer.Count(t => t.DataType == OnnxType.Int8));
        Assert.IsTrue(model.Report.Final.OnnxBytes < 0.34 * model.Report.Original.OnnxBytes, model.Report.ToString());
        double fp32 = TestData.LogitAccuracy(_ml.Transforms.ApplyOnnxModel(Model("letter_mlp")).Fit(_letter), _letter);
        Assert.AreEqual(fp32, TestData.LogitAccuracy(model, _letter), 0.005);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void FashionCnnKeepsFloatConvolutionsAndQuantizesItsLargeGemmAndTheInputAfterIt()
    {
        using var model = _ml.Compression().Quantize(Model("fashion_cnn"), new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(_calib);
        var g = OnnxModelIO.Parse(model.OnnxModel!, "test").Graph;
        Console.WriteLine(model.Report.Final.Description);
        StringAssert.Contains(model.Report.Final.Description, "/6/Conv 903,168");
        // The 1568→64 Gemm's input, and the 64→10 head's input so that the Gemm fuses with its output (QGemm).
        Assert.AreEqual(2, g.Node.Count(n => n.OpType == "QuantizeLinear"));
        Assert.AreEqual(4, g.Initializer.Count(t => t.DataType == OnnxType.Int8 && t.Dims.Count >= 2), "all four weights stored int8");
        double fp32 = TestData.LogitAccuracy(_ml.Transforms.ApplyOnnxModel(Model("fashion_cnn")).Fit(_fashionTest), _fashionTest);
        Assert.AreEqual(fp32, TestData.LogitAccuracy(model, _fashionTest), 0.005);
    }
}
