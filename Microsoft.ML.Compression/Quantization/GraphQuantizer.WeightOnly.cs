using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>Weight-only quantization: INT8 restored by DequantizeLinear, FP16 in a Constant node.</summary>
internal static partial class GraphQuantizer
{
    /// <param name="g">The graph.</param>
    /// <param name="weights">Its weights to quantize.</param>
    /// <param name="options">The options.</param>
    /// <param name="large">
    /// Whether the graph is large (<see cref="LargeGraphMemory.IsLarge"/>): then INT8 MatMul weights have their scale
    /// applied to the product (<see cref="LoadTimeInt8.ReplaceScalingProduct"/>), for ONNX Runtime's memory at load.
    /// </param>
    private static string QuantizeWeightsOnly(GraphProto g, List<WeightTensor> weights, QuantizationOptions options, bool large)
    {
        double worst = 0;
        var prologue = new List<NodeProto>();
        var readers = large && options.Precision == Precision.Int8 && !options.Network.KeepDequantizeLinear ? LoadTimeInt8.Readers(g) : null;
        int scaledProducts = 0;
        foreach (var w in weights)
        {
            if (options.Precision == Precision.Float16)
            {
                var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
                var values = OnnxTensors.ReadFloats(tensor);
                var dims = tensor.Dims.ToArray();
                g.Initializer.Remove(tensor);
                var half = OnnxGraphEditor.UniqueName(g, w.Name + "_fp16");
                prologue.Add(OnnxGraphEditor.Node("Constant", Array.Empty<string>(), new[] { half }, half).WithTensor("value", OnnxTensors.Float16(half, values, dims)));
                prologue.Add(OnnxGraphEditor.Node("Cast", new[] { half }, new[] { w.Name }, half + "_cast").WithInt("to", OnnxType.Float));
                worst = Math.Max(worst, values.Max(v => Math.Abs(v - (float)(Half)Math.Clamp(v, -65504f, 65504f))));
                continue;
            }
            if (readers != null && LoadTimeInt8.ReplaceScalingProduct(g, w, options.PerChannel, prologue, readers) is { } error)
            {
                worst = Math.Max(worst, error);
                scaledProducts++;
                continue;
            }
            worst = Math.Max(worst, WeightOnlyInt8(g, w, options, prologue));
        }
        InsertPrologue(g, prologue);
        string how = options.Precision == Precision.Float16 ? "FP16 weights (Constant + Cast)"
            : $"INT8 weights, symmetric, {(options.PerChannel ? "per output channel" : "per tensor")}, " +
              (options.Network.KeepDequantizeLinear ? "via DequantizeLinear" : "restored by Cast + Mul (folded when ONNX Runtime loads the graph)");
        if (scaledProducts > 0) how += $"; on {scaledProducts} MatMul weight(s) the scale multiplies the product instead (one float copy folded at load: a large graph)";
        return $"{how} on {weights.Count} weight tensor(s); largest weight error {worst:G3}.";
    }

    /// <summary>One weight left weight-only INT8: Cast + Mul folded at load (default) or DequantizeLinear at run time.</summary>
    private static double WeightOnlyInt8(GraphProto g, WeightTensor w, QuantizationOptions options, List<NodeProto> prologue)
        => options.Network.KeepDequantizeLinear ? DequantizedInt8Weight(g, w, options.PerChannel, prologue).Worst : LoadTimeInt8.Replace(g, w, options.PerChannel, prologue);

    private static void InsertPrologue(GraphProto g, List<NodeProto> prologue)
    {
        for (int i = prologue.Count - 1; i >= 0; i--) g.Node.Insert(0, prologue[i]);
    }
}
