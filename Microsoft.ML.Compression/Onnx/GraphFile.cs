using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// A graph written to a private temporary folder for ONNX Runtime to load by path, its large initializers as
/// external data in one file beside it; the folder is deleted on <see cref="Dispose"/>. Why not bytes: a session made
/// from a byte array needs the whole serialized graph as one more copy next to the parsed model, and ONNX Runtime
/// then parses a second one; from a file with external data it parses only the structure and maps the weights
/// (the one way at all for graphs of 2 GB or more, the protobuf limit).
/// </summary>
internal sealed class GraphFile : IDisposable
{
    private readonly string _folder;

    /// <summary>The .onnx file to load.</summary>
    public string Path { get; }

    private GraphFile(string folder, string path)
    {
        _folder = folder;
        Path = path;
    }

    /// <summary>Writes <paramref name="model"/> (not changed) to a new folder under <paramref name="parent"/> (default: the temp folder).</summary>
    public static GraphFile Write(ModelProto model, string? parent = null)
    {
        var folder = System.IO.Path.Combine(parent ?? System.IO.Path.GetTempPath(), $"mlcompression-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var file = new GraphFile(folder, System.IO.Path.Combine(folder, "model.onnx"));
        try
        {
            OnnxModelIO.WriteWithExternalData(model, file.Path, "model.onnx.data", OnnxModelIO.ExternalTensorBytes);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Deletes the folder (a file still held open where the OS forbids that stays until the temp folder is cleaned).</summary>
    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
