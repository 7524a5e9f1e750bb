using Google.Protobuf;
using System.IO.Compression;
using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Finds the ONNX graphs inside a zip written by <c>mlContext.Model.Save</c>. OnnxTransformer stores its model as
/// a binary stream named "OnnxModel", a length-prefixed byte array.
/// </summary>
internal static class SavedOnnxModels
{
    public static IEnumerable<ModelProto> Read(Stream zipStream)
    {
        using var zip = new ZipArchive(zipStream, ZipArchiveMode.Read, leaveOpen: true);
        foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel").ToList())
        {
            using var s = entry.Open();
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            var bytes = ms.ToArray();
            var model = TryParse(bytes, 4) ?? TryParse(bytes, 8);
            if (model != null) yield return model;
        }
    }

    /// <summary>Writes <paramref name="model"/> as an "OnnxModel" entry's content: its length in <paramref name="prefix"/> bytes (4 or 8), then its bytes, streamed.</summary>
    public static void WriteEntry(Stream entry, ModelProto model, int prefix)
    {
        long length = model.CalculateSize();
        entry.Write(prefix == 4 ? BitConverter.GetBytes(checked((int)length)) : BitConverter.GetBytes(length));
        model.WriteTo(entry);
    }

    /// <summary>
    /// Copies every entry of <paramref name="source"/> into <paramref name="target"/>, the "OnnxModel" entry
    /// <paramref name="graph"/> holding <paramref name="replacement"/> in place of its own graph (streamed, stored
    /// uncompressed, with a length prefix of <paramref name="prefix"/> bytes as ML.NET wrote it).
    /// </summary>
    public static void CopyReplacing(ZipArchive source, ZipArchive target, ZipArchiveEntry graph, ModelProto replacement, int prefix)
    {
        foreach (var entry in source.Entries)
        {
            bool replaced = entry == graph;
            using var output = target.CreateEntry(entry.FullName, replaced ? CompressionLevel.NoCompression : CompressionLevel.Fastest).Open();
            if (replaced)
            {
                WriteEntry(output, replacement, prefix);
                continue;
            }
            using var input = entry.Open();
            input.CopyTo(output);
        }
    }

    /// <summary>The graph in one "OnnxModel" entry's bytes and the length prefix's size (4 or 8), or null.</summary>
    public static ModelProto? Parse(byte[] entry, out int prefix)
    {
        foreach (int p in new[] { 4, 8 })
            if (TryParse(entry, p) is { } model) { prefix = p; return model; }
        prefix = 0;
        return null;
    }

    private static ModelProto? TryParse(byte[] bytes, int prefix)
    {
        if (bytes.Length <= prefix) return null;
        long length = prefix == 4 ? BitConverter.ToInt32(bytes, 0) : BitConverter.ToInt64(bytes, 0);
        if (length != bytes.Length - prefix) return null;
        try { return ModelProto.Parser.ParseFrom(bytes, prefix, (int)length); }
        catch (Google.Protobuf.InvalidProtocolBufferException) { return null; }
    }
}
