using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// What lies between a layer and the next one, when every operator there acts on each channel on its own: the
/// nodes a channel can be removed across. A Transformer's FFN is MatMul → Add(bias) → GELU → MatMul, and GELU as
/// exported is a small elementwise subgraph (x / √2 → Erf → + 1 → × x → × 0.5) whose value fans out and joins
/// again; so the region is found as a closure, not a chain: every node reading a region value must be elementwise,
/// with its other inputs either region values, scalar constants, or per-channel constants whose shape is exactly
/// [1, …, 1, channels] (sliced with the channels), and the region must end in exactly one layer.
/// </summary>
internal sealed class ChannelRegion
{
    /// <summary>Elementwise operators of one input (and scalar parameters such as Clip's bounds).</summary>
    private static readonly HashSet<string> Unary = new()
    {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Identity", "Elu", "Selu", "HardSigmoid", "Softplus", "Softsign",
        "Erf", "Gelu", "FastGelu", "QuickGelu", "Neg", "Abs", "Exp", "Sqrt", "Mish", "HardSwish", "Celu", "ThresholdedRelu",
    };

    /// <summary>Spatial operators that still act on each channel separately (only after a Conv, channels on axis 1).</summary>
    private static readonly HashSet<string> PerChannelPooling = new() { "MaxPool", "AveragePool" };

    /// <summary>Elementwise operators of several inputs (numpy broadcasting).</summary>
    private static readonly HashSet<string> Binary = new() { "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min" };

    /// <summary>The layer the region ends in (its first input is the region's last value).</summary>
    public required NodeProto Consumer { get; init; }

    /// <summary>Float initializers shaped [1, …, 1, channels] read by the region's nodes; sliced with the channels.</summary>
    public List<string> ChannelConstants { get; } = new();

    /// <summary>BatchNormalization nodes in the region (their scale, bias, mean and variance are sliced).</summary>
    public List<NodeProto> BatchNorms { get; } = new();

    /// <summary>
    /// Follows <paramref name="producer"/>'s output to the next layer, or returns null when anything on the way
    /// mixes channels, reads another value, is a graph output or ends in more than one place.
    /// </summary>
    /// <param name="g">The graph.</param>
    /// <param name="producer">The MatMul/Gemm/Conv whose output channels would be removed.</param>
    /// <param name="channels">Its output channels.</param>
    /// <param name="isLayer">Whether a node is a prunable layer (the region ends there).</param>
    /// <param name="outputs">The graph's output names.</param>
    /// <param name="users">The nodes that read each value.</param>
    /// <param name="producers">The node that writes each value.</param>
    public static ChannelRegion? Follow(GraphProto g, NodeProto producer, long channels, Func<NodeProto, bool> isLayer,
        HashSet<string> outputs, Dictionary<string, List<NodeProto>> users, Dictionary<string, NodeProto> producers)
    {
        bool channelLast = producer.OpType is "MatMul" or "Gemm";
        var region = new HashSet<string> { producer.Output[0] };
        var pending = new Queue<string>(region);
        var admitted = new HashSet<NodeProto>();
        var waiting = new HashSet<NodeProto>(); // read a region value but also something not (yet) known to be in it
        NodeProto? consumer = null;
        var constants = new List<string>();
        var batchNorms = new List<NodeProto>();
        while (pending.Count > 0)
        {
            var value = pending.Dequeue();
            if (outputs.Contains(value) || !users.TryGetValue(value, out var readers)) return null;
            foreach (var next in readers)
            {
                if (admitted.Contains(next) || next == consumer) continue;
                if (isLayer(next))
                {
                    // The next layer must read the region as its data input, and be the only one that does.
                    if (next.Input[0] != value || next.Input.Skip(1).Any(region.Contains) || consumer != null) return null;
                    consumer = next;
                    continue;
                }
                var verdict = Admit(g, next, channels, channelLast, region, producers, users, constants, batchNorms);
                if (verdict == Verdict.No) return null;
                if (verdict == Verdict.NotYet) { waiting.Add(next); continue; }
                waiting.Remove(next);
                admitted.Add(next);
                region.Add(next.Output[0]);
                pending.Enqueue(next.Output[0]);
            }
        }
        // A node still waiting reads a value from outside the region (a residual Add): the channels meet others there.
        if (consumer == null || waiting.Count > 0) return null;
        var result = new ChannelRegion { Consumer = consumer };
        result.ChannelConstants.AddRange(constants.Distinct());
        result.BatchNorms.AddRange(batchNorms);
        return result;
    }

