using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Weight-only quantization of an ONNX graph. Neural and linear weights: INT8 (symmetric, per output channel,
/// stored as int8 and restored by DequantizeLinear) or FP16 (stored in a Constant node and cast back, because
/// ML.NET's OnnxTransformer refuses Float16 initializers). Tree ensembles: leaf values are snapped to the same grid.
/// </summary>
internal static class GraphQuantizer
{
    public static string Quantize(ModelProto model, QuantizationOptions options, GraphEditContext context)
    {
        WeightTensors.CheckFinite(model);
        var g = model.Graph;
        if (g.Node.Any(n => n.OpType == "DequantizeLinear") || g.Node.Any(n => n.OpType == "Cast" && n.Input.Count == 1 && g.Node.Any(c => c.OpType == "Constant" && c.Output.Contains(n.Input[0]))))
            throw new UnsupportedModelException("The model is already quantized (it has DequantizeLinear or FP16 constant weights). Quantize the float model once.");

        var trees = TreeEnsembleNode.FindAll(g).ToList();
        if (trees.Count > 0) return QuantizeTrees(trees, options);

        if (LinearOpRewriter.HasLinearOps(g)) LinearOpRewriter.Rewrite(model);
        var weights = WeightTensors.Find(g, options.ExcludedNodes);
        if (weights.Count == 0)
            throw new UnsupportedModelException("The graph has no float MatMul, Gemm or Conv weights, linear coefficients or tree ensembles to quantize.");
        OnnxGraphEditor.EnsureOpset(model, 13);

        double worst = 0;
        var prologue = new List<NodeProto>();
        foreach (var w in weights)
        {
            var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
            var values = OnnxTensors.ReadFloats(tensor);
            var dims = tensor.Dims.ToArray();
            g.Initializer.Remove(tensor);
            if (options.Precision == Precision.Float16)
            {
                var half = OnnxGraphEditor.UniqueName(g, w.Name + "_fp16");
                prologue.Add(OnnxGraphEditor.Node("Constant", Array.Empty<string>(), new[] { half }, half).WithTensor("value", OnnxTensors.Float16(half, values, dims)));
                prologue.Add(OnnxGraphEditor.Node("Cast", new[] { half }, new[] { w.Name }, half + "_cast").WithInt("to", OnnxType.Float));
                worst = Math.Max(worst, values.Max(v => Math.Abs(v - (float)(Half)Math.Clamp(v, -65504f, 65504f))));
                continue;
            }
            int channels = options.PerChannel ? (int)dims[w.ChannelAxis] : 1;
            var channelOf = options.PerChannel ? WeightTensors.ChannelOf(dims, w.ChannelAxis) : new int[values.Length];
            var maxAbs = new float[channels];
            for (int i = 0; i < values.Length; i++) maxAbs[channelOf[i]] = Math.Max(maxAbs[channelOf[i]], Math.Abs(values[i]));
            // Symmetric int8 as ONNX Runtime does it: zero point 0, range ±127 so that -128 is never used.
            var scales = maxAbs.Select(m => m > 0 ? m / 127f : 1f).ToArray();
            var q = new sbyte[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                float s = scales[channelOf[i]];
                q[i] = (sbyte)Math.Clamp(MathF.Round(values[i] / s), -127, 127);
                worst = Math.Max(worst, Math.Abs(values[i] - q[i] * s));
            }
            var qName = OnnxGraphEditor.UniqueName(g, w.Name + "_quantized");
            var sName = OnnxGraphEditor.UniqueName(g, w.Name + "_scale");
            var zName = OnnxGraphEditor.UniqueName(g, w.Name + "_zero_point");
            g.Initializer.Add(OnnxTensors.Int8(qName, q, dims));
            if (options.PerChannel)
            {
                g.Initializer.Add(OnnxTensors.Float(sName, scales, channels));
                g.Initializer.Add(OnnxTensors.Int8(zName, new sbyte[channels], channels));
                prologue.Add(OnnxGraphEditor.Node("DequantizeLinear", new[] { qName, sName, zName }, new[] { w.Name }, qName + "_dequantize").WithInt("axis", w.ChannelAxis));
            }
            else
            {
                g.Initializer.Add(OnnxTensors.Float(sName, scales));
                g.Initializer.Add(OnnxTensors.Int8(zName, new sbyte[1]));
                prologue.Add(OnnxGraphEditor.Node("DequantizeLinear", new[] { qName, sName, zName }, new[] { w.Name }, qName + "_dequantize"));
            }
        }
        for (int i = prologue.Count - 1; i >= 0; i--) g.Node.Insert(0, prologue[i]);
        string how = options.Precision == Precision.Float16 ? "FP16 weights (Constant + Cast)"
            : $"INT8 weights, symmetric, {(options.PerChannel ? "per output channel" : "per tensor")}, via DequantizeLinear";
        return $"{how} on {weights.Count} weight tensor(s); largest weight error {worst:G3}.";
    }

    private static string QuantizeTrees(List<NodeProto> nodes, QuantizationOptions options)
    {
        double worst = 0;
        int leaves = 0;
        foreach (var node in nodes)
        {
            var ensemble = new TreeEnsembleNode(node);
            Func<float, float> round;
            if (options.Precision == Precision.Float16)
                round = v => (float)(Half)v;
            else
            {
                float max = ensemble.LeafValues.Select(Math.Abs).DefaultIfEmpty(0f).Max();
                float scale = max > 0 ? max / 127f : 1f;
                round = v => MathF.Round(v / scale) * scale;
            }
            foreach (var v in ensemble.LeafValues) { worst = Math.Max(worst, Math.Abs(v - round(v))); leaves++; }
            ensemble.RoundLeaves(round);
            ensemble.WriteBack();
        }
        var grid = options.Precision == Precision.Float16 ? "FP16" : "a symmetric INT8 grid (one scale per ensemble)";
        return $"tree ensemble: {leaves} leaf values snapped to {grid}, split thresholds kept exact; ai.onnx.ml opset 2 stores them as float32, so only the zip's compression shrinks (largest leaf error {worst:G3}).";
    }
}
