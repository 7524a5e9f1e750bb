using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.Compression.Native;

/// <summary>
/// One <c>Model.key</c> stream of a saved ML.NET model: ML.NET's 256-byte <c>ModelHeader</c>, the model block, the
/// string table, the loader's assembly name and the tail signature. ML.NET promises to load this versioned format
/// in every later release; this class reads it and writes it back with a new model block, leaving everything else
/// (version, loader signature, strings) as ML.NET wrote it. The one place that knows the header's layout.
/// </summary>
internal sealed class ModelFile
{
    private const ulong Signature = 0x4C45444F4D004C4DUL;
    private const ulong TailSignature = 0x4D4C004D4F44454CUL;
    private const int HeaderSize = 0x100;

    // Offsets of the header's fields (ML.NET's ModelHeader, StructLayout Explicit).
    private const int FpModelAt = 0x10, CbModelAt = 0x18, FpStringTableAt = 0x20, CbStringTableAt = 0x28;
    private const int FpStringCharsAt = 0x30, CbStringCharsAt = 0x38, ModelVerWrittenAt = 0x48, ModelVerReadableAt = 0x4C;
    private const int LoaderSignatureAt = 0x50, FpTailAt = 0x80, FpLimAt = 0x88, FpAssemblyNameAt = 0x90;

    private readonly byte[] _bytes;

    private ModelFile(byte[] bytes, string loaderSignature, uint versionWritten, uint versionReadable, long modelStart, long modelLength, string[] strings)
    {
        _bytes = bytes;
        LoaderSignature = loaderSignature;
        VersionWritten = versionWritten;
        VersionReadable = versionReadable;
        _modelStart = modelStart;
        _modelLength = modelLength;
        Strings = strings;
    }

    private readonly long _modelStart, _modelLength;

    /// <summary>Which ML.NET class loads this stream, e.g. <c>FastTreeBinaryExec</c>, <c>Linear2CExec</c>.</summary>
    public string LoaderSignature { get; }
    public uint VersionWritten { get; }
    public uint VersionReadable { get; }
    /// <summary>The string table: model blocks refer to strings by their index here.</summary>
    public IReadOnlyList<string> Strings { get; }

    /// <summary>A copy of the model block, the part each ML.NET class writes itself.</summary>
    public byte[] ModelBlock => _bytes.AsSpan((int)_modelStart, (int)_modelLength).ToArray();

    /// <summary>Reads the stream's header, checking every offset against the stream's length (the bytes may be hostile).</summary>
    /// <returns>null when <paramref name="bytes"/> is not a model stream (another file of the zip).</returns>
    public static ModelFile? TryRead(byte[] bytes, string source)
    {
        if (bytes.Length < HeaderSize + 8 || BinaryPrimitives.ReadUInt64LittleEndian(bytes) != Signature) return null;
        long Long(int at) => BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at));
        long fpModel = Long(FpModelAt), cbModel = Long(CbModelAt), fpTail = Long(FpTailAt), fpLim = Long(FpLimAt);
        long fpTable = Long(FpStringTableAt), cbTable = Long(CbStringTableAt), fpChars = Long(FpStringCharsAt), cbChars = Long(CbStringCharsAt);
        bool Within(long start, long length) => start >= 0 && length >= 0 && start <= bytes.Length && length <= bytes.Length - start;
        if (fpModel != HeaderSize || !Within(fpModel, cbModel) || fpLim != bytes.Length || fpTail != fpLim - 8 || !Within(fpTail, 8)
            || BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)fpTail)) != TailSignature
            || (cbTable != 0 && (!Within(fpTable, cbTable) || !Within(fpChars, cbChars) || cbTable % 8 != 0 || cbChars % 2 != 0)))
            throw new InvalidModelException($"The ML.NET model stream {source} has a corrupt header. Save the model again with mlContext.Model.Save.");
        var signature = new StringBuilder();
        for (int i = 0; i < 24 && bytes[LoaderSignatureAt + i] != 0; i++) signature.Append((char)bytes[LoaderSignatureAt + i]);
        var strings = new List<string>();
        long previous = 0;
        for (long at = fpTable; at < fpTable + cbTable; at += 8)
        {
            long end = Long((int)at);
            if (end < previous || end > cbChars || end % 2 != 0)
                throw new InvalidModelException($"The string table of the ML.NET model stream {source} is corrupt. Save the model again with mlContext.Model.Save.");
            strings.Add(Encoding.Unicode.GetString(bytes, (int)(fpChars + previous), (int)(end - previous)));
            previous = end;
        }
        return new ModelFile(bytes, signature.ToString(), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(ModelVerWrittenAt)),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(ModelVerReadableAt)), fpModel, cbModel, strings.ToArray());
    }

    /// <summary>
    /// The same stream with <paramref name="modelBlock"/> in place of the model block: what follows it (strings,
    /// assembly name, tail) moves with it, and the header's offsets are moved to match.
    /// </summary>
    public byte[] WithModelBlock(byte[] modelBlock)
    {
        long delta = modelBlock.LongLength - _modelLength;
        long oldEnd = _modelStart + _modelLength;
        var result = new byte[_bytes.LongLength + delta];
        _bytes.AsSpan(0, (int)_modelStart).CopyTo(result);
        modelBlock.CopyTo(result.AsSpan((int)_modelStart));
        _bytes.AsSpan((int)oldEnd).CopyTo(result.AsSpan((int)(oldEnd + delta)));
        void Shift(int at, bool onlyIfSet)
        {
            long value = BinaryPrimitives.ReadInt64LittleEndian(result.AsSpan(at));
            if (onlyIfSet && value == 0) return;
            BinaryPrimitives.WriteInt64LittleEndian(result.AsSpan(at), value + delta);
        }
        BinaryPrimitives.WriteInt64LittleEndian(result.AsSpan(CbModelAt), modelBlock.LongLength);
        Shift(FpStringTableAt, onlyIfSet: true);
        Shift(FpStringCharsAt, onlyIfSet: true);
        Shift(FpAssemblyNameAt, onlyIfSet: true);
        Shift(FpTailAt, onlyIfSet: false);
        Shift(FpLimAt, onlyIfSet: false);
        return result;
    }
}
