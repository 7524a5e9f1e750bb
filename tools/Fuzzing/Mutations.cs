// Shared by the test suite's FuzzTests (a few hundred seeded trials) and the benchmark app's long fuzz run
// (examples/Benchmarks/Fuzzing, thousands): one copy of the mutations, linked into both projects.
using System.IO.Compression;
using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Fuzzing;

/// <summary>
/// The damage a hostile or broken file can carry: wrong sizes, types and dimensions, missing or duplicated tensors,
/// unknown operators, broken attributes, external data pointing anywhere, non-finite weights, flipped and cut bytes,
/// damaged zip entries and reports. Every mutation draws from the given <see cref="Random"/>, so a seed replays a run.
/// </summary>
internal static class Mutations
{
    /// <summary>The external-data locations a mutated tensor may name when the caller gives none.</summary>
    public static readonly string[] DefaultLocations = { "../x.bin", "/etc/passwd", "w.bin", "a/../../b", "" };

    /// <summary>The ONNX metadata key under which a saved compressed model keeps its report.</summary>
    public const string ReportKey = "ml.compression.report";

    /// <summary>
    /// <paramref name="original"/> with one or two model-level mutations, then sometimes flipped bits or a cut.
    /// </summary>
    /// <param name="r">The seeded random source.</param>
    /// <param name="original">A valid ONNX file's bytes (not changed).</param>
    /// <param name="locations">External-data locations a mutation may name (default: <see cref="DefaultLocations"/>).</param>
    public static (byte[] Bytes, string What) MutatedOnnx(Random r, byte[] original, IReadOnlyList<string>? locations = null)
    {
        var model = ModelProto.Parser.ParseFrom(original);
        var done = new List<string>();
        int count = 1 + r.Next(2);
        for (int k = 0; k < count; k++) done.Add(Mutate(r, model, locations));
        var bytes = model.ToByteArray();
        switch (r.Next(8))
        {
            case 0:
                for (int f = 1 + r.Next(4); f > 0; f--) bytes[r.Next(bytes.Length)] ^= (byte)(1 << r.Next(8));
                done.Add("flipped bits");
                break;
            case 1:
                bytes = bytes[..r.Next(bytes.Length)];
                done.Add("cut short");
                break;
        }
        return (bytes, string.Join(" + ", done));
    }

    private static T Pick<T>(Random r, IReadOnlyList<T> items) => items[r.Next(items.Count)];

