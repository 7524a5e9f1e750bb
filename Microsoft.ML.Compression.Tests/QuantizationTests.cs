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
    private static string Model(string name) => TestData.Network(name);

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _calib = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_calib_512.csv"));
        _fashionTest = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_test_1000.csv"));
        _letter = _ml.Data.Cache(TestData.Letter(_ml));
    }

    private static double Accuracy(ITransformer model, IDataView data) => TestData.LogitAccuracy(model, data);

    private static ITransformer Float32(string name, IDataView data) => _ml.Transforms.ApplyOnnxModel(Model(name)).Fit(data);

    private static GraphEditContext Context(IDataView data)
        => new() { ML = _ml, GraphInputData = data, GraphInputs = new[] { "Features" } };

    [TestMethod]
    [TestCategory("Slow")]
    public void StaticInt8FashionMlpKeepsAccuracyWithinAPointAtUnderAThirdOfTheBytes()
    {
        double fp32 = Accuracy(Float32("fashion_mlp", _fashionTest), _fashionTest);
        using var int8 = _ml.Compression().Quantize(Model("fashion_mlp"), new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 256 } }).Fit(_calib);
        double acc = Accuracy(int8, _fashionTest);
        Console.WriteLine($"fashion_mlp FP32 {fp32:P2}, static INT8 {acc:P2}\n{int8.Report}");
        Assert.AreEqual(fp32, acc, 0.01);
        Assert.IsTrue(int8.Report.Final.OnnxBytes <= 0.3 * int8.Report.Original.OnnxBytes, int8.Report.ToString());
        var graph = Onnx.OnnxModelIO.Parse(int8.OnnxModel!, "test");
        Assert.AreEqual(3, graph.Graph.Node.Count(n => n.OpType == "QuantizeLinear"));
    }

    [TestMethod]
    public void DynamicInt8LetterMlpKeepsAccuracyWithinAPointAndIsSmaller()
    {
        double fp32 = Accuracy(Float32("letter_mlp", _letter), _letter);
        // MinMatMulMultiplyAdds = 0: letter_mlp's layers are too small to be quantized dynamically by default.
        using var int8 = _ml.Compression().Quantize(Model("letter_mlp"), new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, MinMatMulMultiplyAdds = 0 } }).Fit(_letter);
        double acc = Accuracy(int8, _letter);
        Console.WriteLine($"letter_mlp FP32 {fp32:P2}, dynamic INT8 {acc:P2}\n{int8.Report}");
        Assert.AreEqual(fp32, acc, 0.01);
        Assert.IsTrue(int8.Report.Final.OnnxBytes < 0.5 * int8.Report.Original.OnnxBytes, int8.Report.ToString());
        Assert.IsTrue(Onnx.OnnxModelIO.Parse(int8.OnnxModel!, "test").Graph.Node.Any(n => n.OpType == "MatMulInteger"));
    }

    [TestMethod]
    [TestCategory("Slow")] // about a second in the fast tier, which read 62 s in CI
    public void Int4BlockWiseFashionMlpRunsAndIsSmallerThanInt8()
    {
        double fp32 = Accuracy(Float32("fashion_mlp", _fashionTest), _fashionTest);
        using var int4 = _ml.Compression().Quantize(Model("fashion_mlp"), new QuantizationOptions { Precision = Precision.Int4, Network = { Int4MaxSizeRatio = 0 } }).Fit(_calib);
        double acc = Accuracy(int4, _fashionTest);
        Console.WriteLine($"fashion_mlp FP32 {fp32:P2}, INT4 {acc:P2}\n{int4.Report}");
        Assert.AreEqual(fp32, acc, 0.03);
        Assert.IsTrue(int4.Report.Final.OnnxBytes <= 0.16 * int4.Report.Original.OnnxBytes, int4.Report.ToString()); // 0.152× measured with blocks of 64
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void StaticInt8FashionCnnRunsAndKeepsAccuracyWithinTwoPoints()
    {
        double fp32 = Accuracy(Float32("fashion_cnn", _fashionTest), _fashionTest);
        // MinConvMultiplyAdds = 0: fashion_cnn's convolutions are too small to be quantized by default.
        using var int8 = _ml.Compression().Quantize(Model("fashion_cnn"), new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MinConvMultiplyAdds = 0 } }).Fit(_calib);
        double acc = Accuracy(int8, _fashionTest);
        Console.WriteLine($"fashion_cnn FP32 {fp32:P2}, static INT8 {acc:P2}\n{int8.Report}");
        Assert.AreEqual(fp32, acc, 0.02);
        Assert.IsTrue(Onnx.OnnxModelIO.Parse(int8.OnnxModel!, "test").Graph.Node.Count(n => n.OpType == "QuantizeLinear") >= 4);
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
    public void EntropyCalibrationOfAReluOutputSearchesWithTheLevelsUint8Gives()
    {
        // A ReLU output: half exact zeros, half |N(0, 1)|. uint8 gives [0, t] all 256 levels; a search that modelled it
        // with 64 (128 levels over [−t, t]) clipped at a third of the largest value (ResNet18 cosine 0.69).
        var random = new Random(5);
        var values = new float[200_000];
        for (int i = 0; i < values.Length; i += 2)
            values[i] = (float)Math.Abs(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        var s = new TensorStatistics("relu");
        s.Add(values);
        var minMax = s.Range(CalibrationMethod.MinMax);
        var entropy = s.Range(CalibrationMethod.Entropy);
        var symmetric = s.Range(CalibrationMethod.Entropy, symmetric: true);
        Console.WriteLine($"max {minMax.Max:F3}, entropy (uint8) {entropy.Max:F3}, entropy (int8 symmetric) {symmetric.Max:F3}");
        Assert.AreEqual(0f, entropy.Min);
        Assert.IsTrue(entropy.Max > 0.6 * minMax.Max && entropy.Max < minMax.Max, $"{entropy}");
        // int8 symmetric leaves [0, t] half the levels, so the KL-optimal threshold clips harder.
        Assert.IsTrue(symmetric.Max < entropy.Max, $"{symmetric} vs {entropy}");
    }

    [TestMethod]
    public void InvalidOptionsThrowArgumentOutOfRangeBeforeAnyWork()
    {
        foreach (var o in new[]
        {
            new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Percentile = 0 } },
            new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Percentile = 100.5 } },
            new QuantizationOptions { Precision = Precision.Int4, Network = { BlockSize = 48 } },
            new QuantizationOptions { Network = { MaxCalibrationRows = 0 } },
            new QuantizationOptions { Precision = Precision.Float16, Network = { Mode = QuantizationMode.Dynamic } },
            new QuantizationOptions { Network = { Mode = QuantizationMode.Static, WeightFormat = (StaticWeightFormat)7 } },
        })
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Quantize(Model("fashion_mlp"), o));
    }

    [TestMethod]
    public void CalibrationDataWithoutTheGraphInputNamesTheMissingColumn()
    {
        var renamed = _ml.Transforms.CopyColumns("Pixels", "Features").Append(_ml.Transforms.DropColumns("Features")).Fit(_calib).Transform(_calib);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Quantize(Model("fashion_mlp"), new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(renamed));
        Assert.AreEqual("Features", e.ColumnName);
        StringAssert.Contains(e.Message, "Features");
    }

    private static float[][] RunOnnx(Microsoft.ML.OnnxRuntime.InferenceSession session, float[] flat, int rows)
    {
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(flat, new long[] { rows, 784 });
        using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var output = session.Run(run, new[] { "Features" }, new[] { input }, new[] { "Score" });
        var data = output[0].GetTensorDataAsSpan<float>().ToArray();
        return Enumerable.Range(0, rows).Select(r => data[(r * 10)..(r * 10 + 10)]).ToArray();
    }

    private static float[] Pixels(IDataView data, int rows)
        => data.GetColumn<VBuffer<float>>("Features").Take(rows).SelectMany(v => v.DenseValues()).ToArray();

    [TestMethod]
    public void BatchNormFoldingIsExactInFloatOnFashionCnn()
    {
        var model = Onnx.OnnxModelIO.Load(Model("fashion_cnn"));
        var folded = model.Clone();
        Assert.AreEqual(2, BatchNormFolder.Fold(folded.Graph));
        Assert.IsFalse(folded.Graph.Node.Any(n => n.OpType == "BatchNormalization"));
        var flat = Pixels(_fashionTest, 256);
        using var a = new Microsoft.ML.OnnxRuntime.InferenceSession(Onnx.OnnxModelIO.ToBytes(model));
        using var b = new Microsoft.ML.OnnxRuntime.InferenceSession(Onnx.OnnxModelIO.ToBytes(folded));
        var x = RunOnnx(a, flat, 256);
        var y = RunOnnx(b, flat, 256);
        double worst = x.Zip(y).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        Console.WriteLine($"largest logit difference after folding: {worst:G3}");
        Assert.IsTrue(worst < 1e-4, $"{worst}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void StaticInt8FashionCnnReportsTensorSqnrWithTheWorstFiveInToString()
    {
        using var int8 = _ml.Compression().Quantize(Model("fashion_cnn"), new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(_calib);
        var errors = int8.Report.Final.TensorErrors;
        Assert.IsNotNull(errors);
        Console.WriteLine(string.Join("\n", errors));
        Assert.IsTrue(errors.Any(e => e.Name == "Score"), "the graph output is measured");
        Assert.IsTrue(errors.Count >= 5);
        Assert.IsTrue(errors.All(e => e.SqnrDb > 10 && e.SqnrDb <= TensorError.MaxSqnrDb), string.Join(", ", errors));
        StringAssert.Contains(int8.Report.ToString(), "SQNR of");
        Assert.AreEqual(2, Onnx.OnnxModelIO.Parse(File.ReadAllBytes(Model("fashion_cnn")), "fashion_cnn").Graph.Node.Count(n => n.OpType == "BatchNormalization"), "the float graph has two to fold");
        Assert.IsNull(int8.Report.Original.TensorErrors);
        var back = CompressionReport.FromJson(int8.Report.ToJson());
        Assert.AreEqual(errors.Count, back.Final.TensorErrors!.Count);
        var graph = Onnx.OnnxModelIO.Parse(int8.OnnxModel!, "test").Graph;
        Assert.IsFalse(graph.Node.Any(n => n.OpType == "BatchNormalization"));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void RequireSpeedupTimesTheVariantsAndSaysWhichItKept()
    {
        double fp32 = Accuracy(Float32("fashion_cnn", _fashionTest), _fashionTest);
        using var int8 = _ml.Compression().Quantize(Model("fashion_cnn"), new QuantizationOptions { Network = { Mode = QuantizationMode.Static, RequireSpeedup = true } }).Fit(_calib);
        var description = int8.Report.Final.Description;
        Console.WriteLine(description);
        StringAssert.Contains(description, "RequireSpeedup: timed on a batch of 64");
        Assert.IsTrue(description.Contains("kept ") || description.Contains("weight-only"), description);
        Assert.AreEqual(fp32, Accuracy(int8, _fashionTest), 0.02);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void StaticInt8FashionCnnLatencyAgainstFp32()
    {
        using var int8 = _ml.Compression().Quantize(Model("fashion_cnn"), new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(_calib);
        double fp32Acc = Accuracy(Float32("fashion_cnn", _fashionTest), _fashionTest), int8Acc = Accuracy(int8, _fashionTest);
        var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var f = new Microsoft.ML.OnnxRuntime.InferenceSession(File.ReadAllBytes(Model("fashion_cnn")), options);
        using var q = new Microsoft.ML.OnnxRuntime.InferenceSession(int8.OnnxModel!, options);
        var flat = Pixels(_fashionTest, 256);
        foreach (int batch in new[] { 1, 32, 256 })
        {
            var x = flat[..(batch * 784)];
            double Time(Microsoft.ML.OnnxRuntime.InferenceSession s)
            {
                RunOnnx(s, x, batch);
                var times = new List<double>();
                var total = Stopwatch.StartNew();
                while (times.Count < 3 || total.Elapsed.TotalSeconds < 0.5) { var sw = Stopwatch.StartNew(); RunOnnx(s, x, batch); times.Add(sw.Elapsed.TotalMilliseconds); }
                times.Sort();
                return times[times.Count / 2];
            }
            double tf = Time(f), tq = Time(q);
            Console.WriteLine($"fashion_cnn batch {batch}: FP32 {tf:F3} ms, static INT8 {tq:F3} ms ({tf / tq:F2}x)");
        }
        Console.WriteLine($"accuracy FP32 {fp32Acc:P2}, static INT8 {int8Acc:P2}\n{int8.Report}");
        Assert.AreEqual(fp32Acc, int8Acc, 0.02);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void Opset8GraphWithSpatialBatchNormAndFixedBatchIsUpgradedAndQuantized()
    {
        // fashion_cnn as an old exporter (CNTK's ResNet18) writes it: opset 8, IR 3, BatchNormalization with spatial = 1, batch fixed to 1.
        var model = Onnx.OnnxModelIO.Load(Model("fashion_cnn"));
        model.OpsetImport.Single(o => string.IsNullOrEmpty(o.Domain)).Version = 8;
        model.IrVersion = 3;
        foreach (var bn in model.Graph.Node.Where(n => n.OpType == "BatchNormalization"))
            bn.Attribute.Add(new global::Onnx.AttributeProto { Name = "spatial", Type = global::Onnx.AttributeProto.Types.AttributeType.Int, I = 1 });
        foreach (var pool in model.Graph.Node.Where(n => n.OpType == "MaxPool")) // ceil_mode (0) arrived in opset 10
            foreach (var a in pool.Attribute.Where(a => a.Name is "ceil_mode" or "dilations").ToList()) pool.Attribute.Remove(a);
        foreach (var v in model.Graph.Input.Concat(model.Graph.Output)) { var d = v.Type.TensorType.Shape.Dim[0]; d.DimParam = ""; d.DimValue = 1; }
        var path = Path.Combine(Path.GetTempPath(), $"fashion_cnn_opset8_{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, Onnx.OnnxModelIO.ToBytes(model));
        try
        {
            using var int8 = _ml.Compression().Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 64 } }).Fit(_calib);
            var graph = Onnx.OnnxModelIO.Parse(int8.OnnxModel!, "test");
            Assert.AreEqual(13L, Onnx.OnnxGraphEditor.OpsetVersion(graph));
            Assert.IsTrue(graph.IrVersion >= 7);
            Assert.IsFalse(graph.Graph.Node.Any(n => n.OpType == "BatchNormalization"));
            Assert.AreEqual(Accuracy(Float32("fashion_cnn", _fashionTest), _fashionTest), Accuracy(int8, _fashionTest), 0.03);
        }
        finally { File.Delete(path); }
    }
}
