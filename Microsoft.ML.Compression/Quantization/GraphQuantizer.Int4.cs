using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>INT4: block-wise symmetric weights in ONNX Runtime's MatMulNBits.</summary>
internal static partial class GraphQuantizer
{
    /// <summary>
    /// MatMul/Gemm weights as 4-bit integers in blocks of <see cref="NetworkQuantizationOptions.BlockSize"/> along the input
    /// dimension (one scale per output channel and block), multiplied by ONNX Runtime's com.microsoft MatMulNBits.
    /// (DequantizeLinear with int4 and block_size, opset 21, runs in ONNX Runtime, but ML.NET's OnnxTransformer
    /// refuses int4 initializers.) Conv weights and weights that do not fit stay INT8 per channel.
    /// </summary>
    private static string QuantizeInt4(ModelProto model, List<WeightTensor> weights, QuantizationOptions options)
    {
        var g = model.Graph;
        var inits = new HashSet<string>(g.Initializer.Select(t => t.Name));
        var prologue = new List<NodeProto>();
        var replacements = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        double worst = 0;
        int blocked = 0;
        int bs = options.Network.BlockSize;
        foreach (var w in weights)
        {
            var node = w.Consumer;
            var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
            bool transB = (OnnxGraphEditor.Attribute(node, "transB")?.I ?? 0) == 1;
            // Mixed precision's INT8 layers, Conv weights and weights that MatMulNBits cannot take: INT8 per channel.
            if (options.Network.Int8Layers.Contains(w.Name) || options.Network.Int8Layers.Contains(node.Name) || !FitsMatMulNBits(g, w, inits))
            {
                worst = Math.Max(worst, WeightOnlyInt8(g, w, options, prologue));
                continue;
            }
            // MatMulNBits wants the weight as [N, K] (output channel first).
            var values = OnnxTensors.ReadFloats(tensor);
            long n = tensor.Dims[0], k = tensor.Dims[1];
            if (!(node.OpType == "Gemm" && transB))
            {
                var t = new float[values.Length];
                for (long r = 0; r < n; r++)
                    for (long c = 0; c < k; c++) t[c * n + r] = values[r * k + c];
                values = t;
                (n, k) = (k, n);
            }
            long blocks = (k + bs - 1) / bs;
            int blob = bs / 2;
            var packed = new byte[n * blocks * blob];
            var scales = new float[n * blocks];
            for (long r = 0; r < n; r++)
                for (long b = 0; b < blocks; b++)
                {
                    long from = b * bs, to = Math.Min(k, from + bs);
                    float maxAbs = 0;
                    for (long c = from; c < to; c++) maxAbs = Math.Max(maxAbs, Math.Abs(values[r * k + c]));
                    float s = maxAbs > 0 ? maxAbs / 7f : 1f;
                    scales[r * blocks + b] = s;
                    long offset = (r * blocks + b) * blob;
                    for (long c = from; c < from + bs; c++)
                    {
                        int q = 0;
                        if (c < to)
                        {
                            float v = values[r * k + c];
                            q = (int)Math.Clamp(MathF.Round(v / s), -7, 7);
                            worst = Math.Max(worst, Math.Abs(v - q * s));
                        }
                        // Unsigned nibbles with the default zero point 8, the first value of a pair in the low nibble.
                        packed[offset + (c - from) / 2] |= (byte)((q + 8) << ((c - from) % 2 == 0 ? 0 : 4));
                    }
                }
            g.Initializer.Remove(tensor);
            var qName = OnnxGraphEditor.UniqueName(g, w.Name + "_int4");
            var sName = OnnxGraphEditor.UniqueName(g, w.Name + "_scale");
            g.Initializer.Add(OnnxTensors.UInt8(qName, packed, n, blocks, blob));
            g.Initializer.Add(OnnxTensors.Float(sName, scales, n * blocks));
            var output = node.Output[0];
            bool hasBias = node.OpType == "Gemm" && node.Input.Count > 2 && !string.IsNullOrEmpty(node.Input[2]);
            var product = hasBias ? OnnxGraphEditor.UniqueName(g, output + "_nobias") : output;
            var nodes = new List<NodeProto>
            {
                OnnxGraphEditor.Node("MatMulNBits", new[] { node.Input[0], qName, sName }, new[] { product }, qName + "_matmul", "com.microsoft")
                    .WithInt("K", k).WithInt("N", n).WithInt("bits", 4).WithInt("block_size", bs),
            };
            if (hasBias) nodes.Add(OnnxGraphEditor.Node("Add", new[] { product, node.Input[2] }, new[] { output }, qName + "_bias"));
            replacements[node] = nodes;
            blocked++;
        }
        if (blocked > 0 && !model.OpsetImport.Any(o => o.Domain == "com.microsoft"))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        var ordered = new List<NodeProto>(prologue);
        foreach (var node in g.Node) ordered.AddRange(replacements.TryGetValue(node, out var r) ? r : new List<NodeProto> { node });
        g.Node.Clear();
        g.Node.Add(ordered);
        return $"INT4 weights, symmetric, blocks of {bs} along the input dimension, in ONNX Runtime's MatMulNBits on {blocked} MatMul/Gemm weight tensor(s)" +
               $"{(weights.Count > blocked ? $"; {weights.Count - blocked} {(options.Network.Int8Layers.Count > 0 ? "mixed-precision, " : "")}Conv or other weight tensor(s) INT8 per channel" : "")}; largest weight error {worst:G3}.";
    }

    /// <summary>
    /// Whether MatMulNBits can take the weight: a 2-D weight read only by a MatMul, or by a Gemm without transA,
    /// alpha or beta, whose other input is an activation.
    /// </summary>
    internal static bool FitsMatMulNBits(GraphProto g, WeightTensor w, HashSet<string>? initializers = null)
    {
        var node = w.Consumer;
        var tensor = OnnxGraphEditor.Initializer(g, w.Name);
        bool gemmOk = node.OpType == "Gemm" && (OnnxGraphEditor.Attribute(node, "transA")?.I ?? 0) == 0
            && (OnnxGraphEditor.Attribute(node, "alpha")?.F ?? 1f) == 1f && (OnnxGraphEditor.Attribute(node, "beta")?.F ?? 1f) == 1f;
        bool activationInput = initializers != null ? !initializers.Contains(node.Input[0]) : OnnxGraphEditor.Initializer(g, node.Input[0]) == null;
        return (node.OpType == "MatMul" || gemmOk) && tensor != null && tensor.Dims.Count == 2 && activationInput && g.Node.Count(n => n.Input.Contains(w.Name)) == 1;
    }
}
