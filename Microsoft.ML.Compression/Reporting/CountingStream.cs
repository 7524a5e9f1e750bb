namespace Microsoft.ML.Compression.Reporting;

/// <summary>
/// A stream that keeps nothing and measures how long the written file would be: the size of a saved model without
/// holding it in memory (a MemoryStream for a 63 MB network grows through buffers of twice that). Seekable like a
/// file, so that a zip writer goes back to fill in its headers as it does in a file, and the size is the file's.
/// </summary>
internal sealed class CountingStream : Stream
{
    private long _length;

    public override bool CanRead => false;
    public override bool CanSeek => true;
    public override bool CanWrite => true;
    public override long Length => _length;
    public override long Position { get; set; }

    public override void Write(byte[] buffer, int offset, int count) => Advance(count);
    public override void Write(ReadOnlySpan<byte> buffer) => Advance(buffer.Length);
    public override void WriteByte(byte value) => Advance(1);

    private void Advance(int count)
    {
        Position += count;
        _length = Math.Max(_length, Position);
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => Position + offset,
        _ => _length + offset,
    };

    public override void SetLength(long value) => _length = value;
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
