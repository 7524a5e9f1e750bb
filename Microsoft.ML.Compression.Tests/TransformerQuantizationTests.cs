using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Every quantization mode on the tiny Transformer encoder spam_transformer.onnx (token ids → Gather embedding,
/// 2 encoder layers with LayerNorm, Softmax attention and MatMul projections, mean-pool, Gemm head): accuracy on the
/// 1,000 held-out e-mails and ONNX size against FP32, pinned to what was measured (see data/models/README.md).
/// </summary>
[TestClass]
public sealed class TransformerQuantizationTests
{
    private static MLContext _ml = null!;
    private static IDataView _calib = null!, _test = null!;
    private static double _fp32;
    private static readonly string Model = TestData.Network("spam_transformer");
    private static readonly long Fp32Bytes = new FileInfo(Model).Length;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _calib = _ml.Data.Cache(TestData.SpamTokens(_ml, "spamassassin_tokens_calib_512.csv"));
        _test = _ml.Data.Cache(TestData.SpamTokens(_ml, "spamassassin_tokens_test_1000.csv"));
        _fp32 = TestData.LogitAccuracy(_ml.Transforms.ApplyOnnxModel(Model).Fit(_test), _test);
    }

    private static (double Accuracy, CompressedModel Model) Quantize(QuantizationOptions options)
    {
        var model = _ml.Compression().Quantize(Model, options).Fit(_calib);
        double accuracy = TestData.LogitAccuracy(model, _test);
        Console.WriteLine($"FP32 {_fp32:P1}, quantized {accuracy:P1}, {model.Report.Final.OnnxBytes} of {Fp32Bytes} bytes " +
                          $"({model.Report.Final.OnnxBytes / (double)Fp32Bytes:F3}×)\n{model.Report.Final.Description}");
        return (accuracy, model);
    }

    private static global::Onnx.GraphProto Graph(CompressedModel model) => OnnxModelIO.Parse(model.OnnxModel!, "test").Graph;

    [TestMethod]
    public void Fp32FixtureHasItsRecordedAccuracy()
    {
        Assert.AreEqual(0.972, _fp32, 0.0005, "recorded in data/models/README.md");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void StaticInt8KeepsAccuracyWithinAPointAtUnder027TimesTheBytes()
    {
        var (accuracy, model) = Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Static } });
        using (model)
        {
            Assert.IsTrue(accuracy >= _fp32 - 0.01, $"{accuracy} vs {_fp32}");
            Assert.IsTrue(model.Report.Final.OnnxBytes <= 0.27 * Fp32Bytes, model.Report.ToString());
            var g = Graph(model);
            Assert.IsTrue(g.Node.Any(n => n.OpType == "QuantizeLinear"));
            Assert.IsTrue(g.Node.Any(n => n.OpType == "Gather" && g.Initializer.Any(t => t.Name == n.Input[0] && t.DataType == OnnxType.Int8)), "the embedding table is stored as int8");
            // Softmax and LayerNorm stay float; static mode quantizes the attention products by default.
            Assert.AreEqual(2, g.Node.Count(n => n.OpType == "Softmax"));
            Assert.AreEqual(5, g.Node.Count(n => n.OpType == "LayerNormalization"));
            Assert.IsTrue(g.Node.Any(n => n.OpType == "QuantizeLinear" && n.Input[0].Contains("Softmax")), "softmax output quantized");
            // The 4 attention products (Q·Kᵀ and softmax·V of 2 layers): MatMuls whose two inputs are both dequantized activations.
            var dequantized = new HashSet<string>(g.Node.Where(n => n.OpType == "DequantizeLinear" && !g.Initializer.Any(t => t.Name == n.Input[0])).Select(n => n.Output[0]));
            Assert.AreEqual(4, g.Node.Count(n => n.OpType == "MatMul" && n.Input.Count == 2 && n.Input.All(dequantized.Contains)));
            // Static mode's last steps (see StaticInt8LoweringTests): the 12 projections and their bias Adds as
            // MatMulIntegerToFloat with the bias inside; the attention products stay QDQ MatMuls; the 1/√d Mul of the
            // queries is in their QuantizeLinear scale, so no Mul feeds a QuantizeLinear.
            Assert.AreEqual(12, g.Node.Count(n => n.OpType == "MatMulIntegerToFloat" && n.Domain == "com.microsoft" && n.Input.Count == 7));
            Assert.AreEqual(4, g.Node.Count(n => n.OpType == "MatMul"));
            Assert.AreEqual(5, g.Node.Count(n => n.OpType == "Add"), "the positional and the 4 residual Adds; no bias Add left");
            Assert.IsFalse(g.Node.Any(n => n.OpType == "Mul" && n.Input.Any(i => g.Initializer.Any(t => t.Name == i && OnnxTensors.ElementCount(t) == 1))
                && g.Node.Any(q => q.OpType == "QuantizeLinear" && q.Input[0] == n.Output[0])), "no scalar Mul feeds a QuantizeLinear");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void SplittingOutlierChannelsBringsStaticInt8CloserToFp32()
    {
        // The fixture's LayerNorm outputs are even (±4); give them the outlier channel a pretrained Transformer has:
        // channel 0 of each LayerNorm that feeds only weight MatMuls ×20 (its scale and bias), and row 0 of those
        // MatMuls' weights ÷20, which leaves the float model's output as it was.
        var m = OnnxModelIO.Load(Model);
        var g0 = m.Graph;
        int edited = 0;
        foreach (var ln in g0.Node.Where(n => n.OpType == "LayerNormalization").ToList())
        {
            var readers = g0.Node.Where(n => n.Input.Contains(ln.Output[0])).ToList();
            if (readers.Count == 0 || readers.Any(r => r.OpType != "MatMul" || r.Input[0] != ln.Output[0] || OnnxGraphEditor.Initializer(g0, r.Input[1]) == null)) continue;
            foreach (var input in ln.Input.Skip(1)) Scale(g0, input, 0, 20f, rowLength: 1);
            foreach (var r in readers)
            {
                var w = OnnxGraphEditor.Initializer(g0, r.Input[1])!;
                Scale(g0, w.Name, 0, 1f / 20, rowLength: (int)w.Dims[1]);
            }
            edited++;
        }
        Assert.IsTrue(edited >= 2, $"{edited} LayerNorm(s) edited");
        var bytes = OnnxModelIO.ToBytes(m);
        var path = Path.Combine(Path.GetTempPath(), $"outlier_transformer_{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        float[][] fp32;
        try { fp32 = TestData.Logits(_ml.Transforms.ApplyOnnxModel(path).Fit(_test), _test); }
        finally { File.Delete(path); }
        double Error(CompressedModel q) => TestData.Logits(q, _test).Zip(fp32, (a, b) => a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum()).Average();
        using var split = _ml.Compression().Quantize(new MemoryStream(bytes), new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(_calib);
        using var plain = _ml.Compression().Quantize(new MemoryStream(bytes), new QuantizationOptions { Network = { Mode = QuantizationMode.Static, SplitOutlierChannels = false } }).Fit(_calib);
        // Each split MatMul input is widened by a Concat of its channels and the further copies of the split ones.
        Assert.IsTrue(Graph(split).Node.Count(n => n.OpType == "Concat" && n.Output[0].EndsWith("_split")) >= edited);
        Assert.IsFalse(Graph(plain).Node.Any(n => n.OpType == "Concat" && n.Output[0].EndsWith("_split")));
        double a = Error(split), b = Error(plain);
        Console.WriteLine($"logit MSE against FP32: split {a:G4}, plain {b:G4}");
        Assert.IsTrue(a < 0.5 * b, $"split {a}, plain {b}");
    }

    /// <summary>Multiplies entry <paramref name="row"/> (a run of <paramref name="rowLength"/> values) of an initializer.</summary>
    private static void Scale(global::Onnx.GraphProto g, string name, int row, float factor, int rowLength)
    {
        var t = OnnxGraphEditor.Initializer(g, name)!;
        var values = OnnxTensors.ReadFloats(t);
        for (int i = row * rowLength; i < (row + 1) * rowLength; i++) values[i] *= factor;
        g.Initializer[g.Initializer.IndexOf(t)] = OnnxTensors.Float(t.Name, values, t.Dims.ToArray());
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void DynamicInt8KeepsAccuracyWithinAPointAtUnder027TimesTheBytes()
    {
        var (accuracy, model) = Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } });
        using (model)
        {
            Assert.IsTrue(accuracy >= _fp32 - 0.01, $"{accuracy} vs {_fp32}");
            Assert.IsTrue(model.Report.Final.OnnxBytes <= 0.27 * Fp32Bytes, model.Report.ToString());
            Assert.AreEqual(12, Graph(model).Node.Count(n => n.OpType == "MatMulInteger"), "the 12 projections; the 128×2 head is too small");
            StringAssert.Contains(model.Report.Final.Description, "1 layer(s) too small");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void AttentionProductsFollowQuantizeActivationMatMulsAgainstTheModesDefault()
    {
        var (dynamicAccuracy, dynamic) = Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, QuantizeActivationMatMuls = true } });
        using (dynamic)
        {
            Assert.AreEqual(12 + 4, Graph(dynamic).Node.Count(n => n.OpType == "MatMulInteger"));
            Assert.IsTrue(dynamicAccuracy >= _fp32 - 0.01, $"{dynamicAccuracy} vs {_fp32}");
        }
        var (staticAccuracy, withoutProducts) = Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Static, QuantizeActivationMatMuls = false } });
        using (withoutProducts)
        {
            Assert.IsFalse(Graph(withoutProducts).Node.Any(n => n.OpType == "QuantizeLinear" && n.Input[0].Contains("Softmax")));
            Assert.IsTrue(staticAccuracy >= _fp32 - 0.01, $"{staticAccuracy} vs {_fp32}");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void WeightOnlyInt8IsAQuarterOfTheBytesAndRestoredAtLoad()
    {
        var (accuracy, model) = Quantize(new QuantizationOptions());
        using (model)
        {
            Assert.IsTrue(accuracy >= _fp32 - 0.005, $"{accuracy} vs {_fp32}");
            Assert.IsTrue(model.Report.Final.OnnxBytes <= 0.27 * Fp32Bytes, model.Report.ToString());
            var g = Graph(model);
            // Weights and the positional table: Cast + Mul on initializers only (ONNX Runtime folds them at load);
            // embedding: int8 Gather, then Cast + Mul on the gathered rows. No DequantizeLinear is left to run per call.
            Assert.AreEqual(0, g.Node.Count(n => n.OpType is "MatMulNBits" or "MatMulInteger" or "DequantizeLinear"));
            Assert.AreEqual(1 + 13 + 1 + 1, g.Node.Count(n => n.OpType == "Cast"), "input ids, 13 weights, positional table, embedding rows");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void Fp16IsUnderHalfTheBytesWithinATenthOfAPoint()
    {
        var (accuracy, model) = Quantize(new QuantizationOptions { Precision = Precision.Float16 });
        using (model)
        {
            Assert.AreEqual(_fp32, accuracy, 0.001);
            Assert.IsTrue(model.Report.Final.OnnxBytes <= 0.51 * Fp32Bytes, model.Report.ToString());
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void Int4WithGatherBlockQuantizedEmbeddingRunsAtUnder016TimesTheBytes()
    {
        var (accuracy, model) = Quantize(new QuantizationOptions { Precision = Precision.Int4, Network = { Int4MaxSizeRatio = 0 } }); // every layer 4-bit
        using (model)
        {
            var g = Graph(model);
            Assert.AreEqual(1, g.Node.Count(n => n.OpType == "GatherBlockQuantized"));
            Assert.AreEqual(13, g.Node.Count(n => n.OpType == "MatMulNBits"));
            Assert.IsTrue(model.Report.Final.OnnxBytes <= 0.16 * Fp32Bytes, model.Report.ToString()); // the INT4 target; 0.151× measured with the default blocks of 64
            Assert.IsTrue(accuracy >= _fp32 - 0.03, $"{accuracy} vs {_fp32}");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MixedPrecisionLeavesTheWorstLayersFloatUntilTheOutputSqnrBudgetIsMet()
    {
        var (_, all) = Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Static } });
        double allSqnr = all.Report.Final.TensorErrors!.Single(e => e.Name == "Score").SqnrDb;
        all.Dispose();
        double budget = Math.Ceiling(allSqnr) + 3;
        var (accuracy, model) = Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MinimumOutputSqnrDb = budget } });
        using (model)
        {
            var description = model.Report.Final.Description;
            StringAssert.Contains(description, $"output SQNR budget {budget:G3} dB");
            var kept = model.Report.Final.LayerPrecisions!;
            Assert.IsTrue(kept.Count >= 1 && kept.All(l => l.Bits == 32 && l.LowerBits == 8), description);
            double final = model.Report.Final.TensorErrors!.Single(e => e.Name == "Score").SqnrDb;
            Assert.IsTrue(final >= budget - 0.5, $"output SQNR {final} dB, budget {budget} (all quantized: {allSqnr})\n{description}");
            Assert.IsTrue(accuracy >= _fp32 - 0.01, $"{accuracy} vs {_fp32}");
        }
    }
}
