using System.IO.Compression;
using System.IO.Hashing;

namespace Microsoft.ML.Compression.Native;

/// <summary>
/// A model saved by <c>mlContext.Model.Save</c>, held as its zip entries in their order. Edits replace or remove
/// entries; <see cref="ToBytes"/> writes a zip that <c>mlContext.Model.Load</c> reads like the original.
/// </summary>
internal sealed class SavedModelZip
{
    /// <summary>Entries larger than this are refused: a hostile zip could claim gigabytes.</summary>
    private const long MaxEntryBytes = 2L * 1024 * 1024 * 1024 - 1;

    private readonly List<(string Name, byte[] Bytes)> _entries;

    private SavedModelZip(List<(string, byte[])> entries) => _entries = entries;

    public static SavedModelZip Read(byte[] zip, string source)
    {
        try
        {
            using var archive = new ZipArchive(new MemoryStream(zip, writable: false), ZipArchiveMode.Read);
            var entries = new List<(string, byte[])>();
            foreach (var entry in archive.Entries)
            {
                if (entry.Length > MaxEntryBytes)
                    throw new InvalidModelException($"The saved model {source} has an entry '{entry.FullName}' of {entry.Length:N0} bytes, more than ML.NET writes. Save the model again.");
                using var stream = entry.Open();
                var bytes = new MemoryStream((int)entry.Length);
                stream.CopyTo(bytes);
                entries.Add((entry.FullName, bytes.ToArray()));
            }
            return new SavedModelZip(entries);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidModelException($"The saved model {source} is not a readable zip ({e.Message}). Save it again with mlContext.Model.Save.", e);
        }
    }

    /// <summary>
    /// Checks every entry of <paramref name="zip"/> against the CRC-32 the zip stores for it, without keeping the
    /// content. Why: ML.NET's loader checks no checksum, and a damaged entry can make it read for ever (one flipped bit
    /// in an array length of the Schema entry did).
    /// </summary>
    /// <exception cref="InvalidModelException">Not a readable zip, or an entry is damaged.</exception>
    public static void Verify(byte[] zip, string source)
    {
        try
        {
            using var archive = new ZipArchive(new MemoryStream(zip, writable: false), ZipArchiveMode.Read);
            var crc = new Crc32();
            var buffer = new byte[81920];
            foreach (var entry in archive.Entries)
            {
                crc.Reset();
                using var stream = entry.Open();
                for (int n; (n = stream.Read(buffer, 0, buffer.Length)) > 0;) crc.Append(buffer.AsSpan(0, n));
                if (crc.GetCurrentHashAsUInt32() != entry.Crc32) throw Damaged(source, entry);
            }
        }
        catch (InvalidDataException e)
        {
            throw new InvalidModelException($"The saved model {source} is not a readable zip ({e.Message}). Save it again with mlContext.Model.Save.", e);
        }
    }

    private static InvalidModelException Damaged(string source, ZipArchiveEntry entry)
        => new($"The saved model {source} has a damaged entry '{entry.FullName}' (its CRC-32 does not match its content). Save the model again with mlContext.Model.Save.");

    /// <summary>Saves <paramref name="model"/> with ML.NET's public API and reads the zip back.</summary>
    public static SavedModelZip Save(MLContext ml, ITransformer model, DataViewSchema? inputSchema)
    {
        using var stream = new MemoryStream();
        ml.Model.Save(model, inputSchema, stream);
        return Read(stream.ToArray(), "saved in memory");
    }

    public byte[] this[string name]
    {
        get => _entries.First(e => e.Name == name).Bytes;
        set
        {
            int at = _entries.FindIndex(e => e.Name == name);
            if (at < 0) _entries.Add((name, value));
            else _entries[at] = (name, value);
        }
    }

    /// <summary>Every model stream in the zip with its entry name (the folder is the component's place in the model).</summary>
    public IEnumerable<(string Name, ModelFile File)> ModelFiles()
    {
        foreach (var (name, bytes) in _entries.ToList())
            if (name.EndsWith("Model.key", StringComparison.Ordinal) && ModelFile.TryRead(bytes, $"'{name}'") is { } file)
                yield return (name, file);
    }

    /// <summary>Removes every entry under <paramref name="folder"/> (a sub-model ML.NET loads only when present).</summary>
    public int RemoveFolder(string folder)
    {
        var prefix = folder.TrimEnd('/') + "/";
        return _entries.RemoveAll(e => e.Name.StartsWith(prefix, StringComparison.Ordinal));
    }

    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, bytes) in _entries)
            {
                using var entry = archive.CreateEntry(name, CompressionLevel.Optimal).Open();
                entry.Write(bytes);
            }
        return stream.ToArray();
    }

    /// <summary>Loads the zip with ML.NET's public API: the in-memory model ML.NET itself builds from these files.</summary>
    public ITransformer Load(MLContext ml, out DataViewSchema inputSchema)
    {
        var bytes = ToBytes();
        return ModelLoading.Load(ml, () => new MemoryStream(bytes, writable: false), out inputSchema);
    }
}
