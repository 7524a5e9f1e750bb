using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>Static INT8: QuantizeLinear/DequantizeLinear pairs with ranges recorded on calibration data, integer weights and biases.</summary>
internal static partial class GraphQuantizer
{
    private static string QuantizeStatic(ModelProto model, List<WeightTensor> weights, QuantizationOptions options, GraphEditContext context)
    {
        var g = model.Graph;
        var activations = ActivationInputs(g, weights);
        // Conv outputs are quantized too, after the Relu that follows (if any): DequantizeLinear → Conv → Relu →
        // QuantizeLinear fuses into one QLinearConv (ONNX Runtime drops a Relu whose quantized range starts at 0).
        var outputs = new HashSet<string>(g.Output.Select(o => o.Name));
        var tails = new Dictionary<NodeProto, NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var conv in weights.Select(w => w.Consumer).Where(n => n.OpType == "Conv").Distinct())
        {
            var readers = g.Node.Where(n => n.Input.Contains(conv.Output[0])).ToList();
            tails[conv] = readers.Count == 1 && readers[0].OpType == "Relu" && !outputs.Contains(conv.Output[0]) ? readers[0] : conv;
        }
        var tailTensors = new HashSet<string>(tails.Values.Select(n => n.Output[0]));
        // The calibration run is the memory peak (the network, ONNX Runtime's copy of it, a batch of activations).
        // The copies of the model that folding, the caller and the report made before it are dead by now but sit in
        // the large-object heap, which only a full collection frees: collected once here, they do not add to the
        // peak (ResNet18 with 256 images: 1751 → 1475 MB peak working set).
        // A large graph's freed memory also goes back to the OS (a plain collection keeps it committed, and the session
        // then comes on top of it).
        if (LargeGraphMemory.IsLarge(model)) LargeGraphMemory.Release(large: true);
        else GC.Collect();
        var stats = ActivationRecorder.Record(model, activations.Concat(tailTensors).Distinct().ToList(), context, options.Network.MaxCalibrationRows, out int rows);
        // A tensor read through MaxPool/Flatten/Reshape from a quantized Conv output gets that output's range, so that
        // the QuantizeLinear/DequantizeLinear around the pass-through op cancel and it runs on uint8/int8 values.
        var producer = OnnxGraphEditor.Producers(g);
        string RangeSource(string tensor)
        {
            var t = tensor;
            while (!tailTensors.Contains(t) && producer.TryGetValue(t, out var p) && p.OpType is "MaxPool" or "Flatten" or "Reshape" && p.Input.Count > 0) t = p.Input[0];
            return tailTensors.Contains(t) ? t : tensor;
        }

        var qdq = new Dictionary<string, (string Dq, float Scale, List<NodeProto> Nodes)>();
        var tailScales = new Dictionary<string, float>();
        (string, float, List<NodeProto>) MakeQdq(string tensor, string input, string output)
        {
            // One range for the Conv output and the tensors read through pass-through ops: the union of their ranges
            // (MaxPool's outputs sit higher than its inputs, so a clipping range of the input alone would clip them).
            var source = RangeSource(tensor);
            float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
            foreach (var member in stats.Keys.Where(k => k == source || RangeSource(k) == source))
            {
                var r = stats[member].Range(options.Network.Calibration, options.Network.Percentile, options.Network.SymmetricActivations);
                lo = Math.Min(lo, r.Min);
                hi = Math.Max(hi, r.Max);
            }
            var (scale, zp) = ActivationParameters(lo, hi, options.Network.SymmetricActivations);
            var sName = OnnxGraphEditor.UniqueName(g, tensor + "_act_scale");
            g.Initializer.Add(OnnxTensors.Float(sName, new[] { scale }));
            var zName = OnnxGraphEditor.UniqueName(g, tensor + "_act_zero_point");
            g.Initializer.Add(options.Network.SymmetricActivations ? OnnxTensors.Int8(zName, new sbyte[1]) : OnnxTensors.UInt8(zName, new[] { (byte)zp }));
            var qName = OnnxGraphEditor.UniqueName(g, tensor + "_act_quantized");
            var nodes = new List<NodeProto>
            {
                OnnxGraphEditor.Node("QuantizeLinear", new[] { input, sName, zName }, new[] { qName }, qName),
                OnnxGraphEditor.Node("DequantizeLinear", new[] { qName, sName, zName }, new[] { output }, qName + "_dequantize"),
            };
            return (output, scale, nodes);
        }
        // Keyed by reference: protobuf messages hash by value, and these nodes are edited while the maps are in use.
        var after = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        foreach (var tail in tails.Values.Distinct(ReferenceEqualityComparer.Instance).Cast<NodeProto>())
        {
            // The tail node writes a new name; QuantizeLinear/DequantizeLinear give the old name back, quantized.
            var original = tail.Output[0];
            var raw = OnnxGraphEditor.UniqueName(g, original + "_float");
            var made = MakeQdq(original, raw, original);
            tail.Output[0] = raw;
            after[tail] = made.Item3;
            tailScales[original] = made.Item2;
        }
        foreach (var a in activations)
            qdq[a] = tailScales.TryGetValue(a, out var already) ? (a, already, new List<NodeProto>()) : MakeQdq(a, a, OnnxGraphEditor.UniqueName(g, a + "_dequantized"));

