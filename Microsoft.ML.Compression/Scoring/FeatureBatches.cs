using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Streams vector columns of a data view, densified, a batch of rows at a time, so that running a network over
/// calibration data holds one batch of inputs, never the whole set (a 224×224 image is 600 KB of floats). Each
/// column keeps its own item type (float features, int64 token ids and attention masks, …): the blocks are arrays
/// of that type, ready to hand to ONNX Runtime.
/// </summary>
internal sealed class FeatureBatches : IDisposable
{
    private readonly DataViewRowCursor _cursor;
    private readonly IColumn[] _columns;
    private bool _ended;
    private readonly bool _skipNonFinite;

    /// <summary>Rows passed over because a value was NaN or infinite (only when asked to skip them).</summary>
    public long Skipped { get; private set; }

    /// <summary>Width of each column's rows: the vector size, or the first row's length for variable-size vectors.</summary>
    public int[] Widths { get; }

    /// <summary>The .NET item type of each column (float, long, int, …).</summary>
    public Type[] ItemTypes { get; }

    /// <param name="data">The rows.</param>
    /// <param name="columns">Numeric vector (or scalar) columns to read.</param>
    /// <param name="skipNonFinite">Pass over rows with a NaN or infinite float value in any column, counting them in <see cref="Skipped"/>.</param>
    public FeatureBatches(IDataView data, IReadOnlyList<string> columns, bool skipNonFinite = false)
    {
        _skipNonFinite = skipNonFinite;
        var cols = columns.Select(name => data.Schema.GetColumnOrNull(name)
            ?? throw new DataMismatchException($"The data has no column '{name}'. Give data with the columns the model was trained on.", name)).ToArray();
        ItemTypes = cols.Select(ItemType).ToArray();
        _cursor = data.GetRowCursor(cols);
        _columns = cols.Select((c, i) => Reader(c, ItemTypes[i])).ToArray();
        Widths = cols.Select(c => c.Type is VectorDataViewType { Size: > 0 } v ? v.Size : c.Type is VectorDataViewType ? 0 : 1).ToArray();
    }

    /// <summary>The item type of a scalar or vector column; a column of another kind (text, keys, images) is refused.</summary>
    private static Type ItemType(DataViewSchema.Column column)
    {
        var item = column.Type is VectorDataViewType v ? v.ItemType : column.Type;
        var raw = item.RawType;
        if (item is NumberDataViewType || raw == typeof(bool)) return raw;
        throw new DataMismatchException(
            $"The column '{column.Name}' holds {item}; a graph input is fed from a numeric vector column (float features, Int64 token ids and masks). Convert it first (e.g. ml.Transforms.Conversion.ConvertType).", column.Name);
    }

    private IColumn Reader(DataViewSchema.Column column, Type itemType) =>
        itemType == typeof(float) ? new Column<float>(_cursor, column)
        : itemType == typeof(double) ? new Column<double>(_cursor, column)
        : itemType == typeof(long) ? new Column<long>(_cursor, column)
        : itemType == typeof(int) ? new Column<int>(_cursor, column)
        : itemType == typeof(uint) ? new Column<uint>(_cursor, column)
        : itemType == typeof(ulong) ? new Column<ulong>(_cursor, column)
        : itemType == typeof(bool) ? new Column<bool>(_cursor, column)
        : itemType == typeof(short) ? new Column<short>(_cursor, column)
        : itemType == typeof(ushort) ? new Column<ushort>(_cursor, column)
        : itemType == typeof(sbyte) ? new Column<sbyte>(_cursor, column)
        : itemType == typeof(byte) ? new Column<byte>(_cursor, column)
        : throw new DataMismatchException($"The column '{column.Name}' holds {itemType.Name} values, which no ONNX input takes here.", column.Name);

    /// <summary>
    /// Reads up to <paramref name="count"/> rows into one row-major block per column; returns how many were read
    /// (0 at the end of the data). Each block is an array of its column's item type, at least
    /// <c>read × Widths[c]</c> long (longer when an earlier batch was bigger). The blocks are reused by the next
    /// call: use them before reading again.
    /// </summary>
    public int Read(int count, out Array[] batch)
    {
        int read = 0;
        while (read < count && !_ended)
        {
            if (!_cursor.MoveNext()) { _ended = true; break; }
            for (int c = 0; c < _columns.Length; c++)
                Widths[c] = _columns[c].ReadRow(read, count, Widths[c]);
            // The row's slot is reused by the next row when it is skipped.
            if (_skipNonFinite && !RowIsFinite(read)) { Skipped++; continue; }
            read++;
        }
        batch = _columns.Select(c => c.Block).ToArray();
        return read;
    }

    private bool RowIsFinite(int row)
    {
        for (int c = 0; c < _columns.Length; c++)
            if (!_columns[c].IsFinite(row, Widths[c])) return false;
        return true;
    }

    public void Dispose() => _cursor.Dispose();

    private interface IColumn
    {
        string Name { get; }
        Array Block { get; }
        /// <summary>Copies the current row into row <paramref name="row"/> of the block; returns the (checked) width.</summary>
        int ReadRow(int row, int rows, int width);
        /// <summary>Whether row <paramref name="row"/> of the block holds no NaN or infinite value (always, for integer columns).</summary>
        bool IsFinite(int row, int width);
    }

    private sealed class Column<T> : IColumn
    {
        private readonly ValueGetter<VBuffer<T>>? _vector;
        private readonly ValueGetter<T>? _scalar;
        private VBuffer<T> _buffer;
        private T[] _block = Array.Empty<T>();

        public Column(DataViewRowCursor cursor, DataViewSchema.Column column)
        {
            Name = column.Name;
            if (column.Type is VectorDataViewType) _vector = cursor.GetGetter<VBuffer<T>>(column);
            else _scalar = cursor.GetGetter<T>(column);
        }

        public string Name { get; }
        public Array Block => _block;

        public int ReadRow(int row, int rows, int width)
        {
            if (_scalar != null)
            {
                T value = default!;
                _scalar(ref value);
                Grow(rows, 1);
                _block[row] = value;
                return 1;
            }
            _vector!(ref _buffer);
            if (width == 0) width = _buffer.Length;
            if (_buffer.Length != width)
                throw new DataMismatchException($"The rows of column '{Name}' have different lengths ({width} and {_buffer.Length}); give a fixed-size vector column (pad token ids to one length).", Name);
            Grow(rows, width);
            _buffer.CopyTo(_block.AsSpan(row * width, width));
            return width;
        }

        public bool IsFinite(int row, int width) => _block switch
        {
            float[] f => FeatureSample.AllFinite(f.AsSpan(row * width, width)),
            double[] d => d.AsSpan(row * width, width).ToArray().All(double.IsFinite),
            _ => true,
        };

        // Sized for the largest batch asked so far, and kept: a batch of images is megabytes, and fresh arrays for
        // every batch would only feed the large-object heap.
        private void Grow(int rows, int width)
        {
            if (_block.Length < rows * width) Array.Resize(ref _block, rows * width);
        }
    }
}