    /// <summary>One mutation of <paramref name="m"/> in place; returns what it did.</summary>
    public static string Mutate(Random r, ModelProto m, IReadOnlyList<string>? locations = null)
    {
        var g = m.Graph;
        var inits = g.Initializer;
        TensorProto? T() => inits.Count == 0 ? null : Pick(r, inits);
        NodeProto? N() => g.Node.Count == 0 ? null : Pick(r, g.Node);
        switch (r.Next(21))
        {
            case 0 when T() is { } t && t.Dims.Count > 0:
                t.Dims[r.Next(t.Dims.Count)] = Pick(r, new long[] { 0, -1, 1, 3, 1L << 40, long.MaxValue });
                return "tensor dimension";
            case 1 when T() is { } t:
                t.DataType = r.Next(-1, 30);
                return "tensor type";
            case 2 when T() is { } t && t.RawData.Length > 8:
                int cut = r.Next(1, 9);
                t.RawData = r.Next(2) == 0 ? ByteString.CopyFrom(t.RawData.Span[..^cut]) : ByteString.CopyFrom(t.RawData.ToByteArray().Concat(new byte[cut]).ToArray());
                return "tensor byte count";
            case 3 when T() is { } t:
                t.FloatData.Add(1f);
                return "raw and float data";
            case 4 when T() is { } t:
                inits.Add(t.Clone());
                return "duplicate initializer";
            case 5 when T() is { } t:
                inits.Remove(t);
                return "missing initializer";
            case 6 when N() is { } n:
                n.OpType = Pick(r, new[] { "Gemm", "MatMul", "Relu", "Add", "Conv", "Softmax", "Identity", "NoSuchOp", "Reshape", "TreeEnsembleRegressor" });
                return "operator type";
            case 7 when N() is { } n:
                if (n.Input.Count > 0 && r.Next(2) == 0) n.Input.RemoveAt(r.Next(n.Input.Count));
                else n.Input.Add("no_such_value");
                return "node inputs";
            case 8 when N() is { } n:
                n.Attribute.Add(new AttributeProto { Name = Pick(r, new[] { "transB", "transA", "alpha", "beta", "axis" }), Type = AttributeProto.Types.AttributeType.Int, I = Pick(r, new long[] { -1, 2, 5, 1L << 40 }) });
                return "node attribute";
            case 9 when N() is { } n && n.Attribute.Count > 0:
                var a = Pick(r, n.Attribute);
                a.F = Pick(r, new[] { float.NaN, float.PositiveInfinity, -1e38f });
                a.I = Pick(r, new long[] { -5, 0, 99 });
                return "attribute value";
            case 10 when g.Input.Count > 0 && g.Input[0].Type?.TensorType?.Shape is { } shape && shape.Dim.Count > 0:
                shape.Dim[r.Next(shape.Dim.Count)].DimValue = Pick(r, new long[] { 0, -3, 1, 1000, 56 });
                return "input dimension";
            case 11 when g.Input.Count > 0 && g.Input[0].Type?.TensorType is { } tt:
                tt.ElemType = Pick(r, new[] { 0, 7, 8, 11, 10, 99 });
                return "input type";
            case 12 when T() is { } t:
                t.RawData = ByteString.Empty;
                t.FloatData.Clear();
                t.DataLocation = TensorProto.Types.DataLocation.External;
                var location = Pick(r, locations ?? DefaultLocations);
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                if (r.Next(2) == 0) t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = Pick(r, new[] { "-1", "0", "abc", "99999999999" }) });
                return $"external data '{location}'";
            case 13 when T() is { } t && t.DataType == 1 && t.RawData.Length >= 4:
                var raw = t.RawData.ToByteArray();
                BitConverter.GetBytes(Pick(r, new[] { float.NaN, float.PositiveInfinity, 1e38f, -1e38f, 0f })).CopyTo(raw, 4 * r.Next(raw.Length / 4));
                t.RawData = ByteString.CopyFrom(raw);
                return "weight value";
            case 14 when g.Output.Count > 0:
                if (r.Next(2) == 0) g.Output[0].Name = "no_such_output"; else g.Output.RemoveAt(0);
                return "graph output";
            case 15:
                if (m.OpsetImport.Count > 0) m.OpsetImport[0].Version = Pick(r, new long[] { 0, 1, 7, 99, 1000 });
                else m.IrVersion = Pick(r, new long[] { 0, 1, 100 });
                return "opset or IR version";
            case 16 when N() is { } n && n.Output.Count > 0:
                n.Output[0] = "renamed_" + r.Next(1000);
                return "node output";
            case 17 when g.Node.Count > 1:
                var first = g.Node[0];
                g.Node.RemoveAt(0);
                g.Node.Add(first);
                return "node order";
            case 18:
                g.Node.Clear();
                return "no nodes";
            case 19 when g.Output.Count > 0 && g.Output[0].Type?.TensorType != null:
                if (r.Next(2) == 0) g.Output[0].Type.TensorType.Shape = null; else g.Output[0].Type = null;
                return "output type";
            default:
                if (T() is { } any) any.Name = inits.Count > 1 ? inits[0].Name : "";
                return "initializer name";
        }
    }

    /// <summary>A saved compressed model's zip (<paramref name="zip"/>, not changed) with one kind of damage.</summary>
    public static (byte[] Bytes, string What) MutatedZip(Random r, byte[] zip)
    {
        switch (r.Next(6))
        {
            case 0:
            {
                var b = (byte[])zip.Clone();
                for (int f = 1 + r.Next(8); f > 0; f--) b[r.Next(b.Length)] ^= (byte)(1 << r.Next(8));
                return (b, "flipped bits");
            }
            case 1:
                return (zip[..r.Next(zip.Length)], "cut short");
            case 2:
                return (RewriteOnnx(zip, model => Mutate(r, model)), "graph mutated");
            case 3:
                return (RewriteOnnx(zip, model =>
                {
                    var entry = model.MetadataProps.First(p => p.Key == ReportKey);
                    var json = entry.Value;
                    entry.Value = r.Next(5) switch
                    {
                        0 => json[..r.Next(json.Length)],
                        1 => "{}",
                        2 => json.Replace("\"ZipBytes\": ", "\"ZipBytes\": -"),
                        3 => json.Replace("\"Stages\"", "\"Stagez\""),
                        _ => json.Replace(": 0.", ": NaN, \"x\": 0."),
                    };
                    return "report";
                }), "report mutated");
            case 4:
                return (RewriteZip(zip, archive =>
                {
                    var entry = Pick(r, archive.Entries.ToList());
                    string name = entry.FullName;
                    entry.Delete();
                    return name;
                }), "entry deleted");
            default:
                return (RewriteZip(zip, archive =>
                {
                    var entry = Pick(r, archive.Entries.ToList());
                    string name = entry.FullName;
                    var junk = new byte[r.Next(0, 64)];
                    r.NextBytes(junk);
                    entry.Delete();
                    using (var s = archive.CreateEntry(name).Open()) s.Write(junk);
                    return name;
                }), "entry replaced by junk");
        }
    }

    internal static byte[] RewriteZip(byte[] zip, Func<ZipArchive, string> change)
    {
        var copy = new MemoryStream();
        copy.Write(zip);
        using (var archive = new ZipArchive(copy, ZipArchiveMode.Update, leaveOpen: true)) change(archive);
        return copy.ToArray();
    }

    /// <summary>The saved zip with its ONNX graph (stored length-prefixed in the entry "OnnxModel") changed.</summary>
    internal static byte[] RewriteOnnx(byte[] zip, Func<ModelProto, string> change) => RewriteZip(zip, archive =>
    {
        var entry = archive.Entries.Last(e => e.Name == "OnnxModel");
        byte[] stored;
        using (var s = entry.Open()) { var ms = new MemoryStream(); s.CopyTo(ms); stored = ms.ToArray(); }
        int prefix = BitConverter.ToInt64(stored, 0) == stored.Length - 8 ? 8 : 4;
        var model = ModelProto.Parser.ParseFrom(stored, prefix, stored.Length - prefix);
        var what = change(model);
        var bytes = model.ToByteArray();
        string name = entry.FullName;
        entry.Delete();
        using (var s = archive.CreateEntry(name).Open())
        {
            s.Write(prefix == 8 ? BitConverter.GetBytes((long)bytes.Length) : BitConverter.GetBytes(bytes.Length));
            s.Write(bytes);
        }
        return what;
    });
}
