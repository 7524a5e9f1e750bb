namespace Microsoft.ML.Compression.Native;

/// <summary>
/// Reads a model block the way ML.NET's BinaryReader extensions do (little-endian, arrays prefixed by their length),
/// refusing counts larger than the bytes left so that a corrupt block cannot make it allocate gigabytes.
/// </summary>
internal sealed class ModelBlockReader
{
    private readonly BinaryReader _reader;
    private readonly long _length;
    private readonly string _source;

    public ModelBlockReader(byte[] block, string source)
    {
        _reader = new BinaryReader(new MemoryStream(block, writable: false));
        _length = block.LongLength;
        _source = source;
    }

    public long Position => _reader.BaseStream.Position;
    public long Remaining => _length - Position;

    private InvalidModelException Corrupt(string what)
        => new($"The ML.NET model block {_source} is corrupt ({what} at byte {Position}). Save the model again with mlContext.Model.Save.");

    private void Need(long bytes, string what)
    {
        if (bytes < 0 || bytes > Remaining) throw Corrupt(what);
    }

    public byte Byte() { Need(1, "a byte"); return _reader.ReadByte(); }
    public int Int() { Need(4, "an int"); return _reader.ReadInt32(); }
    public float Float() { Need(4, "a float"); return _reader.ReadSingle(); }
    public double Double() { Need(8, "a double"); return _reader.ReadDouble(); }

    private int Count(int size, string what)
    {
        int n = Int();
        Need((long)n * size, what);
        return n;
    }

    public int[] Ints(int? count = null)
    {
        int n = count ?? Count(4, "an int array");
        if (count != null) Need((long)n * 4, "an int array");
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = _reader.ReadInt32();
        return a;
    }

    public uint[] UInts()
    {
        int n = Count(4, "a uint array");
        var a = new uint[n];
        for (int i = 0; i < n; i++) a[i] = _reader.ReadUInt32();
        return a;
    }

    public float[] Floats(int? count = null)
    {
        int n = count ?? Count(4, "a float array");
        if (count != null) Need((long)n * 4, "a float array");
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = _reader.ReadSingle();
        return a;
    }

    public double[] Doubles()
    {
        int n = Count(8, "a double array");
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = _reader.ReadDouble();
        return a;
    }

    /// <summary>The bytes left, kept verbatim (what a class writes after the part this library edits).</summary>
    public byte[] Rest() => _reader.ReadBytes((int)Remaining);

    public void Expect(bool condition, string what)
    {
        if (!condition) throw Corrupt(what);
    }
}

/// <summary>Writes a model block the way ML.NET's BinaryWriter extensions do.</summary>
internal sealed class ModelBlockWriter
{
    private readonly MemoryStream _stream = new();
    private readonly BinaryWriter _writer;
    public ModelBlockWriter() => _writer = new BinaryWriter(_stream);

    public void Byte(byte v) => _writer.Write(v);
    public void Int(int v) => _writer.Write(v);
    public void Float(float v) => _writer.Write(v);
    public void Double(double v) => _writer.Write(v);
    public void Ints(IReadOnlyList<int> a, bool count = true) { if (count) Int(a.Count); foreach (var v in a) _writer.Write(v); }
    public void UInts(IReadOnlyList<uint> a) { Int(a.Count); foreach (var v in a) _writer.Write(v); }
    public void Floats(IReadOnlyList<float> a, bool count = true) { if (count) Int(a.Count); foreach (var v in a) _writer.Write(v); }
    public void Doubles(IReadOnlyList<double> a) { Int(a.Count); foreach (var v in a) _writer.Write(v); }
    public void Bytes(byte[] b) => _writer.Write(b);

    public byte[] ToArray() { _writer.Flush(); return _stream.ToArray(); }
}
