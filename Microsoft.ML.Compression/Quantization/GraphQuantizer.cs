using Microsoft.ML.Compression.Onnx;
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
internal static partial class GraphQuantizer
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
        var mode = options.Network.Mode;
        var trees = TreeEnsembleNode.FindAll(g).ToList();
        if (trees.Count > 0)
        {
            if (mode != QuantizationMode.WeightOnly) note = $" {mode} mode does not apply to tree ensembles (they have no activations to quantize): leaves quantized weight-only.";
            return QuantizeTrees(trees, options) + note + TreeEnsembleCompactor.Store(model, options.Trees.Storage);
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
        QuantizeVariant quantize = (m, md, excluded, int8) =>
        {
            var o = options;
            if (int8 is { Count: > 0 }) { o = options.Copy(); o.Network.Int8Layers = int8; }
            return QuantizeMode(m, WeightTensors.Find(m.Graph, options.ExcludedNodes.Concat(excluded).ToArray()), md, o, context, excluded);
        };
        if (floatModel != null && options.Network.MinimumOutputSqnrDb > 0) quantize = MixedPrecision.Budgeted(quantize, floatModel, options, context);
        string description = options.Network.RequireSpeedup && mode != QuantizationMode.WeightOnly
            ? QuantizationMeasurements.QuantizeFasterThanFloat(model, mode, options, context, quantize)
            // INT4 within a size budget; an output SQNR budget, when given, decides instead.
            : floatModel != null && mode == QuantizationMode.WeightOnly && options.Precision == Precision.Int4 && options.Network.Int4MaxSizeRatio > 0 && options.Network.MinimumOutputSqnrDb == 0
                ? MixedPrecision.WithinSize(quantize, model, floatModel, options, context)
            : quantize(model, mode, Array.Empty<string>());
        if (floatModel != null)
        {
            // Networks: how far each quantized operator's input and each output moved, on the calibration rows.
            var tensors = ActivationInputs(floatModel.Graph, WeightTensors.Find(floatModel.Graph, options.ExcludedNodes));
            // The quantizers' temporaries (an int8 array per weight, copied into the graph) go before ONNX Runtime runs the graphs.
            LargeGraphMemory.Release(LargeGraphMemory.IsLarge(floatModel));
            context.TensorErrors = QuantizationMeasurements.Sqnr(floatModel, model, tensors, context, options.Network.MaxCalibrationRows);
        }
        return foldNote + description + note;
    }

    /// <summary>
    /// Quantizes <paramref name="weights"/> in <paramref name="mode"/>, then (dynamic/static, with
    /// <see cref="NetworkQuantizationOptions.QuantizeActivationMatMuls"/>) the activation×activation MatMuls, then the
    /// embedding tables and large constant operands; the last two skip what <see cref="QuantizationOptions.ExcludedNodes"/>
    /// or <paramref name="alsoExcluded"/> name.
    /// </summary>
    internal static string QuantizeMode(ModelProto model, List<WeightTensor> weights, QuantizationMode mode, QuantizationOptions options, GraphEditContext context,
        IReadOnlyCollection<string>? alsoExcluded = null)
    {
        // Found before the weights are quantized: afterwards a weight MatMul reads its weight from a DequantizeLinear
        // and would look like a product of two activations.
        var products = mode != QuantizationMode.WeightOnly && (options.Network.QuantizeActivationMatMuls ?? mode == QuantizationMode.Static)
            ? ActivationMatMulQuantizer.Find(model.Graph, options.ExcludedNodes.Concat(alsoExcluded ?? Array.Empty<string>()).ToHashSet())
            : new List<NodeProto>();
        string smallNote = "";
        var small = new List<WeightTensor>();
        if (mode != QuantizationMode.WeightOnly) weights = SmallLayers.KeepSmallInFloat(model, weights, options, context, out small, out smallNote);
        if (mode == QuantizationMode.Static && options.Network.SmoothActivations) smallNote += ActivationSmoothing.Apply(model, weights, options, context);
        var splitFactors = new List<string>();
        if (mode == QuantizationMode.Static && options.Network.SplitOutlierChannels) smallNote += OutlierChannelSplitting.Apply(model, weights, options, context, splitFactors);
        string description = weights.Count == 0 ? "" : mode switch
        {
            QuantizationMode.Static => QuantizeStatic(model, weights, options, context),
            QuantizationMode.Dynamic => QuantizeDynamic(model, weights, options),
            _ when options.Precision == Precision.Int4 => QuantizeInt4(model, weights, options),
            _ => QuantizeWeightsOnly(model.Graph, weights, options, LargeGraphMemory.IsLarge(model)),
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
        int withBias = mode == QuantizationMode.Static && !options.Network.KeepDequantizeLinear ? IntegerMatMulBias.Fuse(model) : 0;
        if (withBias > 0)
            description += $" {withBias} quantized MatMul(s) with their bias Add written as ONNX Runtime's MatMulIntegerToFloat with the bias inside (the QDQ form leaves the Add as a separate pass).";
        // Embedding tables (Gather) and large constant operands are stored quantized in every mode: in text models
        // they are most of the file.
        // The split's factor vectors are part of the activation path, not a model constant worth storing smaller.
        var excluded = options.ExcludedNodes.Concat(alsoExcluded ?? Array.Empty<string>()).Concat(splitFactors).ToHashSet();
        return (description + EmbeddingQuantizer.Quantize(model, EmbeddingQuantizer.Find(model.Graph, excluded), options)
            + (context.FeatureInput == null ? EmbeddingQuantizer.QuantizeOperands(model, options, excluded) : "")).TrimStart();
    }


    /// <summary>
    /// Symmetric int8 as ONNX Runtime does it: zero point 0, levels within ±127 so that -128 is never used. Each
    /// scale maps the channel's largest magnitude to 127, or, with <paramref name="pairBounded"/>, the sum of its two
    /// largest magnitudes to 127 (see <see cref="StaticWeightFormat.PairBounded"/>).
    /// </summary>
    internal static (sbyte[] Q, float[] Scales, double Worst) SymmetricInt8(ReadOnlySpan<float> values, long[] dims, int axis, bool perChannel, bool pairBounded = false)
    {
        int channels = perChannel ? (int)dims[axis] : 1;
        // Element i belongs to channel (i / inner) % channels: computed in blocks of `inner` elements rather than
        // looked up in a per-element table, which for a large weight was one more int per weight.
        long inner = 1;
        if (perChannel)
            for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        else inner = Math.Max(1, values.Length);
        var top1 = new float[channels];
        var top2 = new float[channels];
        for (long start = 0, block = 0; start < values.Length; start += inner, block++)
        {
            int c = (int)(block % channels);
            var span = values.Slice((int)start, (int)Math.Min(inner, values.Length - start));
            foreach (var v in span)
            {
                float a = Math.Abs(v);
                if (a > top1[c]) { top2[c] = top1[c]; top1[c] = a; }
                else if (a > top2[c]) top2[c] = a;
            }
        }
        // Pair-bounded: the two largest magnitudes of a channel together map to at most 128 levels, so that any two of
        // its levels sum to at most 128 and 255 · 128 = 32,640 fits the int16 pair sums of ONNX Runtime's uint8×int8
        // kernels on CPUs without VNNI (128 is the tight bound: 255 · 129 does not fit).
        var scales = Enumerable.Range(0, channels)
            .Select(c => top1[c] == 0 ? 1f : pairBounded ? Math.Max(top1[c] / 127f, (top1[c] + top2[c]) / 128f) : top1[c] / 127f).ToArray();
        var q = new sbyte[values.Length];
        double worst = 0;
        for (long start = 0, block = 0; start < values.Length; start += inner, block++)
        {
            float scale = scales[(int)(block % channels)];
            int end = (int)Math.Min(start + inner, values.Length);
            for (int i = (int)start; i < end; i++)
                q[i] = (sbyte)Math.Clamp(MathF.Round(values[i] / scale), -127, 127);
        }
        if (pairBounded) KeepPairsWithin128(q, inner, channels);
        for (long start = 0, block = 0; start < values.Length; start += inner, block++)
        {
            float scale = scales[(int)(block % channels)];
            int end = (int)Math.Min(start + inner, values.Length);
            for (int i = (int)start; i < end; i++) worst = Math.Max(worst, Math.Abs(values[i] - q[i] * scale));
        }
        return (q, scales, worst);
    }

    /// <summary>
    /// Float rounding can push the two largest levels of a channel to 129 together (84.50001 and 43.50001 both round
    /// up); one step less on the largest restores the bound. Element i is in channel (i / inner) % channels.
    /// </summary>
    private static void KeepPairsWithin128(sbyte[] q, long inner, int channels)
    {
        var first = new int[channels];
        var second = new int[channels];
        var at = new int[channels];
        for (int i = 0; i < q.Length; i++)
        {
            int a = Math.Abs((int)q[i]), c = (int)(i / inner % channels);
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
        var dims = tensor.Dims.ToArray();
        g.Initializer.Remove(tensor);
        var (q, scales, worst) = SymmetricInt8(OnnxTensors.FloatsInPlace(tensor), dims, w.ChannelAxis, perChannel, pairBounded);
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

}
