using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>What quantization measures on the calibration rows: per-tensor SQNR, and float vs quantized latency.</summary>
internal static class QuantizationMeasurements
{
    /// <summary>At most this many floats are captured per graph for the SQNR (bounds memory on large networks).</summary>
    private const long CaptureBudget = 16L << 20;

    /// <summary>
    /// SQNR of each tensor (name in the float graph) between the float and the quantized graph. A tensor that the
    /// quantized graph quantizes (QuantizeLinear → DequantizeLinear) is compared as the operator sees it, after the
    /// dequantize (unless <paramref name="asOperatorSees"/> is false: then as the graph computes it, before its
    /// QuantizeLinear), with QDQ evaluated as written; graph outputs are compared as ONNX Runtime computes them with
    /// all optimizations on (the fused integer kernels a deployed model runs).
    /// </summary>
    public static List<TensorError> Sqnr(ModelProto floatModel, ModelProto quantized, IEnumerable<string> tensors, GraphEditContext context, int maxRows,
        bool asOperatorSees = true)
    {
        var fg = floatModel.Graph;
        var qg = quantized.Graph;
        var graphInputs = new HashSet<string>(fg.Input.Select(i => i.Name));
        var qOutputs = new HashSet<string>(qg.Node.SelectMany(n => n.Output).Concat(qg.Output.Select(o => o.Name)));
        var pairs = new List<(string Float, string Quantized)>();
        var measured = quantized; // a copy when integer operators read quantized tensors with no DequantizeLinear to capture
        foreach (var t in tensors.Concat(fg.Output.Select(o => o.Name)).Distinct())
        {
            if (graphInputs.Contains(t) || !qOutputs.Contains(t)) continue;
            var q = asOperatorSees ? qg.Node.FirstOrDefault(n => n.OpType == "QuantizeLinear" && n.Input[0] == t) : null;
            var dq = q == null ? null : qg.Node.FirstOrDefault(n => n.OpType == "DequantizeLinear" && n.Input[0] == q.Output[0]);
            if (q != null && dq == null && q.Input.Count >= 2)
            {
                // Only an integer operator (MatMulIntegerToFloat) reads it: a DequantizeLinear added to a copy for the
                // measurement shows the values that operator computes with.
                if (ReferenceEquals(measured, quantized)) measured = quantized.Clone();
                var name = OnnxGraphEditor.UniqueName(measured.Graph, t + "_as_quantized");
                var added = OnnxGraphEditor.Node("DequantizeLinear", new[] { q.Output[0] }.Concat(q.Input.Skip(1)), new[] { name }, name);
                if (OnnxGraphEditor.Attribute(q, "axis") is { } axis) added.Attribute.Add(axis.Clone());
                measured.Graph.Node.Add(added);
                pairs.Add((t, name));
                continue;
            }
            pairs.Add((t, dq?.Output[0] ?? t));
        }
        if (pairs.Count == 0) return new List<TensorError>();

        // The float graph first, as many rows as fit the budget; the quantized graph then on the same rows.
        var floatNames = pairs.Select(p => p.Float).Distinct().ToArray();
        // The quantized graph runs the very batches the float graph ran: rows are compared slice by slice along each
        // tensor's first axis, which is not the batch in every tensor (attention laid out [sequence, batch·heads, …]),
        // so different batch sizes (the adaptive batching sizes batches by the captured tensors) misaligned them and
        // reported ~10 dB on tensors that FP16 left all but exact.
        var batches = new List<int>();
        var reference = TensorCapture.Capture(floatModel, floatNames, context, maxRows, maxFloats: CaptureBudget, batches: batches);
        int rowCount = Math.Max(1, batches.Sum());
        // Graph outputs as ONNX Runtime really runs the quantized graph (QDQ fused into integer kernels, whose
        // arithmetic can differ from QDQ simulated in float: int16 saturation in u8×s8 kernels once hid here);
        // intermediate tensors unoptimized, since fusion removes them.
        var graphOutputs = new HashSet<string>(qg.Output.Select(o => o.Name));
        var candidate = TensorCapture.Capture(measured, pairs.Select(p => p.Quantized).Where(q => !graphOutputs.Contains(q)).Distinct().ToArray(), context, rowCount, batches: batches);
        // A graph of float operators only (weight-only INT8 and FP16 weights restored by Cast and Mul) computes the
        // same values unoptimized; optimizing it folds every restored weight twice over (Cast, then Mul) while the
        // session loads (weight-only INT8 of a 512 MB network: 2 GB at this step, 1.4 GB without).
        bool kernels = qg.Node.Any(n => n.OpType.Contains("Quantize") || n.OpType.Contains("Integer") || n.OpType.StartsWith("QLinear") || n.OpType == "MatMulNBits");
        foreach (var (name, rows) in TensorCapture.Capture(quantized, pairs.Select(p => p.Quantized).Where(graphOutputs.Contains).Distinct().ToArray(), context, rowCount, optimized: kernels, batches: batches))
            candidate[name] = rows;
        var result = new List<TensorError>();
        foreach (var (f, q) in pairs)
        {
            var (signal, noise) = CapturedError.Energies(reference[f], candidate[q]);
            if (double.IsNaN(signal)) continue;
            double db = noise == 0 ? TensorError.MaxSqnrDb : signal == 0 ? -TensorError.MaxSqnrDb : Math.Min(TensorError.MaxSqnrDb, 10 * Math.Log10(signal / noise));
            result.Add(new TensorError { Name = f, SqnrDb = Math.Round(db, 2) });
        }
        return result;
    }