        var prologue = new List<NodeProto>();
        double worst = 0;
        int biases = 0;
        var consumers = new HashSet<NodeProto>(weights.Select(w => w.Consumer), ReferenceEqualityComparer.Instance);
        foreach (var w in weights)
        {
            var node = w.Consumer;
            bool fused = qdq.TryGetValue(node.Input[0], out var act);
            // A weight that meets a quantized input runs in ONNX Runtime's integer kernels; one that does not is
            // dequantized to float and keeps the plain ±127 levels. See StaticWeightFormat for the formats' reasons.
            var format = fused ? options.Network.WeightFormat : StaticWeightFormat.EightBit;
            bool unsigned = format == StaticWeightFormat.EightBitUnsigned && !options.Network.SymmetricActivations;
            var (scales, err) = DequantizedInt8Weight(g, w, options.PerChannel, prologue, unsigned, format == StaticWeightFormat.PairBounded);
            worst = Math.Max(worst, err);
            if (!fused) continue;
            // Bias as int32 with scale = input scale × weight scale, so the fused kernel adds it in integers.
            bool plain = node.OpType == "Conv" || ((OnnxGraphEditor.Attribute(node, "alpha")?.F ?? 1f) == 1f && (OnnxGraphEditor.Attribute(node, "beta")?.F ?? 1f) == 1f);
            if (node.OpType is "Gemm" or "Conv" && node.Input.Count > 2 && plain && OnnxGraphEditor.Initializer(g, node.Input[2]) is { } bias
                && bias.DataType == OnnxType.Float && bias.Dims.Count == 1 && g.Node.Count(n => n.Input.Contains(bias.Name)) == 1)
            {
                var b = OnnxTensors.ReadFloats(bias);
                if (scales.Length == 1 || scales.Length == b.Length)
                {
                    var bScales = b.Select((_, c) => act.Scale * scales[scales.Length == 1 ? 0 : c]).ToArray();
                    var q = b.Select((v, c) => (int)Math.Clamp(Math.Round(v / bScales[c]), int.MinValue, int.MaxValue)).ToArray();
                    g.Initializer.Remove(bias);
                    var qName = OnnxGraphEditor.UniqueName(g, bias.Name + "_quantized");
                    var sName = OnnxGraphEditor.UniqueName(g, bias.Name + "_scale");
                    var zName = OnnxGraphEditor.UniqueName(g, bias.Name + "_zero_point");
                    g.Initializer.Add(OnnxTensors.Int32(qName, q, b.Length));
                    g.Initializer.Add(OnnxTensors.Float(sName, bScales, b.Length));
                    g.Initializer.Add(OnnxTensors.Int32(zName, new int[b.Length], b.Length));
                    prologue.Add(OnnxGraphEditor.Node("DequantizeLinear", new[] { qName, sName, zName }, new[] { bias.Name }, qName + "_dequantize").WithInt("axis", 0));
                    biases++;
                }
            }
        }

        var ordered = new List<NodeProto>();
        var inserted = new HashSet<string>();
        foreach (var n in g.Node)
        {
            if (consumers.Contains(n) && qdq.TryGetValue(n.Input[0], out var act))
            {
                if (inserted.Add(n.Input[0])) ordered.AddRange(act.Nodes);
                n.Input[0] = act.Dq;
            }
            ordered.Add(n);
            if (after.TryGetValue(n, out var tail)) ordered.AddRange(tail);
        }
        g.Node.Clear();
        g.Node.Add(prologue);
        g.Node.Add(ordered);
        var ranges = string.Join(", ", activations.Take(4).Select(a => { var r = stats[a].Range(options.Network.Calibration, options.Network.Percentile, options.Network.SymmetricActivations); return $"{a} [{r.Min:G3}, {r.Max:G3}]"; }));
        return $"static INT8 (QDQ): {activations.Count} activation tensor(s) as {(options.Network.SymmetricActivations ? "int8 symmetric" : "uint8 asymmetric")}, " +
               $"{options.Network.Calibration} calibration on {rows} row(s) ({ranges}{(activations.Count > 4 ? ", …" : "")}); {weights.Count} weight tensor(s) symmetric " +
               $"{(options.PerChannel ? "per channel" : "per tensor")}, {WeightFormatText(options)} where the input is quantized, " +
               $"{biases} bias(es) int32; largest weight error {worst:G3}.";
    }

    /// <summary>The report's words for pair-bounded int8 weights, static and dynamic mode alike.</summary>
    private const string PairBoundedWords = "int8 with each channel's two largest levels summing to at most 128";

    private static string WeightFormatText(QuantizationOptions options) => options.Network.WeightFormat switch
    {
        StaticWeightFormat.PairBounded => PairBoundedWords + " (ONNX Runtime's u8×s8 kernels cannot overflow)",
        StaticWeightFormat.EightBitUnsigned when !options.Network.SymmetricActivations => "8-bit stored as uint8 around 128 (u8×u8 kernels)",
        _ => "8-bit int8",
    };

    // ---------------------------------------------------------------- dynamic INT8
}
