using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Calibrated QuantizeLinear/DequantizeLinear pairs in front of chosen node inputs, added after the main static
/// pass: ranges are recorded on the graph as it is then, so they include the error of the layers already quantized
/// upstream. An input that already comes out of a DequantizeLinear is left as it is; one tensor read by several of
/// the chosen inputs gets one pair.
/// </summary>
internal static class ActivationQdq
{
    /// <summary>Inserts the pairs; returns how many tensors were calibrated.</summary>
    public static int Insert(ModelProto model, IReadOnlyCollection<(NodeProto Node, int Input)> uses, QuantizationOptions options, GraphEditContext context)
    {
        var g = model.Graph;
        var dequantized = new HashSet<string>(g.Node.Where(n => n.OpType == "DequantizeLinear").Select(n => n.Output[0]));
        var tensors = uses.Select(u => u.Node.Input[u.Input]).Where(t => !dequantized.Contains(t)).Distinct().ToList();
        if (tensors.Count == 0) return 0;
        var stats = ActivationRecorder.Record(model, tensors, context, options.Network.MaxCalibrationRows);
        var made = new Dictionary<string, (string Dq, List<NodeProto> Nodes)>();
        foreach (var t in tensors)
        {
            var r = stats[t].Range(options.Network.Calibration, options.Network.Percentile, options.Network.SymmetricActivations);
            var (scale, zp) = GraphQuantizer.ActivationParameters(r.Min, r.Max, options.Network.SymmetricActivations);
            var sName = OnnxGraphEditor.UniqueName(g, t + "_act_scale");
            g.Initializer.Add(OnnxTensors.Float(sName, new[] { scale }));
            var zName = OnnxGraphEditor.UniqueName(g, t + "_act_zero_point");
            g.Initializer.Add(options.Network.SymmetricActivations ? OnnxTensors.Int8(zName, new sbyte[1]) : OnnxTensors.UInt8(zName, new[] { (byte)zp }));
            var qName = OnnxGraphEditor.UniqueName(g, t + "_act_quantized");
            var dq = OnnxGraphEditor.UniqueName(g, t + "_dequantized");
            made[t] = (dq, new List<NodeProto>
            {
                OnnxGraphEditor.Node("QuantizeLinear", new[] { t, sName, zName }, new[] { qName }, qName),
                OnnxGraphEditor.Node("DequantizeLinear", new[] { qName, sName, zName }, new[] { dq }, qName + "_dequantize"),
            });
        }
        var byNode = uses.GroupBy<(NodeProto Node, int Input), object>(u => u.Node, ReferenceEqualityComparer.Instance).ToDictionary<IGrouping<object, (NodeProto Node, int Input)>, NodeProto, List<int>>(grp => (NodeProto)grp.Key, grp => grp.Select(u => u.Input).ToList(), ReferenceEqualityComparer.Instance);
        var inserted = new HashSet<string>();
        var ordered = new List<NodeProto>();
        foreach (var n in g.Node)
        {
            if (byNode.TryGetValue(n, out var inputs))
                foreach (var i in inputs)
                    if (made.TryGetValue(n.Input[i], out var m))
                    {
                        if (inserted.Add(n.Input[i])) ordered.AddRange(m.Nodes);
                        n.Input[i] = m.Dq;
                    }
            ordered.Add(n);
        }
        g.Node.Clear();
        g.Node.Add(ordered);
        return tensors.Count;
    }
}