    /// <summary>
    /// <see cref="NetworkQuantizationOptions.RequireSpeedup"/>: quantizes copies of <paramref name="model"/> (all layers, then
    /// Conv left float, then MatMul/Gemm left float), times each against the float graph and keeps the fastest one
    /// that beats float; weight-only INT8 when none does. <paramref name="quantize"/> quantizes a copy in the given
    /// mode, leaving float the weights it is given.
    /// </summary>
    public static string QuantizeFasterThanFloat(ModelProto model, QuantizationMode mode, QuantizationOptions options, GraphEditContext context,
        QuantizeVariant quantize)
    {
        using var timer = new GraphTimer(model, context, Math.Min(64, options.Network.MaxCalibrationRows));
        double fp32 = timer.MedianMs(model);
        var weights = WeightTensors.Find(model.Graph, options.ExcludedNodes);
        var candidates = new List<(string What, string[] Float)> { ("all layers", Array.Empty<string>()) };
        var conv = weights.Where(w => w.Consumer.OpType == "Conv").Select(w => w.Name).ToArray();
        var dense = weights.Where(w => w.Consumer.OpType != "Conv").Select(w => w.Name).ToArray();
        if (conv.Length > 0 && dense.Length > 0)
        {
            candidates.Add(("Conv layers left float", conv));
            candidates.Add(("MatMul/Gemm layers left float", dense));
        }
        var tried = new List<string>();
        (ModelProto Model, string Description, string What, double Ms)? best = null;
        foreach (var (what, keepFloat) in candidates)
        {
            var copy = model.Clone();
            var description = quantize(copy, mode, keepFloat);
            double ms = timer.MedianMs(copy);
            tried.Add($"{what} {ms:F2} ms");
            if (ms < fp32 && (best == null || ms < best.Value.Ms)) best = (copy, description, what, ms);
            if (what == "all layers" && ms < fp32) break; // quantizing everything already pays off
        }
        string timing = $"timed on a batch of {timer.Rows} calibration row(s), 1 thread: FP32 {fp32:F2} ms, {mode} INT8 with {string.Join(", ", tried)}";
        if (best is { } b)
        {
            Replace(model, b.Model);
            return $"{b.Description} RequireSpeedup: {timing}; kept {b.What} ({fp32 / b.Ms:F2}x faster).";
        }
        var weightOnly = quantize(model, QuantizationMode.WeightOnly, Array.Empty<string>());
        return $"{weightOnly} RequireSpeedup: {timing}; no {mode} variant was faster than FP32, so the weights were quantized weight-only (smaller, as fast as FP32).";
    }

    private static void Replace(ModelProto target, ModelProto source)
    {
        target.Graph = source.Graph;
        target.OpsetImport.Clear();
        target.OpsetImport.Add(source.OpsetImport);
    }
}
