using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Reads tensors an ONNX file keeps in other files (<c>data_location = EXTERNAL</c>, as exporters write models over
/// 2 GB) into the model itself, so every stage edits them like any weight and the compressed model never refers to a
/// file it does not ship (a graph over 2 GB goes to ONNX Runtime, or to the user, written with external data of its
/// own: <see cref="GraphFile"/>, <see cref="OnnxModelIO.WriteWithExternalData"/>). A model file is untrusted: a location may only name a file inside the model's own folder.
/// Absolute locations, and locations that leave the folder through <c>..</c> or a symbolic link, are refused with
/// every location checked before any file is opened.
/// </summary>
internal static class ExternalData
{
    /// <summary>Protobuf cannot write a message of 2 GiB or more: a larger graph is written with external data.</summary>
    internal const long MaxModelBytes = int.MaxValue;

    private const int External = (int)TensorProto.Types.DataLocation.External;

    /// <summary>Whether any tensor of the model is stored in another file.</summary>
    public static bool Any(ModelProto model) => ModelTensors.All(model).Any(t => (int)t.DataLocation == External);

    /// <summary>
    /// Replaces every external tensor of <paramref name="model"/> by its bytes, read from <paramref name="folder"/>.
    /// </summary>
    /// <param name="model">The parsed model; changed in place (it is the library's own copy).</param>
    /// <param name="folder">The folder of the model file, or null when the model came from a stream or zip.</param>
    /// <param name="source">The model's origin, for messages.</param>
    /// <exception cref="UnsupportedModelException">External data without a folder, or a model too large to hold inline.</exception>
    /// <exception cref="InvalidModelException">A location that is absolute or leaves the folder, a missing file, or sizes that do not match.</exception>
    public static void Inline(ModelProto model, string? folder, string source)
    {
        var tensors = ModelTensors.All(model).Where(t => (int)t.DataLocation == External).ToList();
        if (tensors.Count == 0) return;
        if (folder == null)
            throw new UnsupportedModelException(
                $"The ONNX model {source} keeps tensor '{tensors[0].Name}' in an external file, and a model read from a stream, a saved zip or an " +
                "OnnxTransformer has no folder to look for it in. Give the path of the .onnx file (with its external data files beside it), or a FileStream opened on it.");

        var root = RealPath(Path.GetFullPath(folder));
        // All locations are checked before the first byte is read: a hostile file must not make this library open
        // anything outside the folder, not even to fail on it later.
        var reads = tensors.Select(t => Plan(t, root, source)).ToList();
        // A model may pass 2 GB in all (it is then only ever written with external data again, see GraphFile), but
        // one tensor's bytes must fit one array.
        if (reads.FirstOrDefault(r => r.Length > Array.MaxLength) is { } huge)
            throw new UnsupportedModelException(
                $"Tensor '{huge.Tensor.Name}' of the ONNX model {source} holds {huge.Length / (1L << 20)} MB in external data; one tensor of 2 GB or more cannot be compressed. " +
                "Split the weight into smaller tensors, or compress another model.");

        foreach (var r in reads)
        {
            var bytes = new byte[r.Length];
            try
            {
                using var file = new FileStream(r.Path, FileMode.Open, FileAccess.Read, FileShare.Read);
                file.Seek(r.Offset, SeekOrigin.Begin);
                file.ReadExactly(bytes);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidModelException($"The external data of tensor '{r.Tensor.Name}' of the ONNX model {source} could not be read ({e.Message}). Check the data file beside the model.", e);
            }
            r.Tensor.ExternalData.Clear();
            r.Tensor.DataLocation = TensorProto.Types.DataLocation.Default;
            r.Tensor.RawData = UnsafeByteOperations.UnsafeWrap(bytes); // the array is this tensor's alone: no second copy
        }
    }

    /// <summary>Refuses a model whose tensors live in other files (a graph read from a zip or a transformer).</summary>
    public static void Refuse(ModelProto model, string source) => Inline(model, null, source);

    private sealed record Read(TensorProto Tensor, string Path, long Offset, long Length);

    private static Read Plan(TensorProto t, string root, string source)
    {
        string Where() => $"Tensor '{t.Name}' of the ONNX model {source}";
        var entries = new Dictionary<string, string>();
        foreach (var e in t.ExternalData)
            if (!entries.TryAdd(e.Key, e.Value))
                throw new InvalidModelException($"{Where()} lists its external data key '{e.Key}' twice. Re-export the model.");
        if (!entries.TryGetValue("location", out var location) || string.IsNullOrWhiteSpace(location))
            throw new InvalidModelException($"{Where()} is marked as external data but names no location. Re-export the model.");
        if (t.RawData.Length > 0 || t.FloatData.Count > 0 || t.Int32Data.Count > 0 || t.Int64Data.Count > 0 || t.DoubleData.Count > 0)
            throw new InvalidModelException($"{Where()} holds values of its own and also names external data '{location}'. Re-export the model.");

        string path;
        long fileLength;
        try
        {
            path = Resolve(root, location, Where);
            fileLength = new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidModelException($"{Where()} names external data '{location}', which cannot be resolved ({e.Message}). Copy the data file beside the model.", e);
        }
        long offset = Number(entries, "offset", 0, Where);
        long? declared = entries.ContainsKey("length") ? Number(entries, "length", 0, Where) : null;
        if (t.Dims.Any(d => d < 0))
            throw new InvalidModelException($"{Where()} has a negative dimension ({string.Join("x", t.Dims)}). Re-export the model.");
        long count = 1;
        foreach (var d in t.Dims)
            count = d == 0 ? 0 : count > long.MaxValue / d ? throw new InvalidModelException($"{Where()} declares more elements than can exist ({string.Join("x", t.Dims)}). Re-export the model.") : count * d;
        long expected = OnnxType.RawBytes(t.DataType, count)
            ?? throw new UnsupportedModelException($"{Where()} is stored externally with element type {t.DataType}, which has no fixed size. Store it inside the model.");
        long length = declared ?? expected;
        if (length != expected)
            throw new InvalidModelException($"{Where()} has {count} elements of type {t.DataType} ({expected} bytes), but its external data declares {length} bytes. Re-export the model.");
        if (offset > fileLength || length > fileLength - offset)
            throw new InvalidModelException($"{Where()} reads {length} bytes at offset {offset} of '{location}', which has only {fileLength} bytes. Copy the complete data file beside the model.");
        return new Read(t, path, offset, length);
    }

    private static long Number(Dictionary<string, string> entries, string key, long fallback, Func<string> where)
    {
        if (!entries.TryGetValue(key, out var text)) return fallback;
        if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value))
            throw new InvalidModelException($"{where()} has external data {key} '{text}', which is not a non-negative whole number. Re-export the model.");
        return value;
    }

    /// <summary>
    /// The real path of <paramref name="location"/> inside <paramref name="root"/> (a real path), following links one
    /// component at a time and refusing as soon as one step leaves the folder. Only metadata is read, never a file.
    /// </summary>
    private static string Resolve(string root, string location, Func<string> where)
    {
        string Refused(string why) => throw new InvalidModelException(
            $"{where()} names external data '{location}', which {why}. External data must be a file inside the model's folder; this model may have been made to read other files: do not use it.");
        if (location.Contains('\0') || Path.IsPathRooted(location) || location.StartsWith('/') || location.StartsWith('\\') || location.Contains(':'))
            Refused("is an absolute path");

        var current = root;
        var parts = location.Split(OperatingSystem.IsWindows() ? new[] { '/', '\\' } : new[] { '/' });
        for (int i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (part is "" or ".") continue;
            var next = part == ".." ? Path.GetDirectoryName(current) ?? current : Path.Combine(current, part);
            if (!IsInside(next, root)) Refused("leaves the model's folder");
            FileSystemInfo info = i == parts.Length - 1 ? new FileInfo(next) : new DirectoryInfo(next);
            if (info.LinkTarget != null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                if (target == null || !IsInside(target.FullName, root)) Refused("is a link that leads out of the model's folder");
                next = RealPath(target!.FullName); // its own folders may be links too
                if (!IsInside(next, root)) Refused("is a link that leads out of the model's folder");
            }
            current = next;
        }
        if (current == root || !File.Exists(current))
            throw new InvalidModelException($"{where()} reads external data from '{location}', which is not a file in the model's folder. Copy the data file beside the model.");
        return current;
    }

    private static bool IsInside(string path, string root)
    {
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return path.Equals(root, comparison) || path.StartsWith(Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar, comparison);
    }

    /// <summary>A full path with every symbolic link among its folders (and itself) followed.</summary>
    private static string RealPath(string full)
    {
        var rootOfPath = Path.GetPathRoot(full) ?? "/";
        var current = rootOfPath;
        foreach (var part in full[rootOfPath.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            var info = new DirectoryInfo(next);
            var target = info.LinkTarget != null ? info.ResolveLinkTarget(returnFinalTarget: true) : null;
            current = target != null ? RealPath(Path.GetFullPath(target.FullName)) : next;
        }
        return current;
    }
}
