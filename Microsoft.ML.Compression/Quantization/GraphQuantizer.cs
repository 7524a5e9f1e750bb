using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Quantization of an ONNX graph.
/// <list type="bullet">
/// <item>Weight-only: INT8 (symmetric, per output channel, stored as int8 and restored by DequantizeLinear), INT4
/// (symmetric, block-wise, com.microsoft MatMulNBits) or FP16 (stored in a Constant node and cast
/// back, because ML.NET's OnnxTransformer refuses Float16 initializers). Tree ensembles: leaf values are snapped to
/// the same grid.</item>
/// <item>Static INT8 (networks): QuantizeLinear/DequantizeLinear pairs on the inputs of MatMul/Gemm/Conv with ranges
/// recorded on calibration data, 8-bit symmetric per-channel weights in a <see cref="StaticWeightFormat"/> that
/// ONNX Runtime's integer kernels compute exactly, int32 biases; ONNX Runtime fuses them into integer kernels. Last,
/// float passes that only feed quantization go: a scalar Mul into the QuantizeLinear scale
/// (<see cref="ScaleIntoQuantize"/>), MatMul + bias Add into one MatMulIntegerToFloat (<see cref="IntegerMatMulBias"/>).</item>
/// <item>Dynamic INT8 (networks): DynamicQuantizeLinear + MatMulInteger for MatMul/Gemm.</item>
/// </list>
/// </summary>
internal static class GraphQuantizer
{
    private static readonly HashSet<string> QuantizedOps = new() { "DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "MatMulNBits", "QLinearConv", "QLinearMatMul", "GatherBlockQuantized", "MatMulIntegerToFloat" };

    public static string Quantize(ModelProto model, QuantizationOptions options, GraphEditContext context)
    {
        TreeEnsembleCompactor.Expand(model); // an earlier stage's compact trees: edited in the opset-2 form
        WeightTensors.CheckFinite(model);
        var g = model.Graph;
        if (g.Node.Any(n => QuantizedOps.Contains(n.OpType)) || g.Node.Any(n => n.OpType == "Cast" && n.Input.Count == 1 && g.Node.Any(c => c.OpType == "Constant" && c.Output.Contains(n.Input[0])))
            || g.Node.Any(n => LoadTimeInt8.IsRestoreCast(g, n)))
            throw new UnsupportedModelException("The model is already quantized (it has DequantizeLinear, quantized operators, INT8 or FP16 constant weights). Quantize the float model once.");

        string note = "";
        var mode = options.Mode;
        var trees = TreeEnsembleNode.FindAll(g).ToList();
        if (trees.Count > 0)
        {
            if (mode != QuantizationMode.WeightOnly) note = $" {mode} mode does not apply to tree ensembles (they have no activations to quantize): leaves quantized weight-only.";
            return QuantizeTrees(trees, options) + note + TreeEnsembleCompactor.Store(model, options.TreeStorage);
        }

        if (LinearOpRewriter.HasLinearOps(g)) LinearOpRewriter.Rewrite(model);
        // Networks: BatchNormalization after Conv/Gemm goes into the layer's weights first (exact in float), so that
        // the quantized Conv is followed by Relu and fuses into QLinearConv.
        int folded = context.FeatureInput == null ? BatchNormFolder.Fold(g) : 0;
        string foldNote = folded > 0 ? $"{folded} BatchNormalization node(s) folded into the preceding Conv/Gemm; " : "";
        var weights = WeightTensors.Find(g, options.ExcludedNodes);
        if (weights.Count == 0 && EmbeddingQuantizer.Find(g, options.ExcludedNodes).Count == 0)
            throw new UnsupportedModelException("The graph has no float MatMul, Gemm or Conv weights, embedding tables, linear coefficients or tree ensembles to quantize.");

        if (mode != QuantizationMode.WeightOnly && context.FeatureInput != null)
        {
            // An exported ML.NET predictor is one linear layer over the raw features: activation quantization would
            // quantize the user's features themselves, for no speed-up at this size.
            note = $" {mode} mode is for networks; this exported ML.NET model was quantized weight-only.";
            mode = QuantizationMode.WeightOnly;
        }

        OnnxGraphEditor.EnsureOpset(model, 13);
        var floatModel = context.FeatureInput == null ? model.Clone() : null;
        Func<ModelProto, QuantizationMode, IReadOnlyCollection<string>, string> quantize = (m, md, excluded)
            => QuantizeMode(m, WeightTensors.Find(m.Graph, options.ExcludedNodes.Concat(excluded).ToArray()), md, options, context, excluded);
        if (floatModel != null && options.MinimumOutputSqnrDb > 0) quantize = MixedPrecision.Budgeted(quantize, floatModel, options, context);
        string description = options.RequireSpeedup && mode != QuantizationMode.WeightOnly
            ? QuantizationMeasurements.QuantizeFasterThanFloat(model, mode, options, context, quantize)
            : quantize(model, mode, Array.Empty<string>());
        if (floatModel != null)
        {
            // Networks: how far each quantized operator's input and each output moved, on the calibration rows.
            var tensors = ActivationInputs(floatModel.Graph, WeightTensors.Find(floatModel.Graph, options.ExcludedNodes));
            context.TensorErrors = QuantizationMeasurements.Sqnr(floatModel, model, tensors, context, options.MaxCalibrationRows);
        }
        return foldNote + description + note;
    }

    /// <summary>
    /// Quantizes <paramref name="weights"/> in <paramref name="mode"/>, then (dynamic/static, with
    /// <see cref="QuantizationOptions.QuantizeActivationMatMuls"/>) the activation×activation MatMuls, then the
    /// embedding tables and large constant operands; the last two skip what <see cref="QuantizationOptions.ExcludedNodes"/>
    /// or <paramref name="alsoExcluded"/> name.
    /// </summary>
    internal static string QuantizeMode(ModelProto model, List<WeightTensor> weights, QuantizationMode mode, QuantizationOptions options, GraphEditContext context,
        IReadOnlyCollection<string>? alsoExcluded = null)
    {
        // Found before the weights are quantized: afterwards a weight MatMul reads its weight from a DequantizeLinear
        // and would look like a product of two activations.
        var products = mode != QuantizationMode.WeightOnly && (options.QuantizeActivationMatMuls ?? mode == QuantizationMode.Static)
            ? ActivationMatMulQuantizer.Find(model.Graph, options.ExcludedNodes.Concat(alsoExcluded ?? Array.Empty<string>()).ToHashSet())
            : new List<NodeProto>();
        string smallNote = "";
        var small = new List<WeightTensor>();
        if (mode != QuantizationMode.WeightOnly) weights = SmallLayers.KeepSmallInFloat(model, weights, options, context, out small, out smallNote);
        string description = weights.Count == 0 ? "" : mode switch
        {
            QuantizationMode.Static => QuantizeStatic(model, weights, options, context),
            QuantizationMode.Dynamic => QuantizeDynamic(model, weights, options),
            _ when options.Precision == Precision.Int4 => QuantizeInt4(model, weights, options),
            _ => QuantizeWeightsOnly(model.Graph, weights, options),
        };
        if (mode == QuantizationMode.Static) smallNote += SmallLayers.QuantizeInputsFromQuantizedLayers(model, small, weights, options, context);
        description += smallNote;
        description += mode == QuantizationMode.Static ? ActivationMatMulQuantizer.Static(model, products, options, context)
            : mode == QuantizationMode.Dynamic ? ActivationMatMulQuantizer.Dynamic(model, products) : "";
        // Last, after every range is recorded on the QDQ graph: float passes that only feed quantization go (a scalar
        // Mul into the QuantizeLinear scale; MatMul + bias Add as one integer operator).
        int scaled = mode == QuantizationMode.Static ? ScaleIntoQuantize.Fold(model) : 0;
        if (scaled > 0)
            description += $" {scaled} Mul(s) by a constant scalar folded into the scale of the QuantizeLinear that reads them.";
        int withBias = mode == QuantizationMode.Static && !options.KeepDequantizeLinear ? IntegerMatMulBias.Fuse(model) : 0;
        if (withBias > 0)
            description += $" {withBias} quantized MatMul(s) with their bias Add written as ONNX Runtime's MatMulIntegerToFloat with the bias inside (the QDQ form leaves the Add as a separate pass).";
        // Embedding tables (Gather) and large constant operands are stored quantized in every mode: in text models
        // they are most of the file.
        var excluded = options.ExcludedNodes.Concat(alsoExcluded ?? Array.Empty<string>()).ToHashSet();
        return (description + EmbeddingQuantizer.Quantize(model, EmbeddingQuantizer.Find(model.Graph, excluded), options)
            + (context.FeatureInput == null ? EmbeddingQuantizer.QuantizeOperands(model, options, excluded) : "")).TrimStart();
    }

    private static string QuantizeWeightsOnly(GraphProto g, List<WeightTensor> weights, QuantizationOptions options)
    {
        double worst = 0;
        var prologue = new List<NodeProto>();
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
            worst = Math.Max(worst, WeightOnlyInt8(g, w, options, prologue));
        }
        InsertPrologue(g, prologue);
        string how = options.Precision == Precision.Float16 ? "FP16 weights (Constant + Cast)"
            : $"INT8 weights, symmetric, {(options.PerChannel ? "per output channel" : "per tensor")}, " +
              (options.KeepDequantizeLinear ? "via DequantizeLinear" : "restored by Cast + Mul (folded when ONNX Runtime loads the graph)");
        return $"{how} on {weights.Count} weight tensor(s); largest weight error {worst:G3}.";
    }

