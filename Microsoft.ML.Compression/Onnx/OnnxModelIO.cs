using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// The one place that reads and writes ONNX protobuf bytes. Everything else works on <see cref="ModelProto"/>.
/// </summary>
internal static class OnnxModelIO
{
    /// <summary>Parses ONNX bytes, turning protobuf errors into a typed exception that says what to do.</summary>
    public static ModelProto Parse(byte[] bytes, string source)
    {
        if (bytes.Length == 0)
            throw new InvalidModelException($"The ONNX model from {source} is empty (0 bytes). Give the path of a complete .onnx file.");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidModelException(
                $"The ONNX model from {source} is corrupt or not an ONNX file ({e.Message}). Re-export it, for example with mlContext.Model.ConvertToOnnx or torch.onnx.export.", e);
        }
        if (model.Graph == null || model.Graph.Node.Count == 0 || model.Graph.Output.Count == 0)
            throw new InvalidModelException(
                $"The ONNX model from {source} has no graph, no nodes or no outputs, so it is not a usable model. Re-export it.");
        return model;
    }

    /// <summary>Reads an ONNX file, with the tensors it keeps in files of its folder (see <see cref="ExternalData"/>).</summary>
    public static ModelProto Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The ONNX model file '{path}' does not exist. Check the path.", path);
        return Untrusted(File.ReadAllBytes(path), Path.GetDirectoryName(Path.GetFullPath(path)), $"'{path}'");
    }

    /// <summary>
    /// Reads an ONNX model from a stream (read to its end, not closed). Its external data, if any, is read from the
    /// folder of the file a <see cref="FileStream"/> is open on; any other stream has no folder, so external data is refused.
    /// </summary>
    public static ModelProto Load(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Untrusted(copy.ToArray(), stream is FileStream file ? Path.GetDirectoryName(Path.GetFullPath(file.Name)) : null, "from the stream");
    }

    /// <summary>
    /// A model from a user's file or stream: parsed, its external data read from <paramref name="folder"/>, every
    /// tensor checked, so that a bad file fails here with a typed error (ModelSource.FromOnnx then loads it once in
    /// ONNX Runtime: running a graph is Scoring's business).
    /// </summary>
    private static ModelProto Untrusted(byte[] bytes, string? folder, string source)
    {
        var model = Parse(bytes, source);
        ExternalData.Inline(model, folder, source);
        ModelValidation.CheckTensors(model, source);
        return model;
    }

    public static byte[] ToBytes(ModelProto model) => model.ToByteArray();

    /// <summary>A deep copy, so that editing never touches the caller's model.</summary>
    public static ModelProto Clone(ModelProto model) => model.Clone();

    /// <summary>
    /// Writes bytes to <paramref name="path"/> through a temporary file in the same folder, so a failure never
    /// leaves a half-written file behind.
    /// </summary>
    public static void WriteAtomically(string path, byte[] bytes)
    {
        var full = Path.GetFullPath(path);
        var tmp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
