using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>A learned weight matrix of a MatMul, Gemm or Conv node, and the axis of its output channels.</summary>
internal sealed record WeightTensor(string Name, NodeProto Consumer, int ChannelAxis);

/// <summary>Finds the weights that pruning and quantization act on, and rejects graphs with NaN or infinite ones.</summary>
internal static class WeightTensors
{
    /// <summary>Float initializers used as the weight input (input 1) of MatMul, Gemm or Conv.</summary>
    public static List<WeightTensor> Find(GraphProto g, IReadOnlyCollection<string>? excludedNodes = null)
    {
        var result = new List<WeightTensor>();
        var seen = new HashSet<string>();
        foreach (var n in g.Node)
        {
            if (n.OpType is not ("MatMul" or "Gemm" or "Conv") || n.Input.Count < 2) continue;
            if (excludedNodes != null && (excludedNodes.Contains(n.Name) || excludedNodes.Contains(n.Input[1]))) continue;
            var t = OnnxGraphEditor.Initializer(g, n.Input[1]);
            if (t == null || t.DataType != OnnxType.Float || t.Dims.Count < 2 || !seen.Add(t.Name)) continue;
            int axis = n.OpType switch
            {
                "Conv" => 0,
                "Gemm" => (OnnxGraphEditor.Attribute(n, "transB")?.I ?? 0) == 1 ? 0 : 1,
                _ => t.Dims.Count - 1,
            };
            result.Add(new WeightTensor(t.Name, n, axis));
        }
        return result;
    }

    /// <summary>Throws when any learned number in the graph is NaN or infinite: compressing it would hide the fault.</summary>
    public static void CheckFinite(ModelProto model)
    {
        foreach (var t in model.Graph.Initializer)
        {
            if (t.DataType is not (OnnxType.Float or OnnxType.Double or OnnxType.Float16)) continue;
            // Raw float32 data (nearly every weight) is checked in place: copying a 63 MB network's weights only to
            // look at them cost as much memory as the network.
            if (t.DataType == OnnxType.Float && t.FloatData.Count == 0)
            {
                var raw = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span);
                if (raw.IsEmpty || float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Min(raw)) && float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Max(raw))) continue;
            }
            var values = OnnxTensors.ReadFloats(t);
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0)
                throw new InvalidModelException($"Weight tensor '{t.Name}' holds a non-finite value ({values[bad]}) at index {bad}. Retrain or repair the model before compressing it.");
        }
        foreach (var n in model.Graph.Node.Where(n => n.Domain == "ai.onnx.ml"))
            foreach (var a in n.Attribute)
            {
                int bad = a.Floats.ToList().FindIndex(v => !float.IsFinite(v));
                if (bad >= 0)
                    throw new InvalidModelException($"Attribute '{a.Name}' of {n.OpType} node '{n.Name}' holds a non-finite value ({a.Floats[bad]}) at index {bad}. Retrain the model before compressing it.");
            }
    }

    /// <summary>Element index → output channel, for a row-major tensor of the given dims.</summary>
    public static int[] ChannelOf(IList<long> dims, int axis)
    {
        long total = dims.Aggregate(1L, (a, d) => a * d);
        long inner = 1;
        for (int i = axis + 1; i < dims.Count; i++) inner *= dims[i];
        long channels = dims[axis];
        var result = new int[total];
        for (long i = 0; i < total; i++) result[i] = (int)(i / inner % channels);
        return result;
    }
}
