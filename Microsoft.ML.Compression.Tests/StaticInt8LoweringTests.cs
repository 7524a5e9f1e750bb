using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Quantization;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The last steps of static INT8, which remove float passes that only feed quantization: a quantized MatMul and its
/// bias Add become one com.microsoft MatMulIntegerToFloat with the bias, and a Mul by a positive constant scalar read
/// only by QuantizeLinear goes into that QuantizeLinear's scale. Checked on the structure (which nodes are rewritten
/// and which are left alone) and on the outputs, not on timings.
/// </summary>
[TestClass]
public sealed class StaticInt8LoweringTests
{
    private const int Tokens = 4, Width = 16, Rows = 64;

    private sealed class Row
    {
        public float[] x { get; set; } = Array.Empty<float>();
    }

    /// <summary>
    /// x [batch, 4, 16] → MatMul W1 → Add(b1, ·) (bias first) → MatMul W2 → Add(·, b2) (bias second) = a2;
    /// attention-like: Mul(a2, 0.25) · Transpose(a2) → Softmax → · a2 → MatMul W3 (no bias) → z;
    /// Mul(a2, −0.5) → MatMul W4 → m4 (also a graph output) → Add b4 → y4.
    /// </summary>
    private static ModelProto Graph(Random random)
    {
        var g = new GraphProto { Name = "lowering" };
        g.Input.Add(OnnxGraphEditor.TensorValue("x", OnnxType.Float, -1, Tokens, Width));
        foreach (var o in new[] { "z", "m4", "y4" }) g.Output.Add(OnnxGraphEditor.TensorValue(o, OnnxType.Float, -1, Tokens, Width));
        float[] Values(int n, float scale) => Enumerable.Range(0, n).Select(_ => scale * (2 * random.NextSingle() - 1)).ToArray();
        foreach (var w in new[] { "W1", "W2", "W3", "W4" }) g.Initializer.Add(OnnxTensors.Float(w, Values(Width * Width, 0.5f), Width, Width));
        foreach (var b in new[] { "b1", "b2", "b4" }) g.Initializer.Add(OnnxTensors.Float(b, Values(Width, 0.2f), Width));
        g.Initializer.Add(OnnxTensors.Float("quarter", new[] { 0.25f }));
        g.Initializer.Add(OnnxTensors.Float("minus_half", new[] { -0.5f }));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "x", "W1" }, new[] { "m1" }, "mm1"));
        g.Node.Add(OnnxGraphEditor.Node("Add", new[] { "b1", "m1" }, new[] { "a1" }, "add1"));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "a1", "W2" }, new[] { "m2" }, "mm2"));
        g.Node.Add(OnnxGraphEditor.Node("Add", new[] { "m2", "b2" }, new[] { "a2" }, "add2"));
        g.Node.Add(OnnxGraphEditor.Node("Mul", new[] { "a2", "quarter" }, new[] { "scaled" }, "scale"));
        g.Node.Add(OnnxGraphEditor.Node("Transpose", new[] { "a2" }, new[] { "a2t" }, "transpose").WithInts("perm", new long[] { 0, 2, 1 }));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "scaled", "a2t" }, new[] { "scores" }, "scores"));
        g.Node.Add(OnnxGraphEditor.Node("Softmax", new[] { "scores" }, new[] { "weights" }, "softmax").WithInt("axis", -1));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "weights", "a2" }, new[] { "mixed" }, "mix"));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "mixed", "W3" }, new[] { "z" }, "mm3"));
        g.Node.Add(OnnxGraphEditor.Node("Mul", new[] { "a2", "minus_half" }, new[] { "negated" }, "negate"));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "negated", "W4" }, new[] { "m4" }, "mm4"));
        g.Node.Add(OnnxGraphEditor.Node("Add", new[] { "m4", "b4" }, new[] { "y4" }, "add4"));
        var model = new ModelProto { IrVersion = 8, Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    private static (ModelProto Float, float[] Rows, GraphEditContext Context) Setup()
    {
        var random = new Random(5);
        var model = Graph(random);
        var rows = Enumerable.Range(0, Rows).Select(_ => Enumerable.Range(0, Tokens * Width).Select(_ => 2 * random.NextSingle() - 1).ToArray()).ToArray();
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema["x"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Tokens * Width);
        var data = ml.Data.LoadFromEnumerable(rows.Select(r => new Row { x = r }), schema);
        return (model, rows.SelectMany(r => r).ToArray(), new GraphEditContext { ML = ml, GraphInputData = data, GraphInputs = new[] { "x" } });
    }

    private static ModelProto Quantize(ModelProto model, GraphEditContext context, bool keepDequantizeLinear) => Quantize(model, context, keepDequantizeLinear, out _);

    private static ModelProto Quantize(ModelProto model, GraphEditContext context, bool keepDequantizeLinear, out IReadOnlyList<TensorError> errors)
    {
        var quantized = model.Clone();
        // Every layer quantized: these 16-wide layers are far below the default multiply-add threshold.
        var options = new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.MinMax, MinMatMulMultiplyAdds = 0, KeepDequantizeLinear = keepDequantizeLinear } };
        Console.WriteLine(GraphQuantizer.Quantize(quantized, options, context));
        errors = context.TensorErrors!;
        return quantized;
    }

    private static float[][] Run(ModelProto model, float[] flat)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(OnnxModelIO.ToBytes(model), options);
        using var input = OrtValue.CreateTensorValueFromMemory(flat, new long[] { flat.Length / (Tokens * Width), Tokens, Width });
        using var run = new RunOptions();
        var names = new[] { "z", "m4", "y4" };
        using var outputs = session.Run(run, new[] { "x" }, new[] { input }, names);
        return outputs.Select(o => o.GetTensorDataAsSpan<float>().ToArray()).ToArray();
    }

    private static double RelativeRms(float[] expected, float[] actual)
    {
        double signal = 0, noise = 0;
        for (int i = 0; i < expected.Length; i++) { signal += expected[i] * expected[i]; noise += (expected[i] - actual[i]) * (expected[i] - actual[i]); }
        return Math.Sqrt(noise / signal);
    }

    [TestMethod]
    public void MatMulWithBiasBecomesMatMulIntegerToFloatAndPositiveScalarMulGoesIntoTheQuantizeScale()
    {
        var (model, flat, context) = Setup();
        var g = Quantize(model, context, keepDequantizeLinear: false).Graph;

        // Both bias forms (bias first or second) fused; the bias is the 7th input, the weight an 8-bit initializer.
        var fused = g.Node.Where(n => n.OpType == "MatMulIntegerToFloat").ToList();
        Assert.AreEqual(2, fused.Count, string.Join(", ", g.Node.Select(n => n.OpType)));
        Assert.IsTrue(fused.All(n => n.Domain == "com.microsoft" && n.Input.Count == 7));
        CollectionAssert.AreEquivalent(new[] { "b1", "b2" }, fused.Select(n => n.Input[6]).ToArray());
        CollectionAssert.AreEquivalent(new[] { "a1", "a2" }, fused.Select(n => n.Output[0]).ToArray());
        Assert.IsTrue(fused.All(n => OnnxGraphEditor.Initializer(g, n.Input[1]) is { DataType: OnnxType.Int8 }));
        Assert.IsFalse(g.Node.Any(n => n.Name is "add1" or "add2" || n.Output.Contains("m1") || n.Output.Contains("m2")));
        // Left as QDQ MatMul: no bias (mm3), output also a graph output (mm4, whose Add stays), the activation products.
        CollectionAssert.AreEquivalent(new[] { "scores", "mix", "mm3", "mm4" }, g.Node.Where(n => n.OpType == "MatMul").Select(n => n.Name).ToArray());
        Assert.IsTrue(g.Node.Any(n => n.OpType == "Add" && n.Output[0] == "y4"));
        Assert.IsTrue(g.Node.Where(n => n.OpType == "MatMul").All(n => n.Input.All(i => g.Node.Single(p => p.Output.Contains(i)).OpType == "DequantizeLinear")));
        Assert.IsTrue(model.OpsetImport.Count == 1, "the input model is not modified");

        // The 0.25 Mul is gone: its QuantizeLinear reads a2 with the scale divided by 0.25, its DequantizeLinear keeps the scale.
        Assert.IsFalse(g.Node.Any(n => n.Name == "scale" || n.Output.Contains("scaled")));
        var dqScores = g.Node.Single(n => n.OpType == "DequantizeLinear" && n.Output[0] == g.Node.Single(m => m.Name == "scores").Input[0]);
        var qScores = g.Node.Single(n => n.OpType == "QuantizeLinear" && n.Output[0] == dqScores.Input[0]);
        Assert.AreEqual("a2", qScores.Input[0]);
        float qScale = OnnxTensors.ReadFloats(OnnxGraphEditor.Initializer(g, qScores.Input[1])!)[0];
        float dqScale = OnnxTensors.ReadFloats(OnnxGraphEditor.Initializer(g, dqScores.Input[1])!)[0];
        Assert.AreEqual(dqScale / 0.25f, qScale, 1e-6f * qScale);
        // A negative scalar cannot go into a scale: that Mul stays.
        Assert.IsTrue(g.Node.Any(n => n.OpType == "Mul" && n.Name == "negate"));
    }

    [TestMethod]
    public void LoweredGraphComputesWhatTheQdqGraphComputes()
    {
        var (model, flat, context) = Setup();
        var lowered = Quantize(model, context, keepDequantizeLinear: false, out var loweredErrors);
        var qdq = Quantize(model, context, keepDequantizeLinear: true, out var qdqErrors);
        // The SQNR report still shows a1 as the fused operator sees it (quantized), though no DequantizeLinear reads it any more.
        var qA1 = lowered.Graph.Node.Single(n => n.OpType == "QuantizeLinear" && n.Input[0] == "a1");
        Assert.IsFalse(lowered.Graph.Node.Any(n => n.OpType == "DequantizeLinear" && n.Input[0] == qA1.Output[0]));
        double Sqnr(IReadOnlyList<TensorError> e, string name) => e.Single(t => t.Name == name).SqnrDb;
        Assert.AreEqual(Sqnr(qdqErrors, "a1"), Sqnr(loweredErrors, "a1"), 0.01);
        Assert.IsTrue(Sqnr(loweredErrors, "a1") < 60, $"a1 measured after quantization: {Sqnr(loweredErrors, "a1")} dB");
        Assert.IsFalse(qdq.Graph.Node.Any(n => n.OpType == "MatMulIntegerToFloat"), "KeepDequantizeLinear keeps the plain QDQ form");
        Assert.AreEqual(3, qdq.Graph.Node.Count(n => n.OpType == "Add"), "the QDQ form keeps every bias Add");
        var expected = Run(model, flat);
        var fromQdq = Run(qdq, flat);
        var fromLowered = Run(lowered, flat);
        for (int o = 0; o < expected.Length; o++)
        {
            double same = RelativeRms(fromQdq[o], fromLowered[o]);
            double error = RelativeRms(expected[o], fromLowered[o]);
            Console.WriteLine($"output {o}: lowered vs QDQ {same:E2}, lowered vs float {error:P2}");
            Assert.IsTrue(same < 1e-5, $"output {o}: {same}");
            Assert.IsTrue(error < 0.05, $"output {o}: {error}");
        }
    }
}