    /// <summary>One weight left weight-only INT8: Cast + Mul folded at load (default) or DequantizeLinear at run time.</summary>
    private static double WeightOnlyInt8(GraphProto g, WeightTensor w, QuantizationOptions options, List<NodeProto> prologue)
        => options.KeepDequantizeLinear ? DequantizedInt8Weight(g, w, options.PerChannel, prologue).Worst : LoadTimeInt8.Replace(g, w, options.PerChannel, prologue);

    private static void InsertPrologue(GraphProto g, List<NodeProto> prologue)
    {
        for (int i = prologue.Count - 1; i >= 0; i--) g.Node.Insert(0, prologue[i]);
    }

    /// <summary>
    /// Symmetric int8 as ONNX Runtime does it: zero point 0, levels within ±127 so that -128 is never used. Each
    /// scale maps the channel's largest magnitude to 127, or, with <paramref name="pairBounded"/>, the sum of its two
    /// largest magnitudes to 127 (see <see cref="StaticWeightFormat.PairBounded"/>).
    /// </summary>
    internal static (sbyte[] Q, float[] Scales, double Worst) SymmetricInt8(float[] values, long[] dims, int axis, bool perChannel, bool pairBounded = false)
    {
        int channels = perChannel ? (int)dims[axis] : 1;
        var channelOf = perChannel ? WeightTensors.ChannelOf(dims, axis) : new int[values.Length];
        var top1 = new float[channels];
        var top2 = new float[channels];
        for (int i = 0; i < values.Length; i++)
        {
            float a = Math.Abs(values[i]);
            int c = channelOf[i];
            if (a > top1[c]) { top2[c] = top1[c]; top1[c] = a; }
            else if (a > top2[c]) top2[c] = a;
        }
        // Pair-bounded: the two largest magnitudes of a channel together map to at most 128 levels, so that any two of
        // its levels sum to at most 128 and 255 · 128 = 32,640 fits the int16 pair sums of ONNX Runtime's uint8×int8
        // kernels on CPUs without VNNI (128 is the tight bound: 255 · 129 does not fit).
        var scales = Enumerable.Range(0, channels)
            .Select(c => top1[c] == 0 ? 1f : pairBounded ? Math.Max(top1[c] / 127f, (top1[c] + top2[c]) / 128f) : top1[c] / 127f).ToArray();
        var q = new sbyte[values.Length];
        for (int i = 0; i < values.Length; i++)
            q[i] = (sbyte)Math.Clamp(MathF.Round(values[i] / scales[channelOf[i]]), -127, 127);
        if (pairBounded) KeepPairsWithin128(q, channelOf, channels);
        double worst = 0;
        for (int i = 0; i < values.Length; i++) worst = Math.Max(worst, Math.Abs(values[i] - q[i] * scales[channelOf[i]]));
        return (q, scales, worst);
    }

