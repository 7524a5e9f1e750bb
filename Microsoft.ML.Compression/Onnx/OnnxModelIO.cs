using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// The one place that reads and writes ONNX protobuf bytes. Everything else works on <see cref="ModelProto"/>.
/// </summary>
internal static class OnnxModelIO
{
    /// <summary>Parses ONNX bytes, turning protobuf errors into a typed exception that says what to do.</summary>
    public static ModelProto Parse(byte[] bytes, string source) => Parse(new MemoryStream(bytes, writable: false), source);

    /// <summary>Parses ONNX bytes read from <paramref name="stream"/> to its end (not closed); see <see cref="Parse(byte[], string)"/>.</summary>
    public static ModelProto Parse(Stream stream, string source)
    {
        ModelProto model;
        try
        {
            // Protobuf copies each bytes field out of its read buffer once: a large weight is never held twice.
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidModelException(
                $"The ONNX model from {source} is corrupt or not an ONNX file ({e.Message}). Re-export it, for example with mlContext.Model.ConvertToOnnx or torch.onnx.export.", e);
        }
        if (model.CalculateSize() == 0)
            throw new InvalidModelException($"The ONNX model from {source} is empty (0 bytes). Give the path of a complete .onnx file.");
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
        // Parsed from the file, not from its bytes read first: a large model is then held once, as the parsed model.
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Untrusted(Parse(file, $"'{path}'"), Path.GetDirectoryName(Path.GetFullPath(path)), $"'{path}'");
    }

    /// <summary>
    /// Reads an ONNX model from a stream (read to its end, not closed). Its external data, if any, is read from the
    /// folder of the file a <see cref="FileStream"/> is open on; any other stream has no folder, so external data is refused.
    /// </summary>
    public static ModelProto Load(Stream stream)
        => Untrusted(Parse(stream, "from the stream"), stream is FileStream file ? Path.GetDirectoryName(Path.GetFullPath(file.Name)) : null, "from the stream");

    /// <summary>
    /// A model from a user's file or stream: parsed, its external data read from <paramref name="folder"/>, every
    /// tensor checked, so that a bad file fails here with a typed error (ModelSource.FromOnnx then loads it once in
    /// ONNX Runtime: running a graph is Scoring's business).
    /// </summary>
    private static ModelProto Untrusted(ModelProto model, string? folder, string source)
    {
        ExternalData.Inline(model, folder, source);
        ModelValidation.CheckTensors(model, source);
        return model;
    }

    /// <summary>The serialized graph; throws <see cref="UnsupportedModelException"/> for one of 2 GB or more (see <see cref="SerializedBytes"/>).</summary>
    public static byte[] ToBytes(ModelProto model)
    {
        long size = SerializedBytes(model);
        if (size >= ExternalData.MaxModelBytes)
            throw new UnsupportedModelException(
                $"The ONNX graph takes {size / (1L << 20)} MB, over the 2 GB that one protobuf message (a byte array or an ML.NET OnnxTransformer) can hold. " +
                "Write it to a file with external data instead (CompressedModel.SaveOnnx), or compress it further.");
        return model.ToByteArray();
    }

    /// <summary>Initializers of at least this many bytes go to the external data file when a graph is written with one (onnx.save_model's default threshold).</summary>
    internal const long ExternalTensorBytes = 1024;

    /// <summary>
    /// The size of <paramref name="model"/> serialized, also past 2 GB (where protobuf's own int sizes overflow):
    /// each initializer measured alone, the rest without them.
    /// </summary>
    public static long SerializedBytes(ModelProto model)
    {
        if (model.Graph == null) return model.CalculateSize();
        long size = 0;
        foreach (var t in model.Graph.Initializer)
        {
            long one = t.CalculateSize();
            size += 1 + CodedOutputStream.ComputeLengthSize((int)one) + one; // tag, length, message
        }
        var shell = model.Clone(); // tensors' bytes are shared, not copied
        shell.Graph.Initializer.Clear();
        return size + shell.CalculateSize() + 4; // the graph's length prefix grows by at most 4 bytes
    }

    /// <summary>
    /// Writes <paramref name="model"/> (not changed) to <paramref name="path"/>, every top-level initializer of at
    /// least <paramref name="minExternalBytes"/> raw bytes moved to <paramref name="dataFile"/> (a file name, written
    /// in the same folder) at page-aligned offsets, so ONNX Runtime can map them. Both files are written under
    /// temporary names and moved into place last, so a failure leaves neither half-written; a data file is written
    /// only when some tensor goes there, and the graph then refers to it alone.
    /// </summary>
    public static void WriteWithExternalData(ModelProto model, string path, string dataFile, long minExternalBytes)
    {
        if (dataFile.Contains('/') || dataFile.Contains('\\') || dataFile is "" or "." or "..")
            throw new ArgumentException($"The external data file '{dataFile}' must be a plain file name: it is written beside the model.", nameof(dataFile));
        var full = Path.GetFullPath(path);
        var dataPath = Path.Combine(Path.GetDirectoryName(full)!, dataFile);
        string suffix = ".tmp-" + Guid.NewGuid().ToString("N");
        string tmpModel = full + suffix, tmpData = dataPath + suffix;
        const int Page = 4096;
        try
        {
            var shell = model.Clone(); // the copy's tensors share their bytes with the model's: nothing large is copied
            bool any = false;
            using (var data = new FileStream(tmpData, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                foreach (var t in shell.Graph.Initializer)
                {
                    if (t.DataLocation == TensorProto.Types.DataLocation.External || t.RawData.Length < minExternalBytes) continue;
                    long offset = (data.Position + Page - 1) / Page * Page;
                    if (offset > data.Position) data.Write(new byte[offset - data.Position]);
                    data.Write(t.RawData.Span);
                    t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataFile });
                    t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                    t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                    t.DataLocation = TensorProto.Types.DataLocation.External;
                    t.RawData = ByteString.Empty;
                    any = true;
                }
            }
            long size = SerializedBytes(shell);
            if (size >= ExternalData.MaxModelBytes)
                throw new UnsupportedModelException(
                    $"The ONNX graph still takes {size / (1L << 20)} MB with its large initializers in external data: over the 2 GB one protobuf message can hold. Its weights may be stored in Constant nodes; move them to initializers.");
            using (var file = new FileStream(tmpModel, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16)) shell.WriteTo(file);
            if (any) File.Move(tmpData, dataPath, overwrite: true);
            File.Move(tmpModel, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmpData)) File.Delete(tmpData);
            if (File.Exists(tmpModel)) File.Delete(tmpModel);
        }
    }

    /// <summary>A deep copy, so that editing never touches the caller's model.</summary>
    public static ModelProto Clone(ModelProto model) => model.Clone();

    /// <summary>A copy of <paramref name="model"/> whose initializers hold no values (names, types and shapes only).</summary>
    public static ModelProto WithoutWeights(ModelProto model)
    {
        var copy = model.Clone(); // shares the tensors' bytes, which are then dropped from the copy
        foreach (var t in ModelTensors.All(copy))
        {
            t.RawData = ByteString.Empty;
            t.FloatData.Clear();
            t.Int32Data.Clear();
            t.Int64Data.Clear();
            t.DoubleData.Clear();
            t.StringData.Clear();
            t.Uint64Data.Clear();
        }
        return copy;
    }

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
