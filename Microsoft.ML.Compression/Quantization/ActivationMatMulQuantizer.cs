using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// MatMuls whose two inputs are both activations (no weight), such as attention's Q·Kᵀ and softmax·V: dynamic mode
/// quantizes both inputs at run time (DynamicQuantizeLinear + MatMulInteger), static mode puts calibrated
/// QuantizeLinear/DequantizeLinear pairs on both inputs. Used when
/// <see cref="NetworkQuantizationOptions.QuantizeActivationMatMuls"/> says so (by default in static mode only).
/// </summary>
internal static class ActivationMatMulQuantizer
{
    /// <summary>MatMul nodes (default domain) with no initializer input, not excluded by name.</summary>
    public static List<NodeProto> Find(GraphProto g, IReadOnlyCollection<string> excluded)
    {
        var inits = new HashSet<string>(g.Initializer.Select(t => t.Name));
        return g.Node.Where(n => n.OpType == "MatMul" && string.IsNullOrEmpty(n.Domain) && n.Input.Count == 2
            && !inits.Contains(n.Input[0]) && !inits.Contains(n.Input[1]) && !excluded.Contains(n.Name)).ToList();
    }

    /// <summary>Both inputs as uint8 quantized per call, multiplied by MatMulInteger, scaled back to float.</summary>
    public static string Dynamic(ModelProto model, List<NodeProto> matMuls)
    {
        if (matMuls.Count == 0) return "";
        var g = model.Graph;
        var quantized = new Dictionary<string, (string Q, string Scale, string Zero)>();
        var replacements = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        foreach (var node in matMuls)
        {
            var nodes = new List<NodeProto>();
            (string Q, string Scale, string Zero) Quantized(string a)
            {
                if (quantized.TryGetValue(a, out var q)) return q;
                q = (OnnxGraphEditor.UniqueName(g, a + "_dyn_quantized"), OnnxGraphEditor.UniqueName(g, a + "_dyn_scale"), OnnxGraphEditor.UniqueName(g, a + "_dyn_zero_point"));
                quantized[a] = q;
                nodes.Add(OnnxGraphEditor.Node("DynamicQuantizeLinear", new[] { a }, new[] { q.Q, q.Scale, q.Zero }, q.Q));
                return q;
            }
            var a = Quantized(node.Input[0]);
            var b = Quantized(node.Input[1]);
            var output = node.Output[0];
            var stem = OnnxGraphEditor.UniqueName(g, (string.IsNullOrEmpty(node.Name) ? output : node.Name) + "_int");
            nodes.Add(OnnxGraphEditor.Node("MatMulInteger", new[] { a.Q, b.Q, a.Zero, b.Zero }, new[] { stem + "_i32" }, stem + "_matmul"));
            nodes.Add(OnnxGraphEditor.Node("Cast", new[] { stem + "_i32" }, new[] { stem + "_f32" }, stem + "_cast").WithInt("to", OnnxType.Float));
            nodes.Add(OnnxGraphEditor.Node("Mul", new[] { a.Scale, b.Scale }, new[] { stem + "_scale" }, stem + "_scale_mul"));
            nodes.Add(OnnxGraphEditor.Node("Mul", new[] { stem + "_f32", stem + "_scale" }, new[] { output }, stem + "_mul"));
            replacements[node] = nodes;
        }
        var ordered = new List<NodeProto>();
        foreach (var n in g.Node) ordered.AddRange(replacements.TryGetValue(n, out var r) ? r : new List<NodeProto> { n });
        g.Node.Clear();
        g.Node.Add(ordered);
        return $" {matMuls.Count} activation×activation MatMul(s) (e.g. attention) as DynamicQuantizeLinear on both inputs + MatMulInteger.";
    }

    /// <summary>
    /// Calibrated QuantizeLinear/DequantizeLinear pairs on both inputs (ranges recorded on the graph as it is now, so
    /// they include the error of the layers already quantized upstream). An input that already comes out of a
    /// DequantizeLinear is left as it is.
    /// </summary>
    public static string Static(ModelProto model, List<NodeProto> matMuls, QuantizationOptions options, GraphEditContext context)
    {
        if (matMuls.Count == 0) return "";
        int tensors = ActivationQdq.Insert(model, matMuls.SelectMany(n => new[] { (n, 0), (n, 1) }).ToList(), options, context);
        return $" {matMuls.Count} activation×activation MatMul(s) (e.g. attention) with QDQ on both inputs ({tensors} tensor(s) calibrated).";
    }
}
