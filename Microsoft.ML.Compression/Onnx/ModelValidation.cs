using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Checks an untrusted ONNX model before any stage edits it, so a corrupt file fails with one typed error that says
/// what is wrong, instead of an index error deep in a pruner or a quantized tensor of the wrong size: every stored
/// tensor holds exactly the values its type and dimensions declare, in one storage field; initializer names are
/// unique; the inputs' fixed dimensions are positive (or -1, free); and ONNX Runtime itself accepts the graph.
/// </summary>
internal static class ModelValidation
{
    /// <summary>Throws <see cref="InvalidModelException"/> for the first fault found.</summary>
    /// <param name="model">The parsed model (external data already read in).</param>
    /// <param name="source">Its origin, for messages.</param>
    public static void CheckTensors(ModelProto model, string source)
    {
        string Fix(string what) => $"The ONNX model {source} is invalid: {what}. Re-export it (and check it with onnx.checker.check_model).";
        foreach (var t in ModelTensors.All(model))
        {
            var why = Fault(t);
            if (why != null) throw new InvalidModelException(Fix($"tensor '{t.Name}' {why}"));
        }
        CheckNames(model.Graph, Fix);
        foreach (var input in model.Graph.Input)
        {
            var dims = input.Type?.TensorType?.Shape?.Dim;
            if (dims == null) continue;
            foreach (var d in dims)
                // -1 is how ML.NET's own exporter (and older tools) write a free dimension; 0 and other negatives are not.
                if (d.HasDimValue && (d.DimValue == 0 || d.DimValue < -1))
                    throw new InvalidModelException(Fix($"input '{input.Name}' has a dimension of {d.DimValue} ({string.Join("x", dims.Select(x => x.HasDimValue ? x.DimValue.ToString() : x.DimParam))}); fixed dimensions must be positive, a free one is named (e.g. 'batch') or -1"));
        }
    }

    private static void CheckNames(GraphProto g, Func<string, string> fix)
    {
        var names = new HashSet<string>();
        foreach (var t in g.Initializer)
            if (!names.Add(t.Name))
                throw new InvalidModelException(fix($"two initializers are named '{t.Name}'"));
        foreach (var n in g.Node)
            foreach (var a in n.Attribute)
            {
                if (a.G != null) CheckNames(a.G, fix);
                foreach (var sub in a.Graphs) CheckNames(sub, fix);
            }
    }

    /// <summary>Why the tensor's stored values do not match its declaration, or null when they do.</summary>
    private static string? Fault(TensorProto t)
    {
        if (t.DataType is <= 0 or > 23)
            return $"has element type {t.DataType}, which ONNX does not define";
        if ((int)t.DataLocation == (int)TensorProto.Types.DataLocation.External)
            return "is still stored externally";
        long count = 1;
        foreach (var d in t.Dims)
        {
            if (d < 0) return $"has a negative dimension ({string.Join("x", t.Dims)})";
            if (d != 0 && count > long.MaxValue / d) return $"declares more elements than can exist ({string.Join("x", t.Dims)})";
            count *= d;
        }
        var stored = new List<(string field, long length)>();
        if (t.RawData.Length > 0) stored.Add(("raw_data", t.RawData.Length));
        if (t.FloatData.Count > 0) stored.Add(("float_data", t.FloatData.Count));
        if (t.DoubleData.Count > 0) stored.Add(("double_data", t.DoubleData.Count));
        if (t.Int32Data.Count > 0) stored.Add(("int32_data", t.Int32Data.Count));
        if (t.Int64Data.Count > 0) stored.Add(("int64_data", t.Int64Data.Count));
        if (t.Uint64Data.Count > 0) stored.Add(("uint64_data", t.Uint64Data.Count));
        if (t.StringData.Count > 0) stored.Add(("string_data", t.StringData.Count));
        if (stored.Count > 1)
            return $"stores its values twice ({string.Join(" and ", stored.Select(s => s.field))})";
        if (stored.Count == 0)
            return count == 0 ? null : $"declares {count} elements ({string.Join("x", t.Dims)}) but stores none";
        var (field, length) = stored[0];
        long? expected = field switch
        {
            "raw_data" => OnnxType.RawBytes(t.DataType, count),
            "float_data" => t.DataType switch { 1 => count, 14 => 2 * count, _ => null },
            "double_data" => t.DataType switch { 11 => count, 15 => 2 * count, _ => null },
            "int64_data" => t.DataType == 7 ? count : null,
            "uint64_data" => t.DataType is 12 or 13 ? count : null,
            "string_data" => t.DataType == 8 ? count : null,
            _ => t.DataType switch // int32_data holds the small integer, float16 and 8-bit float types, 4-bit ones packed
            {
                6 or 2 or 3 or 4 or 5 or 9 or 10 or 16 or (>= 17 and <= 20) => count,
                >= 21 and <= 23 => (count + 1) / 2,
                _ => null,
            },
        };
        if (expected == null)
            return $"stores element type {t.DataType} in {field}, which cannot hold it";
        if (expected != length)
            return $"declares {count} elements ({string.Join("x", t.Dims)}) but its {field} holds {length} {(field == "raw_data" ? "bytes" : "values")} instead of {expected}";
        return null;
    }
}