    /// <summary>
    /// Float rounding can push the two largest levels of a channel to 129 together (84.50001 and 43.50001 both round
    /// up); one step less on the largest restores the bound.
    /// </summary>
    private static void KeepPairsWithin128(sbyte[] q, int[] channelOf, int channels)
    {
        var first = new int[channels];
        var second = new int[channels];
        var at = new int[channels];
        for (int i = 0; i < q.Length; i++)
        {
            int a = Math.Abs((int)q[i]), c = channelOf[i];
            if (a > first[c]) { second[c] = first[c]; first[c] = a; at[c] = i; }
            else if (a > second[c]) second[c] = a;
        }
        for (int c = 0; c < channels; c++)
            if (first[c] + second[c] > 128) q[at[c]] -= (sbyte)Math.Sign(q[at[c]]);
    }

    /// <summary>
    /// Replaces the float weight initializer by 8-bit integers + scale + zero point and a DequantizeLinear that
    /// outputs the old name. The levels are symmetric (within ±127 around the zero point; pair-bounded: see
    /// <see cref="SymmetricInt8"/>); with <paramref name="unsigned"/> they are stored as uint8 with zero point 128
    /// instead of int8 with zero point 0.
    /// </summary>
    private static (float[] Scales, double Worst) DequantizedInt8Weight(GraphProto g, WeightTensor w, bool perChannel, List<NodeProto> prologue, bool unsigned = false, bool pairBounded = false)
    {
        var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
        var values = OnnxTensors.ReadFloats(tensor);
        var dims = tensor.Dims.ToArray();
        g.Initializer.Remove(tensor);
        var (q, scales, worst) = SymmetricInt8(values, dims, w.ChannelAxis, perChannel, pairBounded);
        var qName = OnnxGraphEditor.UniqueName(g, w.Name + "_quantized");
        var sName = OnnxGraphEditor.UniqueName(g, w.Name + "_scale");
        var zName = OnnxGraphEditor.UniqueName(g, w.Name + "_zero_point");
        int zeros = perChannel ? scales.Length : 1;
        long[] zeroDims = perChannel ? new long[] { scales.Length } : Array.Empty<long>();
        if (unsigned)
        {
            g.Initializer.Add(OnnxTensors.UInt8(qName, UnsignedLevels(q), dims));
            g.Initializer.Add(OnnxTensors.UInt8(zName, Enumerable.Repeat((byte)128, zeros).ToArray(), zeroDims));
        }
        else
        {
            g.Initializer.Add(OnnxTensors.Int8(qName, q, dims));
            g.Initializer.Add(OnnxTensors.Int8(zName, new sbyte[zeros], zeroDims));
        }
        g.Initializer.Add(OnnxTensors.Float(sName, scales, zeroDims));
        var dq = OnnxGraphEditor.Node("DequantizeLinear", new[] { qName, sName, zName }, new[] { w.Name }, qName + "_dequantize");
        prologue.Add(perChannel ? dq.WithInt("axis", w.ChannelAxis) : dq);
        return (scales, worst);
    }

