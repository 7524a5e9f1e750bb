using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>Dynamic INT8: DynamicQuantizeLinear + MatMulInteger, with the weight format chosen by the CPU.</summary>
internal static partial class GraphQuantizer
{
    private static string QuantizeDynamic(ModelProto model, List<WeightTensor> weights, QuantizationOptions options)
    {
        var g = model.Graph;
        var inits = new HashSet<string>(g.Initializer.Select(t => t.Name));
        var prologue = new List<NodeProto>();
        var replacements = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        var dynamicInputs = new Dictionary<string, (string Q, string Scale, string Zero)>();
        double worst = 0;
        int dynamic = 0;
        // Auto: ±127 int8 where the u8×s8 kernels are exact (VNNI, ARM64); elsewhere pair-bounded int8, which keeps
        // those faster kernels exact (uint8 weights made ONNX Runtime use its slower u8×u8 kernels).
        var weightFormat = options.Network.DynamicWeightFormat != DynamicWeightFormat.Auto ? options.Network.DynamicWeightFormat
            : CpuInt8.ExactSignedProducts ? DynamicWeightFormat.EightBit : DynamicWeightFormat.PairBounded;
        bool signedWeights = weightFormat != DynamicWeightFormat.EightBitUnsigned;
        foreach (var w in weights)
        {
            var node = w.Consumer;
            var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
            bool gemmOk = node.OpType == "Gemm" && (OnnxGraphEditor.Attribute(node, "transA")?.I ?? 0) == 0
                && (OnnxGraphEditor.Attribute(node, "alpha")?.F ?? 1f) == 1f && (OnnxGraphEditor.Attribute(node, "beta")?.F ?? 1f) == 1f;
            bool usable = (node.OpType == "MatMul" || gemmOk) && tensor.Dims.Count == 2 && !inits.Contains(node.Input[0])
                && g.Node.Count(n => n.Input.Contains(w.Name)) == 1;
            if (!usable)
            {
                worst = Math.Max(worst, WeightOnlyInt8(g, w, options, prologue));
                continue;
            }
            var values = OnnxTensors.ReadFloats(tensor);
            long rows = tensor.Dims[0], cols = tensor.Dims[1];
            if (node.OpType == "Gemm" && (OnnxGraphEditor.Attribute(node, "transB")?.I ?? 0) == 1)
            {
                // MatMulInteger computes A·B: store the [out, in] weight as [in, out].
                var t = new float[values.Length];
                for (long r = 0; r < rows; r++)
                    for (long c = 0; c < cols; c++) t[c * rows + r] = values[r * cols + c];
                values = t;
                (rows, cols) = (cols, rows);
            }
            g.Initializer.Remove(tensor);
            var (q, scales, err) = SymmetricInt8(values, new[] { rows, cols }, 1, options.PerChannel, pairBounded: weightFormat == DynamicWeightFormat.PairBounded);
            worst = Math.Max(worst, err);
            // ONNX Runtime's u8×s8 kernel sums pairs of products in int16 on x64 CPUs without VNNI and can saturate
            // with ±127 int8 weights (measured: letter_mlp lost 1.7 points): pair-bounded levels cannot, and uint8
            // weights around zero point 128 (the same 255 symmetric levels) send it to its exact but slower u8×u8
            // kernel. With VNNI the u8×s8 kernel is exact with ±127 (see docs/stages.md for the measurements).
            var qName = OnnxGraphEditor.UniqueName(g, w.Name + "_quantized");
            var sName = OnnxGraphEditor.UniqueName(g, w.Name + "_scale");
            var zName = OnnxGraphEditor.UniqueName(g, w.Name + "_zero_point");
            if (signedWeights)
            {
                g.Initializer.Add(OnnxTensors.Int8(qName, q, rows, cols));
                g.Initializer.Add(OnnxTensors.Int8(zName, new sbyte[1]));
            }
            else
            {
                g.Initializer.Add(OnnxTensors.UInt8(qName, q.Select(v => (byte)(v + 128)).ToArray(), rows, cols));
                g.Initializer.Add(OnnxTensors.UInt8(zName, new byte[] { 128 }));
            }
            g.Initializer.Add(scales.Length == 1 ? OnnxTensors.Float(sName, scales) : OnnxTensors.Float(sName, scales, scales.Length));

            var nodes = new List<NodeProto>();
            var a = node.Input[0];
            if (!dynamicInputs.TryGetValue(a, out var aq))
            {
                aq = (OnnxGraphEditor.UniqueName(g, a + "_dyn_quantized"), OnnxGraphEditor.UniqueName(g, a + "_dyn_scale"), OnnxGraphEditor.UniqueName(g, a + "_dyn_zero_point"));
                dynamicInputs[a] = aq;
                nodes.Add(OnnxGraphEditor.Node("DynamicQuantizeLinear", new[] { a }, new[] { aq.Q, aq.Scale, aq.Zero }, aq.Q));
            }
            var output = node.Output[0];
            var stem = OnnxGraphEditor.UniqueName(g, (string.IsNullOrEmpty(node.Name) ? output : node.Name) + "_int");
            bool hasBias = node.OpType == "Gemm" && node.Input.Count > 2 && !string.IsNullOrEmpty(node.Input[2]);
            nodes.Add(OnnxGraphEditor.Node("MatMulInteger", new[] { aq.Q, qName, aq.Zero, zName }, new[] { stem + "_i32" }, stem + "_matmul"));
            nodes.Add(OnnxGraphEditor.Node("Cast", new[] { stem + "_i32" }, new[] { stem + "_f32" }, stem + "_cast").WithInt("to", OnnxType.Float));
            nodes.Add(OnnxGraphEditor.Node("Mul", new[] { aq.Scale, sName }, new[] { stem + "_scale" }, stem + "_scale_mul"));
            nodes.Add(OnnxGraphEditor.Node("Mul", new[] { stem + "_f32", stem + "_scale" }, new[] { hasBias ? stem + "_scaled" : output }, stem + "_mul"));
            if (hasBias) nodes.Add(OnnxGraphEditor.Node("Add", new[] { stem + "_scaled", node.Input[2] }, new[] { output }, stem + "_bias"));
            replacements[node] = nodes;
            dynamic++;
        }
        var ordered = new List<NodeProto>(prologue);
        foreach (var n in g.Node) ordered.AddRange(replacements.TryGetValue(n, out var r) ? r : new List<NodeProto> { n });
        g.Node.Clear();
        g.Node.Add(ordered);
        string format = weightFormat switch
        {
            DynamicWeightFormat.PairBounded => $"stored {PairBoundedWords} (u8×s8 kernels that cannot saturate",
            DynamicWeightFormat.EightBit => "stored int8 (u8×s8 kernels",
            _ => "stored uint8 around 128 (u8×u8 kernels",
        };
        string why = options.Network.DynamicWeightFormat == DynamicWeightFormat.Auto ? $", chosen for this CPU: {CpuInt8.Feature})" : ")";
        return $"dynamic INT8: {dynamic} MatMul/Gemm as DynamicQuantizeLinear (uint8 activations, range per batch) + MatMulInteger with 8-bit symmetric " +
               $"{(options.PerChannel ? "per-channel" : "per-tensor")} weights {format}{why}; {weights.Count - dynamic} other weight tensor(s) INT8 weight-only; largest weight error {worst:G3}.";
    }

    // ---------------------------------------------------------------- INT4 weight-only
}
