using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Static mode, last step: a Mul by a positive constant scalar <c>c</c> whose output only QuantizeLinear nodes read
/// goes into their scales, <c>QuantizeLinear(x · c, s) = QuantizeLinear(x, s / c)</c> (the DequantizeLinear after
/// keeps <c>s</c>, so the values the next operator sees are unchanged up to float rounding).
/// </summary>
/// <remarks>
/// Why: attention scales the queries by 1/√d (<c>Transpose → Mul → QuantizeLinear</c> in front of Q·Kᵀ). In float,
/// ONNX Runtime folds that Mul into the product (FusedMatMul); in QDQ form it stays a full float pass, and it stops
/// ONNX Runtime from moving the QuantizeLinear up through the Transpose and Reshape, which then move float values
/// instead of bytes (the keys' and values' QuantizeLinear do move up). Measured on the spam Transformer (batch 32,
/// 1 thread, CPU time, alternating with FP32 on a loaded 2-core machine): 0.711× → 0.678× and 0.736× → 0.717× of FP32.
/// The scaled tensor no longer exists in the quantized graph, so the SQNR report has no entry for it.
/// </remarks>
internal static class ScaleIntoQuantize
{
    /// <summary>Folds every such Mul; returns how many.</summary>
    public static int Fold(ModelProto model)
    {
        var g = model.Graph;
        var inits = g.Initializer.ToDictionary(t => t.Name);
        var outputs = new HashSet<string>(g.Output.Select(o => o.Name));
        float? PositiveScalar(string name)
        {
            if (!inits.TryGetValue(name, out var t) || t.DataType != OnnxType.Float || OnnxTensors.ElementCount(t) != 1) return null;
            float v = OnnxTensors.ReadFloats(t)[0];
            return float.IsFinite(v) && v > 0 ? v : null;
        }
        int folded = 0;
        foreach (var mul in g.Node.Where(n => n.OpType == "Mul" && string.IsNullOrEmpty(n.Domain) && n.Input.Count == 2).ToList())
        {
            int k = PositiveScalar(mul.Input[1]) != null ? 1 : PositiveScalar(mul.Input[0]) != null ? 0 : -1;
            if (k < 0 || inits.ContainsKey(mul.Input[1 - k]) || outputs.Contains(mul.Output[0])) continue;
            float c = PositiveScalar(mul.Input[k])!.Value;
            var readers = g.Node.Where(n => n.Input.Contains(mul.Output[0])).ToList();
            if (readers.Count == 0 || !readers.All(q => q.OpType == "QuantizeLinear" && q.Input.Count >= 2 && q.Input[0] == mul.Output[0]
                && q.Input.Skip(1).All(i => i != mul.Output[0]) && PositiveScalar(q.Input[1]) != null)) continue;
            foreach (var q in readers)
            {
                var scale = OnnxGraphEditor.UniqueName(g, q.Input[1] + "_unscaled");
                var t = OnnxTensors.Float(scale, new[] { PositiveScalar(q.Input[1])!.Value / c });
                g.Initializer.Add(t);
                inits[scale] = t;
                q.Input[0] = mul.Input[1 - k];
                q.Input[1] = scale;
            }
            g.Node.Remove(mul);
            if (!g.Node.Any(n => n.Input.Contains(mul.Input[k])) && !outputs.Contains(mul.Input[k])) g.Initializer.Remove(inits[mul.Input[k]]);
            folded++;
        }
        return folded;
    }
}