    /// <summary>Symmetric int8 levels (±127) shifted to uint8 around zero point 128.</summary>
    private static byte[] UnsignedLevels(sbyte[] q)
    {
        var u = new byte[q.Length];
        for (int i = 0; i < q.Length; i++) u[i] = (byte)(q[i] + 128);
        return u;
    }

    // ---------------------------------------------------------------- static INT8 (QDQ)

    /// <summary>The activation inputs (input 0, not an initializer) of the weight consumers, in graph order.</summary>
    internal static List<string> ActivationInputs(GraphProto g, IEnumerable<WeightTensor> weights)
    {
        var inits = new HashSet<string>(g.Initializer.Select(t => t.Name));
        return weights.Select(w => w.Consumer.Input[0]).Where(a => !inits.Contains(a)).Distinct().ToList();
    }

    /// <summary>Scale and zero point of an activation range: uint8 asymmetric (range widened to include 0) or int8 symmetric.</summary>
    internal static (float Scale, int ZeroPoint) ActivationParameters(float min, float max, bool symmetric)
    {
        min = Math.Min(min, 0f);
        max = Math.Max(max, 0f);
        if (symmetric)
        {
            float a = Math.Max(-min, max);
            return (a > 0 ? a / 127f : 1f, 0);
        }
        if (max == min) return (1f, 0);
        float scale = (max - min) / 255f;
        return (scale, (int)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }

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
        GC.Collect();
        var stats = ActivationRecorder.Record(model, activations.Concat(tailTensors).Distinct().ToList(), context, options.MaxCalibrationRows, out int rows);
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
                var r = stats[member].Range(options.Calibration, options.Percentile, options.SymmetricActivations);
                lo = Math.Min(lo, r.Min);
                hi = Math.Max(hi, r.Max);
            }
            var (scale, zp) = ActivationParameters(lo, hi, options.SymmetricActivations);
            var sName = OnnxGraphEditor.UniqueName(g, tensor + "_act_scale");
            g.Initializer.Add(OnnxTensors.Float(sName, new[] { scale }));
            var zName = OnnxGraphEditor.UniqueName(g, tensor + "_act_zero_point");
            g.Initializer.Add(options.SymmetricActivations ? OnnxTensors.Int8(zName, new sbyte[1]) : OnnxTensors.UInt8(zName, new[] { (byte)zp }));
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
            var format = fused ? options.WeightFormat : StaticWeightFormat.EightBit;
            bool unsigned = format == StaticWeightFormat.EightBitUnsigned && !options.SymmetricActivations;
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
        var ranges = string.Join(", ", activations.Take(4).Select(a => { var r = stats[a].Range(options.Calibration, options.Percentile, options.SymmetricActivations); return $"{a} [{r.Min:G3}, {r.Max:G3}]"; }));
        return $"static INT8 (QDQ): {activations.Count} activation tensor(s) as {(options.SymmetricActivations ? "int8 symmetric" : "uint8 asymmetric")}, " +
               $"{options.Calibration} calibration on {rows} row(s) ({ranges}{(activations.Count > 4 ? ", …" : "")}); {weights.Count} weight tensor(s) symmetric " +
               $"{(options.PerChannel ? "per channel" : "per tensor")}, {WeightFormatText(options)} where the input is quantized, " +
               $"{biases} bias(es) int32; largest weight error {worst:G3}.";
    }

    private static string WeightFormatText(QuantizationOptions options) => options.WeightFormat switch
    {
        StaticWeightFormat.PairBounded => "int8 with each channel's two largest levels summing to at most 128 (ONNX Runtime's u8×s8 kernels cannot overflow)",
        StaticWeightFormat.EightBitUnsigned when !options.SymmetricActivations => "8-bit stored as uint8 around 128 (u8×u8 kernels)",
        _ => "8-bit int8",
    };

    // ---------------------------------------------------------------- dynamic INT8

    private static string QuantizeDynamic(ModelProto model, List<WeightTensor> weights, QuantizationOptions options)
    {
        var g = model.Graph;
        var inits = new HashSet<string>(g.Initializer.Select(t => t.Name));
        var prologue = new List<NodeProto>();
        var replacements = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        var dynamicInputs = new Dictionary<string, (string Q, string Scale, string Zero)>();
        double worst = 0;
        int dynamic = 0;
        bool signedWeights = options.DynamicWeightFormat == DynamicWeightFormat.EightBit
            || options.DynamicWeightFormat == DynamicWeightFormat.Auto && CpuInt8.ExactSignedProducts;
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
            var (q, scales, err) = SymmetricInt8(values, new[] { rows, cols }, 1, options.PerChannel);
            worst = Math.Max(worst, err);
            // Without VNNI: stored as uint8 with zero point 128, the same 255 symmetric levels, but ONNX Runtime then
            // uses its u8×u8 kernel; its u8×s8 kernel sums pairs in int16 on AVX2 CPUs without VNNI and can saturate
            // (measured: letter_mlp lost 1.7 points with int8 weights, none with these). With VNNI: int8, whose u8×s8
            // kernel is exact there and faster than u8×u8 (see docs/stages.md for the measurements).
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
        string format = signedWeights ? "stored int8 (u8×s8 kernels" : "stored uint8 around 128 (u8×u8 kernels";
        string why = options.DynamicWeightFormat == DynamicWeightFormat.Auto ? $", chosen for this CPU: {CpuInt8.Feature})" : ")";
        return $"dynamic INT8: {dynamic} MatMul/Gemm as DynamicQuantizeLinear (uint8 activations, range per batch) + MatMulInteger with 8-bit symmetric " +
               $"{(options.PerChannel ? "per-channel" : "per-tensor")} weights {format}{why}; {weights.Count - dynamic} other weight tensor(s) INT8 weight-only; largest weight error {worst:G3}.";
    }

    // ---------------------------------------------------------------- INT4 weight-only

    /// <summary>
    /// MatMul/Gemm weights as 4-bit integers in blocks of <see cref="QuantizationOptions.BlockSize"/> along the input
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
        int bs = options.BlockSize;
        foreach (var w in weights)
        {
            var node = w.Consumer;
            var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
            bool transB = (OnnxGraphEditor.Attribute(node, "transB")?.I ?? 0) == 1;
            bool gemmOk = node.OpType == "Gemm" && (OnnxGraphEditor.Attribute(node, "transA")?.I ?? 0) == 0
                && (OnnxGraphEditor.Attribute(node, "alpha")?.F ?? 1f) == 1f && (OnnxGraphEditor.Attribute(node, "beta")?.F ?? 1f) == 1f;
            if (!(node.OpType == "MatMul" || gemmOk) || tensor.Dims.Count != 2 || inits.Contains(node.Input[0]) || g.Node.Count(n => n.Input.Contains(w.Name)) != 1)
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
               $"{(weights.Count > blocked ? $"; {weights.Count - blocked} Conv/other weight tensor(s) INT8 per channel" : "")}; largest weight error {worst:G3}.";
    }

    private static string QuantizeTrees(List<NodeProto> nodes, QuantizationOptions options)
    {
        var (worst, leaves) = RoundTreeLeaves(nodes, options.Precision);
        return $"tree ensemble: {leaves} leaf values snapped to {TreeGrid(options.Precision)}, split thresholds kept exact; ONNX Runtime's tree operators take float32 leaves only, so they stay float32 in the file, with few distinct values that the zip compresses (largest leaf error {worst:G3}).";
    }

    /// <summary>The grid <see cref="RoundTreeLeaves"/> puts leaves on, for the report.</summary>
    internal static string TreeGrid(Precision precision) => precision switch
    {
        Precision.Float16 => "FP16",
        Precision.Int4 => "a symmetric INT4 grid (one scale per ensemble)",
        _ => "a symmetric INT8 grid (one scale per ensemble)",
    };

    /// <summary>
    /// Snaps the leaf values of each TreeEnsembleRegressor node to FP16, or to a symmetric INT8/INT4 grid with one
    /// scale per node (split thresholds stay exact: rounding them would change decisions); written back to the nodes.
    /// </summary>
    internal static (double Worst, int Leaves) RoundTreeLeaves(IEnumerable<NodeProto> nodes, Precision precision)
    {
        double worst = 0;
        int leaves = 0;
        foreach (var node in nodes)
        {
            var ensemble = new TreeEnsembleNode(node);
            Func<float, float> round;
            if (precision == Precision.Float16)
                round = v => (float)(Half)v;
            else
            {
                float max = ensemble.LeafValues.Select(Math.Abs).DefaultIfEmpty(0f).Max();
                float levels = precision == Precision.Int4 ? 7f : 127f;
                float scale = max > 0 ? max / levels : 1f;
                round = v => MathF.Round(v / scale) * scale;
            }
            foreach (var v in ensemble.LeafValues) { worst = Math.Max(worst, Math.Abs(v - round(v))); leaves++; }
            ensemble.RoundLeaves(round);
            ensemble.WriteBack();
        }
        return (worst, leaves);
    }
}
