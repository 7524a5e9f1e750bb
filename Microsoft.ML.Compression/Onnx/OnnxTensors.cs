using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>ONNX element type codes (TensorProto.DataType) used here.</summary>
internal static class OnnxType
{
    public const int Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9, Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, Int4 = 22;

    public static int BitsOf(int dataType) => dataType switch
    {
        Float or Int32 or UInt32 => 32,
        Double or Int64 => 64,
        Float16 => 16,
        Int8 or UInt8 or Bool => 8,
        Int4 => 4,
        _ => 32,
    };

    /// <summary>
    /// Bytes that <paramref name="count"/> elements of <paramref name="dataType"/> take in raw_data (4-bit types
    /// packed two per byte), or null for strings and codes ONNX does not define.
    /// </summary>
    public static long? RawBytes(int dataType, long count) => dataType switch
    {
        1 or 6 or 12 => count * 4,       // float, int32, uint32
        2 or 3 or 9 => count,            // uint8, int8, bool
        4 or 5 or 10 or 16 => count * 2, // uint16, int16, float16, bfloat16
        7 or 11 or 13 or 14 => count * 8, // int64, double, uint64, complex64
        15 => count * 16,                // complex128
        >= 17 and <= 20 => count,        // float8 variants
        >= 21 and <= 23 => (count + 1) / 2, // uint4, int4, float4e2m1
        _ => null,
    };
}

/// <summary>Conversions between <see cref="TensorProto"/> and .NET arrays; raw and typed storage both handled.</summary>
internal static class OnnxTensors
{
    public static long ElementCount(TensorProto t) => t.Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>
    /// The float values of <paramref name="t"/> viewed in its raw bytes where they are stored that way (no copy: a large
    /// weight is quantized without a second float array), else read as <see cref="ReadFloats"/> does.
    /// </summary>
    public static ReadOnlySpan<float> FloatsInPlace(TensorProto t)
        => t.DataType == OnnxType.Float && t.FloatData.Count == 0 && BitConverter.IsLittleEndian
            ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span)
            : ReadFloats(t);

    public static float[] ReadFloats(TensorProto t)
    {
        switch (t.DataType)
        {
            case OnnxType.Float:
                if (t.FloatData.Count > 0) return t.FloatData.ToArray();
                return MemoryMarshalCopy<float>(t.RawData);
            case OnnxType.Double:
                if (t.DoubleData.Count > 0) return t.DoubleData.Select(d => (float)d).ToArray();
                return MemoryMarshalCopy<double>(t.RawData).Select(d => (float)d).ToArray();
            case OnnxType.Float16:
                var halves = t.RawData.Length > 0 ? MemoryMarshalCopy<Half>(t.RawData)
                    : t.Int32Data.Select(i => BitConverter.UInt16BitsToHalf((ushort)i)).ToArray();
                return halves.Select(h => (float)h).ToArray();
            default:
                throw new UnsupportedModelException($"Tensor '{t.Name}' has element type {t.DataType}; only float, double and float16 weights can be read.");
        }
    }

    public static TensorProto Float(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = OnnxType.Float, RawData = ByteString.CopyFrom(AsBytes(values)) };
        t.Dims.Add(dims);
        return t;
    }

    /// <summary>
    /// A float tensor whose raw data is <paramref name="raw"/> itself (little-endian floats), not a copy: for a large
    /// weight built in place. The caller gives the array up: nothing may write to it afterwards.
    /// </summary>
    public static TensorProto FloatOver(string name, byte[] raw, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = OnnxType.Float, RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        t.Dims.Add(dims);
        return t;
    }

    public static TensorProto Int8(string name, sbyte[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = OnnxType.Int8, RawData = ByteString.CopyFrom(AsBytes(values)) };
        t.Dims.Add(dims);
        return t;
    }

    public static TensorProto UInt8(string name, byte[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = OnnxType.UInt8, RawData = ByteString.CopyFrom(values) };
        t.Dims.Add(dims);
        return t;
    }

    public static TensorProto Int32(string name, int[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = OnnxType.Int32, RawData = ByteString.CopyFrom(AsBytes(values)) };
        t.Dims.Add(dims);
        return t;
    }

    /// <summary>Signed 4-bit values in [-8, 7], packed two per byte (first element in the low nibble), as ONNX stores int4.</summary>
    public static TensorProto Int4(string name, sbyte[] values, params long[] dims)
    {
        var packed = new byte[(values.Length + 1) / 2];
        for (int i = 0; i < values.Length; i++)
            packed[i / 2] |= (byte)((values[i] & 0x0F) << (i % 2 == 0 ? 0 : 4));
        var t = new TensorProto { Name = name, DataType = OnnxType.Int4, RawData = ByteString.CopyFrom(packed) };
        t.Dims.Add(dims);
        return t;
    }

    public static TensorProto Float16(string name, float[] values, params long[] dims)
    {
        // Values outside the half range would become infinities: clamp them to the largest finite half.
        var halves = values.Select(v => (Half)Math.Clamp(v, -65504f, 65504f)).ToArray();
        var t = new TensorProto { Name = name, DataType = OnnxType.Float16, RawData = ByteString.CopyFrom(AsBytes(halves)) };
        t.Dims.Add(dims);
        return t;
    }

    public static TensorProto Int64(string name, long[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = OnnxType.Int64 };
        t.Int64Data.Add(values);
        t.Dims.Add(dims);
        return t;
    }

    /// <summary>Bytes the tensor occupies in the file (raw payload or typed fields).</summary>
    public static long StoredBytes(TensorProto t) => t.CalculateSize();

    private static T[] MemoryMarshalCopy<T>(ByteString raw) where T : struct
        => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(raw.Span).ToArray();

    /// <summary>The values' bytes, viewed in place (ByteString.CopyFrom makes the one copy the tensor keeps).</summary>
    private static ReadOnlySpan<byte> AsBytes<T>(T[] values) where T : struct
        => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());
}
