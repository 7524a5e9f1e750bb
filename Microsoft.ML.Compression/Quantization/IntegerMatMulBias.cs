using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Static mode, last step: a quantized MatMul followed by the Add of a constant bias vector,
/// <c>DequantizeLinear(x) → MatMul(·, DequantizeLinear(W)) → Add(·, bias)</c>, is written as ONNX Runtime's
/// <c>com.microsoft</c> MatMulIntegerToFloat(x_q, W_q, scales, zero points, bias), the operator ONNX Runtime turns
/// the QDQ MatMul into anyway, with the bias added inside the integer kernel's output pass.
/// </summary>
/// <remarks>
/// Why: ONNX Runtime's QDQ rules fuse the MatMul alone (its MatMulIntegerToFloat replacer takes no bias) and leave the
/// Add to run as a separate pass over the float output; its bias fusion (MatMulIntegerToFloatFusion) only matches the
/// dynamic-quantization pattern. Measured on the spam Transformer (12 projections of 128–256 outputs, batch 32,
/// 1 thread, CPU time, AVX2 without VNNI): the 12 bias Adds took about 8 % of the static INT8 time, and writing the
/// fused operator took static INT8 from 0.76–0.82× to 0.70–0.77× of FP32 (batch 1: 0.92× → 0.85×), same outputs
/// to float rounding. Gemm layers are not concerned (their bias is already inside ONNX Runtime's QGemm).
/// <see cref="NetworkQuantizationOptions.KeepDequantizeLinear"/> keeps the plain QDQ form, for runtimes other than ONNX Runtime.
/// </remarks>
internal static class IntegerMatMulBias
{
    private const string MsDomain = "com.microsoft";

    /// <summary>Rewrites every matching MatMul + bias Add; returns how many.</summary>
    public static int Fuse(ModelProto model)
    {
        var g = model.Graph;
        var producer = OnnxGraphEditor.Producers(g);
        var readers = new Dictionary<string, List<NodeProto>>();
        foreach (var n in g.Node)
            foreach (var i in n.Input.Distinct())
            {
                if (!readers.TryGetValue(i, out var list)) readers[i] = list = new List<NodeProto>();
                list.Add(n);
            }
        var inits = g.Initializer.ToDictionary(t => t.Name);
        var outputs = new HashSet<string>(g.Output.Select(o => o.Name));
        int Readers(string tensor) => (readers.TryGetValue(tensor, out var r) ? r.Count : 0) + (outputs.Contains(tensor) ? 1 : 0);
        bool Scalar(string name) => inits.TryGetValue(name, out var t) && OnnxTensors.ElementCount(t) == 1;

        var fused = new Dictionary<NodeProto, NodeProto>(ReferenceEqualityComparer.Instance); // bias Add → fused node
        var removed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var mm in g.Node.Where(n => n.OpType == "MatMul" && string.IsNullOrEmpty(n.Domain) && n.Input.Count == 2).ToList())
        {
            // Input: an activation quantized per tensor (QuantizeLinear → DequantizeLinear, both read the same scalar scale and zero point).
            if (!producer.TryGetValue(mm.Input[0], out var dqX) || dqX.OpType != "DequantizeLinear" || dqX.Input.Count < 3
                || !producer.TryGetValue(dqX.Input[0], out var qX) || qX.OpType != "QuantizeLinear"
                || !Scalar(dqX.Input[1]) || !Scalar(dqX.Input[2])) continue;
            // Weight: a 2-D 8-bit initializer, per tensor or per output column (axis 1), read by this MatMul only.
            if (!producer.TryGetValue(mm.Input[1], out var dqW) || dqW.OpType != "DequantizeLinear" || dqW.Input.Count < 3 || Readers(mm.Input[1]) != 1
                || !inits.TryGetValue(dqW.Input[0], out var w) || w.Dims.Count != 2 || w.DataType is not (OnnxType.Int8 or OnnxType.UInt8)
                || !inits.TryGetValue(dqW.Input[1], out var wScale) || !inits.TryGetValue(dqW.Input[2], out var wZero)) continue;
            long columns = w.Dims[1];
            long scales = OnnxTensors.ElementCount(wScale);
            long axis = OnnxGraphEditor.Attribute(dqW, "axis")?.I ?? 1;
            if (!(scales == 1 || scales == columns && (axis == 1 || axis == -1)) || OnnxTensors.ElementCount(wZero) != scales) continue;
            // Bias: the MatMul output's only reader is an Add of a float vector with one value per output column.
            if (outputs.Contains(mm.Output[0]) || !readers.TryGetValue(mm.Output[0], out var after) || after.Count != 1) continue;
            var add = after[0];
            if (add.OpType != "Add" || !string.IsNullOrEmpty(add.Domain) || add.Input.Count != 2 || add.Input[0] == add.Input[1]) continue;
            var biasName = add.Input[0] == mm.Output[0] ? add.Input[1] : add.Input[0];
            if (!inits.TryGetValue(biasName, out var bias) || bias.DataType != OnnxType.Float || bias.Dims.Count != 1 || bias.Dims[0] != columns || columns < 2) continue;

            var node = OnnxGraphEditor.Node("MatMulIntegerToFloat",
                new[] { qX.Output[0], dqW.Input[0], dqX.Input[1], dqW.Input[1], dqX.Input[2], dqW.Input[2], biasName },
                new[] { add.Output[0] }, string.IsNullOrEmpty(mm.Name) ? add.Output[0] + "_integer" : mm.Name, MsDomain);
            fused[add] = node;
            removed.Add(mm);
            removed.Add(dqW);
            readers[mm.Input[0]].Remove(mm);
        }
        if (fused.Count == 0) return 0;
        // An activation DequantizeLinear that nothing reads any more goes too (q, k and v share one).
        foreach (var dq in g.Node.Where(n => n.OpType == "DequantizeLinear" && Readers(n.Output[0]) == 0 && !inits.ContainsKey(n.Input[0])).ToList())
            removed.Add(dq);
        var ordered = new List<NodeProto>();
        foreach (var n in g.Node)
        {
            if (fused.TryGetValue(n, out var replacement)) ordered.Add(replacement);
            else if (!removed.Contains(n)) ordered.Add(n);
        }
        g.Node.Clear();
        g.Node.Add(ordered);
        if (!model.OpsetImport.Any(o => o.Domain == MsDomain))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = MsDomain, Version = 1 });
        return fused.Count;
    }
}
