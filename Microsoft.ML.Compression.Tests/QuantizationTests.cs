using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Quantization;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Static, dynamic and INT4 quantization of the ONNX teachers, and the calibration behind static mode.</summary>
[TestClass]
public sealed class QuantizationTests
{
    private static MLContext _ml = null!;
    private static IDataView _calib = null!, _fashionTest = null!, _letter = null!;
    private static string Model(string name) => TestData.Path(Path.Combine("models", name + ".onnx"));

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _calib = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_calib_512.csv"));
        _fashionTest = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_test_1000.csv"));
        _letter = _ml.Data.Cache(TestData.Letter(_ml));
    }

    private static double Accuracy(ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        var labels = data.Schema["Label"].Type == TextDataViewType.Instance
            ? scored.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.Span[0] - 'A').ToArray()
            : scored.GetColumn<float>("Label").Select(l => (int)l).ToArray();
        var logits = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        return labels.Zip(logits).Count(p => Array.IndexOf(p.Second, p.Second.Max()) == p.First) / (double)labels.Length;
    }

    private static ITransformer Float32(string name, IDataView data) => _ml.Transforms.ApplyOnnxModel(Model(name)).Fit(data);

    private static GraphEditContext Context(IDataView data)
        => new() { ML = _ml, GraphInputData = data, GraphInputs = new[] { "Features" } };

    [TestMethod]
    public void StaticInt8FashionMlpKeepsAccuracyWithinAPointAtUnderAThirdOfTheBytes()
    {
        double fp32 = Accuracy(Float32("fashion_mlp", _fashionTest), _fashionTest);
        using var int8 = _ml.Compression().Quantize(Model("fashion_mlp"), new QuantizationOptions { Mode = QuantizationMode.Static, MaxCalibrationRows = 256 }).Fit(_calib);
        double acc = Accuracy(int8, _fashionTest);
        Console.WriteLine($"fashion_mlp FP32 {fp32:P2}, static INT8 {acc:P2}\n{int8.Report}");
        Assert.AreEqual(fp32, acc, 0.01);
        Assert.IsTrue(int8.Report.Final.OnnxBytes <= 0.3 * int8.Report.Original.OnnxBytes, int8.Report.ToString());
        var graph = Onnx.OnnxModelIO.Parse(int8.OnnxModel, "test");
        Assert.AreEqual(3, graph.Graph.Node.Count(n => n.OpType == "QuantizeLinear"));
    }

    [TestMethod]
    public void DynamicInt8LetterMlpKeepsAccuracyWithinAPointAndIsSmaller()
    {
        double fp32 = Accuracy(Float32("letter_mlp", _letter), _letter);
        using var int8 = _ml.Compression().Quantize(Model("letter_mlp"), new QuantizationOptions { Mode = QuantizationMode.Dynamic }).Fit(_letter);
        double acc = Accuracy(int8, _letter);
        Console.WriteLine($"letter_mlp FP32 {fp32:P2}, dynamic INT8 {acc:P2}\n{int8.Report}");
        Assert.AreEqual(fp32, acc, 0.01);
        Assert.IsTrue(int8.Report.Final.OnnxBytes < 0.5 * int8.Report.Original.OnnxBytes, int8.Report.ToString());
        Assert.IsTrue(Onnx.OnnxModelIO.Parse(int8.OnnxModel, "test").Graph.Node.Any(n => n.OpType == "MatMulInteger"));
    }

    [TestMethod]
    public void Int4BlockWiseFashionMlpRunsAndIsSmallerThanInt8()
    {
        double fp32 = Accuracy(Float32("fashion_mlp", _fashionTest), _fashionTest);
        using var int4 = _ml.Compression().Quantize(Model("fashion_mlp"), new QuantizationOptions { Precision = Precision.Int4 }).Fit(_calib);
        double acc = Accuracy(int4, _fashionTest);
        Console.WriteLine($"fashion_mlp FP32 {fp32:P2}, INT4 {acc:P2}\n{int4.Report}");
        Assert.AreEqual(fp32, acc, 0.03);
        Assert.IsTrue(int4.Report.Final.OnnxBytes < 0.2 * int4.Report.Original.OnnxBytes, int4.Report.ToString());
    }
}
