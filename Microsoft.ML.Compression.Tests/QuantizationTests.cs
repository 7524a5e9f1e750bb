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

    [TestMethod]
    public void StaticInt8FashionCnnRunsAndKeepsAccuracyWithinTwoPoints()
    {
        double fp32 = Accuracy(Float32("fashion_cnn", _fashionTest), _fashionTest);
        using var int8 = _ml.Compression().Quantize(Model("fashion_cnn"), new QuantizationOptions { Mode = QuantizationMode.Static }).Fit(_calib);
        double acc = Accuracy(int8, _fashionTest);
        Console.WriteLine($"fashion_cnn FP32 {fp32:P2}, static INT8 {acc:P2}\n{int8.Report}");
        Assert.AreEqual(fp32, acc, 0.02);
        Assert.IsTrue(Onnx.OnnxModelIO.Parse(int8.OnnxModel, "test").Graph.Node.Count(n => n.OpType == "QuantizeLinear") >= 4);
    }

    [TestMethod]
    public void EntropyAndPercentileCalibrationClipAtLeastOneTensorNarrowerThanMinMax()
    {
        var model = Onnx.OnnxModelIO.Load(Model("fashion_mlp"));
        var tensors = GraphQuantizer.ActivationInputs(model.Graph, WeightTensors.Find(model.Graph));
        var stats = ActivationRecorder.Record(model, tensors, Context(_calib), 256);
        bool entropyNarrower = false, percentileNarrower = false;
        foreach (var s in stats.Values)
        {
            var minMax = s.Range(CalibrationMethod.MinMax);
            var entropy = s.Range(CalibrationMethod.Entropy);
            var percentile = s.Range(CalibrationMethod.Percentile, 99.9);
            Console.WriteLine($"{s.Name}: minmax [{minMax.Min}, {minMax.Max}], entropy [{entropy.Min}, {entropy.Max}], p99.9 [{percentile.Min}, {percentile.Max}]");
            Assert.IsTrue(entropy.Min >= minMax.Min && entropy.Max <= minMax.Max && entropy.Max > entropy.Min);
            Assert.IsTrue(percentile.Min >= minMax.Min && percentile.Max <= minMax.Max && percentile.Max > percentile.Min);
            entropyNarrower |= entropy.Max - entropy.Min < 0.9 * (minMax.Max - minMax.Min);
            percentileNarrower |= percentile.Max - percentile.Min < minMax.Max - minMax.Min;
            // 100 % keeps everything: the MinMax range up to one histogram bin.
            var all = s.Range(CalibrationMethod.Percentile, 100);
            Assert.AreEqual(minMax.Max, all.Max, 2 * s.Threshold / TensorStatistics.Bins + 1e-6);
        }
        Assert.IsTrue(entropyNarrower, "entropy calibration never clipped");
        Assert.IsTrue(percentileNarrower, "percentile calibration never clipped");
    }

    [TestMethod]
    public void HistogramKeepsEveryValueWhenItsRangeGrows()
    {
        var s = new TensorStatistics("t");
        s.Add(Enumerable.Range(0, 1000).Select(i => i / 1000f).ToArray());        // [0, 1)
        s.Add(Enumerable.Range(0, 1000).Select(i => -5f + i / 100f).ToArray());  // [-5, 5): range grows ×8
        Assert.AreEqual(2000L, s.Histogram.Sum());
        Assert.AreEqual(2000L, s.Count);
        Assert.AreEqual(8.0 * 0.999, s.Threshold, 1e-3);
        Assert.AreEqual((-5f, 4.99f), s.Range(CalibrationMethod.MinMax));
        var p = s.Range(CalibrationMethod.Percentile, 90);
        Assert.IsTrue(p.Min > -5f && p.Max < 4.99f, $"{p}");
        // Every value landed in the bin its own value belongs to, up to the widened bin width.
        double width = 2 * s.Threshold / TensorStatistics.Bins;
        long positives = s.Histogram.Skip(TensorStatistics.Bins / 2).Sum();
        Assert.AreEqual(1000 + 500, positives, 2);
    }

    [TestMethod]
    public void InvalidOptionsThrowArgumentOutOfRangeBeforeAnyWork()
    {
        foreach (var o in new[]
        {
            new QuantizationOptions { Mode = QuantizationMode.Static, Percentile = 0 },
            new QuantizationOptions { Mode = QuantizationMode.Static, Percentile = 100.5 },
            new QuantizationOptions { Precision = Precision.Int4, BlockSize = 48 },
            new QuantizationOptions { MaxCalibrationRows = 0 },
            new QuantizationOptions { Mode = QuantizationMode.Dynamic, Precision = Precision.Float16 },
        })
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Quantize(Model("fashion_mlp"), o));
    }

    [TestMethod]
    public void CalibrationDataWithoutTheGraphInputNamesTheMissingColumn()
    {
        var renamed = _ml.Transforms.CopyColumns("Pixels", "Features").Append(_ml.Transforms.DropColumns("Features")).Fit(_calib).Transform(_calib);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Quantize(Model("fashion_mlp"), new QuantizationOptions { Mode = QuantizationMode.Static }).Fit(renamed));
        Assert.AreEqual("Features", e.ColumnName);
        StringAssert.Contains(e.Message, "Features");
    }
}
