using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>ONNX Runtime tensors over .NET arrays of the element types the scorers feed and read (no copy on the way in).</summary>
internal static class OrtTensors
{
    /// <summary>A tensor of <paramref name="shape"/> over <paramref name="data"/>, which stays pinned until the tensor is disposed.</summary>
    public static OrtValue Over(Array data, long[] shape) => data switch
    {
        float[] f => OrtValue.CreateTensorValueFromMemory(f, shape),
        double[] d => OrtValue.CreateTensorValueFromMemory(d, shape),
        long[] l => OrtValue.CreateTensorValueFromMemory(l, shape),
        int[] n => OrtValue.CreateTensorValueFromMemory(n, shape),
        uint[] u => OrtValue.CreateTensorValueFromMemory(u, shape),
        ulong[] u => OrtValue.CreateTensorValueFromMemory(u, shape),
        bool[] b => OrtValue.CreateTensorValueFromMemory(b, shape),
        _ => throw new NotSupportedException($"ONNX tensor of {data.GetType().Name}."),
    };

    /// <summary>
    /// A tensor of <paramref name="shape"/> over the first <paramref name="length"/> values of <paramref name="data"/>
    /// (a reused buffer longer than one batch), pinned until the tensor is disposed.
    /// </summary>
    public static OrtValue Over(Array data, int length, long[] shape) => data switch
    {
        float[] f => Slice(f, length, shape),
        double[] d => Slice(d, length, shape),
        long[] l => Slice(l, length, shape),
        int[] n => Slice(n, length, shape),
        uint[] u => Slice(u, length, shape),
        ulong[] u => Slice(u, length, shape),
        bool[] b => Slice(b, length, shape),
        short[] s => Slice(s, length, shape),
        ushort[] s => Slice(s, length, shape),
        sbyte[] s => Slice(s, length, shape),
        byte[] s => Slice(s, length, shape),
        _ => throw new NotSupportedException($"ONNX tensor of {data.GetType().Name}."),
    };

    private static OrtValue Slice<T>(T[] data, int length, long[] shape) where T : unmanaged =>
        OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<T>(data, 0, length), shape);

    /// <summary>Copies as much of <paramref name="value"/> as fits into <paramref name="target"/>; returns the tensor's element count.</summary>
    public static int CopyTo(OrtValue value, Array target) => value.GetTensorTypeAndShape().ElementDataType switch
    {
        TensorElementType.Float => Copy(value.GetTensorDataAsSpan<float>(), (float[])target),
        TensorElementType.Double => Copy(value.GetTensorDataAsSpan<double>(), (double[])target),
        TensorElementType.Int64 => Copy(value.GetTensorDataAsSpan<long>(), (long[])target),
        TensorElementType.Int32 => Copy(value.GetTensorDataAsSpan<int>(), (int[])target),
        TensorElementType.UInt32 => Copy(value.GetTensorDataAsSpan<uint>(), (uint[])target),
        TensorElementType.UInt64 => Copy(value.GetTensorDataAsSpan<ulong>(), (ulong[])target),
        TensorElementType.Bool => Copy(value.GetTensorDataAsSpan<bool>(), (bool[])target),
        var t => throw new NotSupportedException($"ONNX output of type {t}."),
    };

    private static int Copy<T>(ReadOnlySpan<T> source, T[] target)
    {
        source[..Math.Min(source.Length, target.Length)].CopyTo(target);
        return source.Length;
    }
}
