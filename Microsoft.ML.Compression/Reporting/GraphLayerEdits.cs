using System.Runtime.InteropServices;
using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Reporting;

/// <summary>
/// The per-layer result of a graph edit, read off the graphs before and after it rather than told by each edit: the
/// numbers are then those of the graph that ships, whatever mode or pruning method made it. A quantized weight is
/// found by the names the quantizers give its parts (<c>{weight}_quantized</c>, <c>_int4</c>, <c>_fp16</c>, with
/// <c>_scale</c> and <c>_zero_point</c> beside them).
/// </summary>
internal static class GraphLayerEdits
{
    public static IReadOnlyList<LayerEdit> Compare(GraphProto before, GraphProto after)
    {
        var beforeInit = Index(before);
        var afterInit = Index(after);
        var result = new List<LayerEdit>();
        var seen = new HashSet<string>();
        foreach (var node in before.Node)
        {
            int input = node.OpType is "MatMul" or "Gemm" or "Conv" ? 1 : node.OpType == "Gather" ? 0 : -1;
            if (input < 0 || node.Input.Count <= input || !beforeInit.TryGetValue(node.Input[input], out var weight)) continue;
            if (weight.DataType is not (OnnxType.Float or OnnxType.Float16) || weight.Dims.Count < 2 || !seen.Add(weight.Name)) continue;
            result.Add(Edit(node, weight, afterInit));
        }
        return result;
    }

    /// <summary>Initializers and Constant nodes' tensors (FP16 weights travel as Constant + Cast), by name.</summary>
    private static Dictionary<string, TensorProto> Index(GraphProto g)
    {
        var index = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in g.Initializer) index.TryAdd(t.Name, t);
        foreach (var n in g.Node)
            if (n.OpType == "Constant" && n.Output.Count == 1 && n.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } value)
                index.TryAdd(n.Output[0], value);
        return index;
    }

    private static LayerEdit Edit(NodeProto node, TensorProto weight, Dictionary<string, TensorProto> after)
    {
        long weights = OnnxTensors.ElementCount(weight);
        var edit = new LayerEditBuilder
        {
            Layer = string.IsNullOrEmpty(node.Name) ? weight.Name : node.Name, Tensor = weight.Name, OpType = node.OpType,
            Weights = weights, BytesBefore = Bytes(weight),
        };
        if (after.TryGetValue(weight.Name, out var same) && same.DataType is OnnxType.Float or OnnxType.Float16)
            return edit.Stored(same.DataType == OnnxType.Float ? LayerStorage.Float32 : LayerStorage.Float16, same, CountNonZero(same), Bytes(same));
        var scale = Part(after, weight.Name, "_scale");
        var zeroPoint = Part(after, weight.Name, "_zero_point");
        long extra = (scale == null ? 0 : Bytes(scale)) + (zeroPoint == null ? 0 : Bytes(zeroPoint));
        bool perChannel = scale != null && OnnxTensors.ElementCount(scale) > 1;
        if (Part(after, weight.Name, "_quantized") is { DataType: OnnxType.Int8 or OnnxType.UInt8 } q)
            return edit.Stored(q.DataType == OnnxType.Int8 ? LayerStorage.Int8 : LayerStorage.UInt8, q, CountNonZero(q, zeroPoint), Bytes(q) + extra, perChannel);
        if (Part(after, weight.Name, "_int4") is { } q4)
        {
            // MatMulNBits stores packed bytes, so the count of 4-bit weights is the float tensor's.
            long scales = scale == null ? 0 : OnnxTensors.ElementCount(scale);
            int? block = scales > 0 ? (int)Math.Max(1, weights / scales) : null;
            return edit.Stored(LayerStorage.Int4, null, null, Bytes(q4) + extra, perChannel: true, block, storedWeights: weights);
        }
        if (Part(after, weight.Name, "_fp16") is { DataType: OnnxType.Float16 } half)
            return edit.Stored(LayerStorage.Float16, half, CountNonZero(half), Bytes(half));
        return edit.Stored(LayerStorage.Removed, null, 0, 0, storedWeights: 0);
    }

    /// <summary>The initializer the quantizers name <c>{weight}{suffix}</c> (or with a counter after it, when that name was taken).</summary>
    private static TensorProto? Part(Dictionary<string, TensorProto> after, string weight, string suffix)
    {
        if (after.TryGetValue(weight + suffix, out var exact)) return exact;
        string prefix = weight + suffix + "_";
        return after.Values.FirstOrDefault(t => t.Name.StartsWith(prefix, StringComparison.Ordinal) && t.Name.AsSpan(prefix.Length).IndexOfAnyExceptInRange('0', '9') < 0);
    }

    private static long Bytes(TensorProto t) => OnnxType.RawBytes(t.DataType, OnnxTensors.ElementCount(t)) ?? t.CalculateSize();

    /// <summary>Non-zero float weights, counted in place (a large network's tensors are not copied to count them).</summary>
    private static long CountNonZero(TensorProto t)
    {
        if (t.DataType == OnnxType.Float)
        {
            if (t.FloatData.Count > 0) return t.FloatData.LongCount(v => v != 0f);
            return Count(MemoryMarshal.Cast<byte, float>(t.RawData.Span), v => v != 0f);
        }
        if (t.RawData.Length > 0) return Count(MemoryMarshal.Cast<byte, Half>(t.RawData.Span), v => v != Half.Zero && v != Half.NegativeZero);
        return t.Int32Data.LongCount(v => (v & 0x7FFF) != 0);
    }

    /// <summary>Integer weights other than their zero point; null when the zero point varies across channels.</summary>
    private static long? CountNonZero(TensorProto q, TensorProto? zeroPoint)
    {
        int zero = 0;
        if (zeroPoint != null)
        {
            var points = zeroPoint.RawData.Length > 0 ? zeroPoint.RawData.ToByteArray().Select(b => zeroPoint.DataType == OnnxType.Int8 ? (int)(sbyte)b : b).Distinct().ToList()
                : zeroPoint.Int32Data.Distinct().ToList();
            if (points.Count > 1) return null;
            zero = points.Count == 1 ? points[0] : 0;
        }
        if (q.RawData.Length > 0)
        {
            var bytes = q.RawData.Span;
            long n = 0;
            foreach (var b in bytes) if ((q.DataType == OnnxType.Int8 ? (sbyte)b : b) != zero) n++;
            return n;
        }
        return q.Int32Data.LongCount(v => v != zero);
    }

    private static long Count<T>(ReadOnlySpan<T> values, Func<T, bool> keep)
    {
        long n = 0;
        foreach (var v in values) if (keep(v)) n++;
        return n;
    }

    /// <summary>The fields known before the stage, completed by what was found after it.</summary>
    private sealed class LayerEditBuilder
    {
        public required string Layer, Tensor, OpType;
        public required long Weights, BytesBefore;

        public LayerEdit Stored(LayerStorage storage, TensorProto? stored, long? nonZero, long bytesAfter, bool perChannel = false, int? blockSize = null, long? storedWeights = null)
            => new()
            {
                Layer = Layer, Tensor = Tensor, OpType = OpType, Weights = Weights, BytesBefore = BytesBefore, Storage = storage,
                StoredWeights = storedWeights ?? (stored == null ? 0 : OnnxTensors.ElementCount(stored)), NonZero = nonZero,
                BytesAfter = bytesAfter, PerChannel = perChannel, BlockSize = blockSize,
            };
    }
}
