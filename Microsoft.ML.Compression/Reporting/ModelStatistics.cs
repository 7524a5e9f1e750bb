using Google.Protobuf;
using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Reporting;

/// <summary>Counts the learned numbers of an ONNX graph and how many bits each one takes in the file.</summary>
internal sealed record ModelStatistics(long ParameterCount, long NonZeroCount, double BitsPerWeight, long OnnxBytes)
{
    // Attributes of the ai.onnx.ml operators that hold learned numbers (the rest are structure: ids, modes).
    private static readonly HashSet<string> LearnedAttributes = new()
    {
        "coefficients", "intercepts", "nodes_values", "target_weights", "class_weights", "base_values",
        "nodes_splits", "leaf_weights", // opset-5 TreeEnsemble, as float tensors
    };

    public static ModelStatistics Of(ModelProto model)
    {
        long count = 0, nonZero = 0;
        double bits = 0;
        // MatMulNBits weights are 4-bit values packed two per uint8 (stored with zero point 8).
        var packed4 = new HashSet<string>(model.Graph.Node.Where(n => n.OpType == "MatMulNBits" && n.Input.Count > 1).Select(n => n.Input[1]));
        var zeroPoints = ZeroPoints(model.Graph);
        void AddTensor(TensorProto t)
        {
            if (packed4.Contains(t.Name) && t.DataType == OnnxType.UInt8)
            {
                var raw = t.RawData.Span;
                count += 2L * raw.Length;
                bits += 8.0 * raw.Length;
                foreach (var b in raw) nonZero += ((b & 0x0F) != 8 ? 1 : 0) + ((b >> 4) != 8 ? 1 : 0);
                return;
            }
            if (t.DataType is not (OnnxType.Float or OnnxType.Float16 or OnnxType.Double or OnnxType.Int8 or OnnxType.UInt8)) return;
            long n = OnnxTensors.ElementCount(t);
            if (n <= 1 && t.Dims.Count == 0) return; // scalar constants (thresholds, slopes) are not weights
            count += n;
            bits += n * (double)OnnxType.BitsOf(t.DataType);
            nonZero += CountNonZero(t, zeroPoints.TryGetValue(t.Name, out var zero) ? zero : (byte)0);
        }
        foreach (var t in model.Graph.Initializer) AddTensor(t);
        foreach (var n in model.Graph.Node)
        {
            if (n.OpType == "Constant")
            {
                var value = OnnxGraphEditor.Attribute(n, "value");
                if (value?.T != null) AddTensor(value.T);
                continue;
            }
            if (n.Domain != "ai.onnx.ml") continue;
            foreach (var a in n.Attribute.Where(a => LearnedAttributes.Contains(a.Name)))
            {
                if (a.T is { } t)
                {
                    var values = OnnxTensors.ReadFloats(t);
                    count += values.Length;
                    bits += values.Length * (double)OnnxType.BitsOf(t.DataType);
                    nonZero += values.Count(f => f != 0f);
                    continue;
                }
                count += a.Floats.Count;
                bits += 32.0 * a.Floats.Count;
                nonZero += a.Floats.Count(f => f != 0f);
            }
        }
        // The serialized size, computed without serializing (a 63 MB network would be copied only to be measured).
        return new ModelStatistics(count, nonZero, count == 0 ? 0 : bits / count, OnnxModelIO.SerializedBytes(model));
    }

    /// <summary>
    /// 8-bit tensors read by DequantizeLinear or MatMulInteger with one zero point for all their values (uint8 weights
    /// are stored around 128): that zero point, the byte that means 0.
    /// </summary>
    private static Dictionary<string, byte> ZeroPoints(GraphProto g)
    {
        var result = new Dictionary<string, byte>();
        void Add(string tensor, string zeroPoint)
        {
            var z = OnnxGraphEditor.Initializer(g, zeroPoint);
            if (z == null || z.DataType is not (OnnxType.Int8 or OnnxType.UInt8) || z.RawData.Length == 0) return;
            var bytes = z.RawData.Span;
            if (bytes.IndexOfAnyExcept(bytes[0]) < 0) result[tensor] = bytes[0];
        }
        foreach (var n in g.Node)
        {
            if (n.OpType == "DequantizeLinear" && n.Input.Count > 2) Add(n.Input[0], n.Input[2]);
            if (n.OpType == "MatMulInteger" && n.Input.Count > 3) { Add(n.Input[0], n.Input[2]); Add(n.Input[1], n.Input[3]); }
        }
        return result;
    }

    private static long CountNonZero(TensorProto t, byte zero)
    {
        if (t.DataType is OnnxType.Int8 or OnnxType.UInt8)
        {
            var span = t.RawData.Span;
            long c = 0;
            foreach (var b in span) if (b != zero) c++;
            return span.Length == 0 ? t.Int32Data.Count(v => v != zero) : c;
        }
        if (t.DataType == OnnxType.Float && t.FloatData.Count == 0)
        {
            long c = 0;
            foreach (var f in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span)) if (f != 0f) c++;
            return c;
        }
        return OnnxTensors.ReadFloats(t).LongCount(f => f != 0f);
    }
}
