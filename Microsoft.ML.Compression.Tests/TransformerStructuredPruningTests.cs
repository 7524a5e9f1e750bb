using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Structured pruning of a Transformer's FFN neurons: MatMul → Add(bias) → activation → MatMul, through the bias
/// Add and the activation (ReLU as in spam_token_transformer.onnx, and the Erf form of GELU that BERT exports
/// write, grafted onto the same fixture), with the attention projections, which meet the residual stream or a
/// Reshape, left whole. Scores are compared with the unpruned graph on the 1,000 held-out e-mails.
/// </summary>
[TestClass]
public sealed class TransformerStructuredPruningTests
{
    private static MLContext _ml = null!;
    private static IDataView _calib = null!, _test = null!;
    private static readonly string Model = TestData.Network("spam_token_transformer");

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _calib = _ml.Data.Cache(TestData.SpamTokenIds(_ml, "spamassassin_tokens_calib_512.csv"));
        _test = _ml.Data.Cache(TestData.SpamTokenIds(_ml, "spamassassin_tokens_test_1000.csv"));
    }

    private static float[][] Logits(ITransformer model) =>
        model.Transform(_test).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();

    private static double Agreement(float[][] a, float[][] b) =>
        a.Zip(b).Count(p => (p.First[1] > p.First[0]) == (p.Second[1] > p.Second[0])) / (double)a.Length;

    private static long[] Dims(ModelProto m, string initializer) => m.Graph.Initializer.Single(t => t.Name == initializer).Dims.ToArray();

    /// <summary>The pruned graph: FFN weights and bias shrink to the kept neurons, attention stays whole, and it loads in ORT.</summary>
    private static ModelProto AssertFfnShrank(CompressedModel pruned, int kept)
    {
        var m = OnnxModelIO.Parse(pruned.OnnxModel!, "test");
        foreach (var layer in new[] { "layers.0", "layers.1" })
        {
            CollectionAssert.AreEqual(new long[] { 64, kept }, Dims(m, $"{layer}.ff1.weight"));
            CollectionAssert.AreEqual(new long[] { kept }, Dims(m, $"{layer}.ff1.bias"));
            CollectionAssert.AreEqual(new long[] { kept, 64 }, Dims(m, $"{layer}.ff2.weight"));
            CollectionAssert.AreEqual(new long[] { 64 }, Dims(m, $"{layer}.ff2.bias"));
            foreach (var projection in new[] { "q", "k", "v", "o" })
                CollectionAssert.AreEqual(new long[] { 64, 64 }, Dims(m, $"{layer}.{projection}.weight"), $"{layer}.{projection}: joined to the residual stream or a Reshape, not a channel region");
        }
        using var session = new InferenceSession(pruned.OnnxModel!);
        Assert.AreEqual(2, session.InputMetadata.Count);
        return m;
    }

    [TestMethod]
    [TestCategory("Slow")] // about 15 s on 2 shared cores: reconstruction records both FFNs on 512 e-mails
    public void FfnNeuronsAreRemovedThroughTheBiasAddAndRelu()
    {
        var fp32 = Logits(_ml.Transforms.ApplyOnnxModel(Model).Fit(_test));
        using var pruned = _ml.Compression().Prune(Model, new PruningOptions { TargetSparsity = 0.75, MaxCalibrationRows = 256, Network = { Granularity = PruningGranularity.Structured } }).Fit(_calib);
        AssertFfnShrank(pruned, 32);
        double agreement = Agreement(Logits(pruned), fp32);
        Console.WriteLine($"ReLU FFN 128 → 32: agreement with FP32 {agreement:P1}; {pruned.Report.Final.Description}");
        Assert.IsTrue(agreement >= 0.99, $"agreement {agreement}"); // measured: see the comment in the report
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void FfnNeuronsAreRemovedAcrossTheErfFormOfGelu()
    {
        var gelu = WithErfGelu(OnnxModelIO.Load(Model));
        var bytes = OnnxModelIO.ToBytes(gelu);
        var path = Path.Combine(Path.GetTempPath(), $"gelu_token_transformer_{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        float[][] unpruned;
        try { unpruned = Logits(_ml.Transforms.ApplyOnnxModel(path).Fit(_test)); }
        finally { File.Delete(path); }
        using var pruned = _ml.Compression().Prune(new MemoryStream(bytes), new PruningOptions { TargetSparsity = 0.5, MaxCalibrationRows = 256, Network = { Granularity = PruningGranularity.Structured } }).Fit(_calib);
        var m = AssertFfnShrank(pruned, 64);
        Assert.AreEqual(2, m.Graph.Node.Count(n => n.OpType == "Erf"), "the activation itself is kept, only narrower");
        double agreement = Agreement(Logits(pruned), unpruned);
        Console.WriteLine($"GELU FFN 128 → 64: agreement with the unpruned graph {agreement:P1}; {pruned.Report.Final.Description}");
        Assert.IsTrue(agreement >= 0.99, $"agreement {agreement}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void AnActivationThatReadsAValueFromOutsideTheFfnIsNotPruned()
    {
        // Multiply the FFN's hidden state by a value computed elsewhere ([batch, 1, 128] from the attention mask,
        // which broadcasts along the FFN's 128 channels): it is no constant, so the channels cannot be removed
        // across it, and the fixture has no other pair of layers joined channel-wise.
        var m = OnnxModelIO.Load(Model);
        foreach (var relu in m.Graph.Node.Where(n => n.OpType == "Relu").ToList())
        {
            var mixed = relu.Output[0] + "_mixed";
            var mul = OnnxGraphEditor.Node("Mul", new[] { relu.Output[0], "/Unsqueeze_output_0" }, new[] { mixed }, relu.Name + "_mix");
            m.Graph.Node.Insert(m.Graph.Node.IndexOf(relu) + 1, mul);
            foreach (var n in m.Graph.Node.Where(n => n != mul && n.OpType == "MatMul" && n.Input[0] == relu.Output[0])) n.Input[0] = mixed;
        }
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() =>
            _ml.Compression().Prune(new MemoryStream(OnnxModelIO.ToBytes(m)), new PruningOptions { Network = { Granularity = PruningGranularity.Structured } }).Fit(_calib));
        Assert.IsNotNull(e);
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void AttentionHeadsAreRemovedWholeFromQkvTheReshapesAndTheOutputProjection()
    {
        var fp32 = Logits(_ml.Transforms.ApplyOnnxModel(Model).Fit(_test));
        using var pruned = _ml.Compression().Prune(Model, new PruningOptions
        {
            TargetSparsity = 0, MaxCalibrationRows = 256, Network = { Granularity = PruningGranularity.Structured, AttentionHeadSparsity = 0.5 },
        }).Fit(_calib);
        var m = OnnxModelIO.Parse(pruned.OnnxModel!, "test");
        foreach (var layer in new[] { "layers.0", "layers.1" })
        {
            foreach (var projection in new[] { "q", "k", "v" })
            {
                CollectionAssert.AreEqual(new long[] { 64, 32 }, Dims(m, $"{layer}.{projection}.weight"), "2 of 4 heads of 16");
                CollectionAssert.AreEqual(new long[] { 32 }, Dims(m, $"{layer}.{projection}.bias"));
            }
            CollectionAssert.AreEqual(new long[] { 32, 64 }, Dims(m, $"{layer}.o.weight"));
            CollectionAssert.AreEqual(new long[] { 64 }, Dims(m, $"{layer}.o.bias"));
            CollectionAssert.AreEqual(new long[] { 64, 128 }, Dims(m, $"{layer}.ff1.weight"), "TargetSparsity 0: the FFN is kept");
        }
        // The Reshapes now split into 2 heads and merge back to 32 values.
        var shapes = m.Graph.Node.Where(n => n.OpType == "Reshape").Select(n => Int64s(m.Graph.Initializer.Single(t => t.Name == n.Input[1]))).ToList();
        Assert.AreEqual(6, shapes.Count(v => v.SequenceEqual(new long[] { -1, 128, 2, 16 })));
        Assert.AreEqual(2, shapes.Count(v => v.SequenceEqual(new long[] { -1, 128, 32 })));
        Assert.IsFalse(m.Graph.Initializer.Any(t => t.Name == "/layers.0/Constant_output_0"), "the old head count, read by nothing now, is gone");
        using var session = new InferenceSession(pruned.OnnxModel!);
        double agreement = Agreement(Logits(pruned), fp32);
        Console.WriteLine($"heads 4 → 2 in both layers: agreement with FP32 {agreement:P1}; {pruned.Report.Final.Description}");
        Assert.IsTrue(agreement >= 0.97, $"agreement {agreement}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void HeadsWhoseReshapeShapeIsComputedAtRunTimeAreRefused()
    {
        // The head count reaches one Reshape through an Identity: not a constant the pruner can verify and rewrite.
        var m = OnnxModelIO.Load(Model);
        var reshape = m.Graph.Node.First(n => n.OpType == "Reshape");
        var computed = reshape.Input[1] + "_computed";
        m.Graph.Node.Insert(m.Graph.Node.IndexOf(reshape), OnnxGraphEditor.Node("Identity", new[] { reshape.Input[1] }, new[] { computed }, "computed_shape"));
        reshape.Input[1] = computed;
        var bytes = OnnxModelIO.ToBytes(m);
        Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Prune(new MemoryStream(bytes), new PruningOptions
        {
            MaxCalibrationRows = 64, Network = { Granularity = PruningGranularity.Structured, AttentionHeadSparsity = 0.5 },
        }).Fit(_calib));
    }

    [TestMethod]
    public void AttentionHeadSparsityOutsideItsRangeIsRejectedUpFront()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Prune(new PruningOptions { Network = { AttentionHeadSparsity = 1 } }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Prune(new PruningOptions { Network = { AttentionHeadSparsity = -0.1 } }));
    }

    private static long[] Int64s(TensorProto t) => t.Int64Data.Count > 0 ? t.Int64Data.ToArray()
        : Enumerable.Range(0, t.RawData.Length / 8).Select(i => BitConverter.ToInt64(t.RawData.Span.Slice(i * 8, 8))).ToArray();

    /// <summary>Replaces each Relu by GELU as BERT exports write it: x / √2 → Erf → + 1 → × x → × 0.5, constants as Constant nodes.</summary>
    internal static ModelProto WithErfGelu(ModelProto m)
    {
        var g = m.Graph;
        foreach (var relu in g.Node.Where(n => n.OpType == "Relu").ToList())
        {
            string x = relu.Input[0], y = relu.Output[0], p = relu.Name;
            NodeProto Constant(string name, float value) =>
                OnnxGraphEditor.Node("Constant", Array.Empty<string>(), new[] { name }, name).WithTensor("value", OnnxTensors.Float(name, new[] { value }));
            var nodes = new[]
            {
                Constant(p + "/sqrt2", MathF.Sqrt(2)),
                OnnxGraphEditor.Node("Div", new[] { x, p + "/sqrt2" }, new[] { p + "/div" }, p + "/Div"),
                OnnxGraphEditor.Node("Erf", new[] { p + "/div" }, new[] { p + "/erf" }, p + "/Erf"),
                Constant(p + "/one", 1f),
                OnnxGraphEditor.Node("Add", new[] { p + "/erf", p + "/one" }, new[] { p + "/add" }, p + "/Add"),
                OnnxGraphEditor.Node("Mul", new[] { x, p + "/add" }, new[] { p + "/mul" }, p + "/Mul"),
                Constant(p + "/half", 0.5f),
                OnnxGraphEditor.Node("Mul", new[] { p + "/mul", p + "/half" }, new[] { y }, p + "/Mul_1"),
            };
            int at = g.Node.IndexOf(relu);
            g.Node.RemoveAt(at);
            for (int i = 0; i < nodes.Length; i++) g.Node.Insert(at + i, nodes[i]);
        }
        return m;
    }
}
