using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Quantization;
using Microsoft.ML.Compression.Reporting;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Static INT8 as ONNX Runtime really runs it (QDQ fused into integer kernels), not only as QDQ simulated in float:
/// on a one-Conv graph built so that every pair of uint8 × int8 products exceeds the int16 range.
/// </summary>
[TestClass]
public sealed class StaticInt8KernelTests
{
    private const int Channels = 64, Outputs = 8, Side = 4, Width = Channels * Side * Side, Rows = 64;

    private sealed class Row
    {
        public float[] x { get; set; } = Array.Empty<float>();
    }

    /// <summary>x [batch, 64, 4, 4] → Conv 1×1 (64 → 8, weights 0 or in [0.5, 1], bias) → Relu → y.</summary>
    private static ModelProto OneConv(Random random)
    {
        var g = new GraphProto { Name = "one_conv" };
        g.Input.Add(OnnxGraphEditor.TensorValue("x", OnnxType.Float, -1, Channels, Side, Side));
        g.Output.Add(OnnxGraphEditor.TensorValue("y", OnnxType.Float, -1, Outputs, Side, Side));
        // Every 8th weight exactly 0 (as after pruning), to check that zeros stored as uint8 128 are counted as zeros.
        var w = Enumerable.Range(0, Outputs * Channels).Select(i => i % 8 == 0 ? 0f : 0.5f + 0.5f * random.NextSingle()).ToArray();
        g.Initializer.Add(OnnxTensors.Float("w", w, Outputs, Channels, 1, 1));
        g.Initializer.Add(OnnxTensors.Float("b", Enumerable.Range(0, Outputs).Select(i => 0.1f * i).ToArray(), Outputs));
        g.Node.Add(OnnxGraphEditor.Node("Conv", new[] { "x", "w", "b" }, new[] { "c" }, "conv").WithInts("kernel_shape", new long[] { 1, 1 }));
        g.Node.Add(OnnxGraphEditor.Node("Relu", new[] { "c" }, new[] { "y" }, "relu"));
        var model = new ModelProto { IrVersion = 8, Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    private static float[] Run(ModelProto model, float[] flat)
    {
        // As OnnxTransformer runs a model: all graph optimizations, so the QDQ nodes become QLinearConv.
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(OnnxModelIO.ToBytes(model), options);
        using var input = OrtValue.CreateTensorValueFromMemory(flat, new long[] { flat.Length / Width, Channels, Side, Side });
        using var run = new RunOptions();
        using var output = session.Run(run, new[] { "x" }, new[] { input }, new[] { "y" });
        return output[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static (ModelProto Float, ModelProto Quantized, GraphEditContext Context, float[] Rows) Quantize(StaticWeightFormat format)
    {
        var random = new Random(3);
        var model = OneConv(random);
        // Inputs in [0.5, 1]: uint8 levels 128–255, so two products with weight levels near 127 sum past 32767.
        var rows = Enumerable.Range(0, Rows).Select(_ => Enumerable.Range(0, Width).Select(_ => 0.5f + 0.5f * random.NextSingle()).ToArray()).ToArray();
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema["x"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Width);
        var data = ml.Data.LoadFromEnumerable(rows.Select(r => new Row { x = r }), schema);
        var context = new GraphEditContext { ML = ml, GraphInputData = data, GraphInputs = new[] { "x" } };
        var quantized = model.Clone();
        // MinConvMultiplyAdds 0: this tiny Conv would otherwise keep float arithmetic (too few multiply-adds to gain).
        var options = new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.MinMax, WeightFormat = format, MinConvMultiplyAdds = 0 } };
        Console.WriteLine(GraphQuantizer.Quantize(quantized, options, context));
        return (model, quantized, context, rows.SelectMany(r => r).ToArray());
    }

    /// <summary>RMS of the fused INT8 output's error relative to the float output's RMS.</summary>
    private static double RelativeRmsError(ModelProto model, ModelProto quantized, float[] flat)
    {
        var expected = Run(model, flat);
        var actual = Run(quantized, flat);
        double signal = 0, noise = 0;
        for (int i = 0; i < expected.Length; i++) { signal += expected[i] * expected[i]; noise += (expected[i] - actual[i]) * (expected[i] - actual[i]); }
        return Math.Sqrt(noise / signal);
    }

    private static TensorProto WeightOf(GraphProto g, out TensorProto zeroPoint)
    {
        var dq = g.Node.Single(n => n.OpType == "DequantizeLinear" && n.Output[0] == "w");
        zeroPoint = OnnxGraphEditor.Initializer(g, dq.Input[2])!;
        return OnnxGraphEditor.Initializer(g, dq.Input[0])!;
    }

    [TestMethod]
    public void DefaultPairBoundedWeightsMatchFloatUnderOnnxRuntimesFusedKernels()
    {
        var (model, quantized, context, flat) = Quantize(new QuantizationOptions().Network.WeightFormat);
        double error = RelativeRmsError(model, quantized, flat);
        Console.WriteLine($"relative RMS error of the fused INT8 Conv: {error:P3}; tensor errors: {string.Join(", ", context.TensorErrors!)}");
        // 8-bit int8 weights gave 13.7 % here on an AVX2 CPU without VNNI (saturating int16 pair sums).
        Assert.IsTrue(error < 0.02, $"relative RMS error {error:P2}");
        var weight = WeightOf(quantized.Graph, out _);
        Assert.AreEqual(OnnxType.Int8, weight.DataType);
        // Per output channel (64 weights each), the two largest magnitudes sum to at most 128 levels: 255 · 128 fits int16.
        var levels = weight.RawData.ToByteArray().Select(b => Math.Abs((int)(sbyte)b)).ToArray();
        for (int c = 0; c < Outputs; c++)
        {
            var top = levels.Skip(c * Channels).Take(Channels).OrderDescending().Take(2).ToArray();
            Assert.IsTrue(top[0] + top[1] <= 128 && top[0] >= 64, $"channel {c}: {top[0]} + {top[1]}");
        }
        // The graph output is measured as ONNX Runtime runs it, fused kernels included (17 dB with 8-bit int8 weights).
        Assert.IsTrue(context.TensorErrors!.Single(e => e.Name == "y").SqnrDb > 30, string.Join(", ", context.TensorErrors!));
    }

    [TestMethod]
    public void EightBitUnsignedWeightsMatchFloatUnderOnnxRuntimesFusedKernels()
    {
        var (model, quantized, context, flat) = Quantize(StaticWeightFormat.EightBitUnsigned);
        double error = RelativeRmsError(model, quantized, flat);
        Console.WriteLine($"relative RMS error of the fused INT8 Conv: {error:P3}; tensor errors: {string.Join(", ", context.TensorErrors!)}");
        Assert.IsTrue(error < 0.02, $"relative RMS error {error:P2}");
        // Stored as uint8 around zero point 128, so ONNX Runtime picks its u8×u8 kernel.
        var weight = WeightOf(quantized.Graph, out var zeroPoint);
        Assert.AreEqual(OnnxType.UInt8, weight.DataType);
        Assert.AreEqual(OnnxType.UInt8, zeroPoint.DataType);
        Assert.IsTrue(zeroPoint.RawData.ToByteArray().All(z => z == 128));
        // 448 non-zero weights (stored as uint8 ≠ 128), plus 8 scales, 8 zero points and 8 bias scales; counting bytes ≠ 0 gave 536.
        Assert.AreEqual(448L + 3 * Outputs, ModelStatistics.Of(quantized).NonZeroCount);
        Assert.IsTrue(context.TensorErrors!.Single(e => e.Name == "y").SqnrDb > 30, string.Join(", ", context.TensorErrors!));
    }
}
