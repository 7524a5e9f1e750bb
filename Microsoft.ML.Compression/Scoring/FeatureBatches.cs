using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Streams float vector columns of a data view, densified, a batch of rows at a time, so that running a network
/// over calibration data holds one batch of inputs, never the whole set (a 224×224 image is 600 KB of floats).
/// </summary>
internal sealed class FeatureBatches : IDisposable
{
    private readonly DataViewRowCursor _cursor;
    private readonly ValueGetter<VBuffer<float>>[] _getters;
    private readonly string[] _columns;
    private readonly float[][] _blocks;
    private VBuffer<float> _buffer;
    private bool _ended;
    private readonly bool _skipNonFinite;

    /// <summary>Rows passed over because a value was NaN or infinite (only when asked to skip them).</summary>
    public long Skipped { get; private set; }

    /// <summary>Width of each column's rows: the vector size, or the first row's length for variable-size vectors.</summary>
    public int[] Widths { get; }

    /// <param name="data">The rows.</param>
    /// <param name="columns">Float vector columns to read.</param>
    /// <param name="skipNonFinite">Pass over rows with a NaN or infinite value in any column, counting them in <see cref="Skipped"/>.</param>
    public FeatureBatches(IDataView data, IReadOnlyList<string> columns, bool skipNonFinite = false)
    {
        _skipNonFinite = skipNonFinite;
        _columns = columns.ToArray();
        var cols = _columns.Select(name => data.Schema.GetColumnOrNull(name)
            ?? throw new DataMismatchException($"The data has no column '{name}'. Give data with the columns the model was trained on.", name)).ToArray();
        _cursor = data.GetRowCursor(cols);
        _getters = cols.Select(c => _cursor.GetGetter<VBuffer<float>>(c)).ToArray();
        _blocks = cols.Select(_ => Array.Empty<float>()).ToArray();
        Widths = cols.Select(c => c.Type is VectorDataViewType { Size: > 0 } v ? v.Size : 0).ToArray();
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> rows into one row-major block per column; returns how many were read
    /// (0 at the end of the data). The blocks are reused by the next call: use them before reading again.
    /// </summary>
    public int Read(int count, out Memory<float>[] batch)
    {
        int read = 0;
        while (read < count && !_ended)
        {
            if (!_cursor.MoveNext()) { _ended = true; break; }
            for (int c = 0; c < _columns.Length; c++)
            {
                _getters[c](ref _buffer);
                if (Widths[c] == 0) Widths[c] = _buffer.Length;
                if (_buffer.Length != Widths[c])
                    throw new DataMismatchException($"The rows of column '{_columns[c]}' have different lengths ({Widths[c]} and {_buffer.Length}); give a fixed-size vector column.", _columns[c]);
                // Sized for the largest batch asked so far, and kept: a batch of images is megabytes, and fresh
                // arrays for every batch would only feed the large-object heap.
                if (_blocks[c].Length < count * Widths[c]) _blocks[c] = new float[count * Widths[c]];
                _buffer.CopyTo(_blocks[c].AsSpan(read * Widths[c], Widths[c]));
            }
            // The row's slot is reused by the next row when it is skipped.
            if (_skipNonFinite && !IsFinite(read)) { Skipped++; continue; }
            read++;
        }
        batch = _blocks.Select((b, c) => new Memory<float>(b, 0, read * Widths[c])).ToArray();
        return read;
    }

    private bool IsFinite(int row)
    {
        for (int c = 0; c < _columns.Length; c++)
            if (!FeatureSample.AllFinite(_blocks[c].AsSpan(row * Widths[c], Widths[c]))) return false;
        return true;
    }

    public void Dispose() => _cursor.Dispose();
}