    private enum Verdict { Yes, No, NotYet }

    private static Verdict Admit(GraphProto g, NodeProto n, long channels, bool channelLast, HashSet<string> region,
        Dictionary<string, NodeProto> producers, Dictionary<string, List<NodeProto>> users, List<string> constants, List<NodeProto> batchNorms)
    {
        if (n.Output.Count(o => o.Length > 0) != 1) return Verdict.No;
        if (n.OpType == "BatchNormalization")
        {
            if (channelLast || !region.Contains(n.Input[0]) || n.Input.Skip(1).Any(i => OnnxGraphEditor.Initializer(g, i) == null)) return Verdict.No;
            batchNorms.Add(n);
            return Verdict.Yes;
        }
        if (n.OpType == "Flatten")
            return !channelLast && region.Contains(n.Input[0]) && (OnnxGraphEditor.Attribute(n, "axis")?.I ?? 1) == 1 ? Verdict.Yes : Verdict.No;
        bool unary = Unary.Contains(n.OpType) || !channelLast && PerChannelPooling.Contains(n.OpType);
        if (!unary && !Binary.Contains(n.OpType)) return Verdict.No;
        if (n.Domain is not ("" or "ai.onnx" or "com.microsoft")) return Verdict.No;
        if (unary && !region.Contains(n.Input[0])) return Verdict.No;
        var found = new List<string>();
        bool later = false;
        for (int k = 0; k < n.Input.Count; k++)
        {
            var input = n.Input[k];
            if (input.Length == 0 || region.Contains(input)) continue;
            if (ScalarConstant(g, input, producers)) continue;
            // Per channel on the last axis: only where channels are last (MatMul/Gemm outputs), and only for an
            // operator of several inputs (a unary operator's extra inputs are its scalar parameters).
            if (!unary && channelLast && PerChannelInitializer(g, input, channels) && users[input].Count == 1) { found.Add(input); continue; }
            if (producers.ContainsKey(input) && !IsConstantNode(producers[input])) { later = true; continue; }
            return Verdict.No;
        }
        if (later) return Verdict.NotYet;
        constants.AddRange(found);
        return Verdict.Yes;
    }

    private static bool IsConstantNode(NodeProto n) => n.OpType == "Constant";

    /// <summary>One value, of rank 0 or 1: broadcast over everything without changing the other operand's shape.</summary>
    private static bool ScalarConstant(GraphProto g, string name, Dictionary<string, NodeProto> producers)
    {
        TensorProto? t = OnnxGraphEditor.Initializer(g, name);
        if (t == null && producers.TryGetValue(name, out var p) && p.OpType == "Constant")
        {
            var a = OnnxGraphEditor.Attribute(p, "value");
            if (a?.T != null) t = a.T;
            else return OnnxGraphEditor.Attribute(p, "value_float") != null || OnnxGraphEditor.Attribute(p, "value_int") != null;
        }
        return t != null && t.Dims.Count <= 1 && OnnxTensors.ElementCount(t) == 1;
    }

    /// <summary>A float initializer shaped exactly [1, …, 1, channels].</summary>
    private static bool PerChannelInitializer(GraphProto g, string name, long channels)
    {
        var t = OnnxGraphEditor.Initializer(g, name);
        return t != null && t.DataType == OnnxType.Float && t.Dims.Count >= 1 && t.Dims[^1] == channels && t.Dims.Take(t.Dims.Count - 1).All(d => d == 1);
    }
}
