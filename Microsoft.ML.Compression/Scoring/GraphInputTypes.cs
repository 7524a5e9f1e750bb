using Onnx;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>The .NET item type that feeds each ONNX element type of a graph input, and the check that a data column holds it.</summary>
internal static class GraphInputTypes
{
    /// <summary>The .NET item type that feeds an ONNX tensor element type (int64 token ids: long, …); null for none.</summary>
    public static Type? ItemTypeOf(int onnxElementType) => onnxElementType switch
    {
        OnnxType.Float => typeof(float),
        OnnxType.Double => typeof(double),
        OnnxType.Int64 => typeof(long),
        OnnxType.Int32 => typeof(int),
        OnnxType.UInt32 => typeof(uint),
        OnnxType.UInt64 => typeof(ulong),
        OnnxType.Int16 => typeof(short),
        OnnxType.UInt16 => typeof(ushort),
        OnnxType.Int8 => typeof(sbyte),
        OnnxType.UInt8 => typeof(byte),
        OnnxType.Bool => typeof(bool),
        _ => null,
    };

    /// <summary>
    /// The data column must hold the input's element type: ONNX Runtime takes no conversion, and converting here
    /// (float ids rounded to int64) would hide a pipeline that feeds the wrong column.
    /// </summary>
    public static void Check(ValueInfoProto input, Type columnItemType)
    {
        int elemType = input.Type.TensorType.ElemType;
        var expected = ItemTypeOf(elemType)
            ?? throw new UnsupportedModelException($"The graph input '{input.Name}' has ONNX element type {elemType}, which calibration data cannot feed (numeric and bool tensors can).");
        if (expected != columnItemType)
            throw new DataMismatchException(
                $"The graph input '{input.Name}' takes {expected.Name} values but the data column '{input.Name}' holds {columnItemType.Name}. " +
                $"Give a vector column of {expected.Name} (e.g. ml.Transforms.Conversion.ConvertType(\"{input.Name}\", outputKind: DataKind.{DataKindName(expected)})).", input.Name);
    }

    private static string DataKindName(Type t) =>
        t == typeof(float) ? "Single" : t == typeof(long) ? "Int64" : t == typeof(int) ? "Int32" : t == typeof(double) ? "Double"
        : t == typeof(bool) ? "Boolean" : t.Name;
}
