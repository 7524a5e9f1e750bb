using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// The data view OnnxTransformer would return (same schema), computed a batch of rows at a time by
/// <see cref="BatchScorer"/>. A leading cursor reads the graph's input columns a batch ahead; when columns passed
/// through are wanted too, a second cursor over the same input, kept on the current row, serves them (so nothing
/// but the model inputs and row ids is buffered, and a pass-through column is computed only when someone reads it).
/// </summary>
internal sealed class BatchScoredDataView : IDataView
{
    private readonly IDataView _input;
    private readonly BatchScorer _scorer;
    private readonly int[] _outputColumns;

    /// <param name="input">What OnnxTransformer would read.</param>
    /// <param name="schema">OnnxTransformer's output schema for <paramref name="input"/>: the input columns, then the outputs.</param>
    /// <param name="scorer">Runs the ONNX model on a batch of rows.</param>
    /// <param name="outputs">The model outputs served, in the order they follow the input columns in <paramref name="schema"/>.</param>
    public BatchScoredDataView(IDataView input, DataViewSchema schema, BatchScorer scorer, IReadOnlyList<string> outputs)
    {
        _input = input;
        Schema = schema;
        _scorer = scorer;
        _outputColumns = outputs.Select(o => schema[o].Index).ToArray();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        bool scoring = _outputColumns.Any(needed.Contains);
        var passThrough = needed.Where(i => i < _input.Schema.Count).Select(i => _input.Schema[i]).ToList();
        if (!scoring) return new Cursor(this, _input.GetRowCursor(passThrough), null, needed);
        var lead = _input.GetRowCursor(_scorer.InputNames.Select(n => _input.Schema[n]));
        // Only predictions wanted (the common case: evaluation, GetColumn of Score): the leading cursor is the only one.
        return new Cursor(this, passThrough.Count > 0 ? _input.GetRowCursor(passThrough) : null, lead, needed);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchScoredDataView _parent;
        private readonly DataViewRowCursor? _current;
        private readonly DataViewRowCursor? _lead;
        private readonly ValueGetter<DataViewRowId>? _leadId;
        private DataViewRowId[] _ids = Array.Empty<DataViewRowId>();
        private long _position = -1;
        private readonly HashSet<int> _active;
        private readonly Delegate[] _readers;
        private Array[] _outputs = Array.Empty<Array>();
        private int _rowsInBatch, _rowInBatch = -1;

        /// <param name="parent">The view this cursor reads.</param>
        /// <param name="current">Serves the passed-through columns on the current row; null when none is wanted.</param>
        /// <param name="lead">Reads the model inputs a batch ahead; null when no prediction is wanted.</param>
        /// <param name="active">Indices of the columns asked for.</param>
        public Cursor(BatchScoredDataView parent, DataViewRowCursor? current, DataViewRowCursor? lead, HashSet<int> active)
        {
            _parent = parent;
            _current = current;
            _lead = lead;
            _leadId = current == null ? lead!.GetIdGetter() : null;
            _active = active;
            _readers = lead == null ? Array.Empty<Delegate>()
                : parent._scorer.InputNames.Select(n => Reader(lead, lead.Schema[n])).ToArray();
        }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _current?.Position ?? _position;
        public override long Batch => _current?.Batch ?? 0;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _current != null ? _current.GetIdGetter()
            : (ref DataViewRowId id) => id = _ids[_rowInBatch];
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (_current != null && !_current.MoveNext()) return false;
            if (_lead != null && ++_rowInBatch >= _rowsInBatch && !ScoreNextBatch()) return false;
            _position++;
            return true;
        }

        /// <summary>Reads up to BatchRows rows of the model inputs ahead and scores them in one call; false at the end.</summary>
        private bool ScoreNextBatch()
        {
            var scorer = _parent._scorer;
            int capacity = scorer.BatchRows;
            var buffers = _readers.Select((_, i) => scorer.NewInputBuffer(i, capacity)).ToArray();
            if (_leadId != null && _ids.Length != capacity) _ids = new DataViewRowId[capacity];
            int rows = 0;
            while (rows < capacity && _lead!.MoveNext())
            {
                for (int i = 0; i < _readers.Length; i++) Read(_readers[i], buffers[i], rows * scorer.InputRowSize(i));
                _leadId?.Invoke(ref _ids[rows]);
                rows++;
            }
            if (rows == 0)
            {
                if (_current == null) return false;
                throw new InvalidOperationException("The model inputs ran out before the rows they belong to.");
            }
            if (rows < capacity)
                for (int i = 0; i < buffers.Length; i++)
                {
                    var trimmed = Array.CreateInstance(buffers[i].GetType().GetElementType()!, rows * scorer.InputRowSize(i));
                    Array.Copy(buffers[i], trimmed, trimmed.Length);
                    buffers[i] = trimmed;
                }
            _outputs = scorer.Run(buffers, rows);
            _rowsInBatch = rows;
            _rowInBatch = 0;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active.Contains(column.Index)) throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            if (column.Index < _parent._input.Schema.Count) return _current!.GetGetter<TValue>(_current.Schema[column.Index]);
            int output = Array.IndexOf(_parent._outputColumns, column.Index);
            var getter = (Delegate)typeof(Cursor).GetMethod(nameof(OutputGetter), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
                .MakeGenericMethod(((VectorDataViewType)column.Type).ItemType.RawType).Invoke(this, new object[] { output, _parent._scorer.OutputRowSize(output) })!;
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }

        private ValueGetter<VBuffer<T>> OutputGetter<T>(int output, int size) => (ref VBuffer<T> value) =>
        {
            var all = (T[])_outputs[output];
            var editor = VBufferEditor.Create(ref value, size);
            all.AsSpan(_rowInBatch * size, size).CopyTo(editor.Values);
            value = editor.Commit();
        };

        /// <summary>A typed reader of one input column into a flat batch buffer (vector or scalar columns).</summary>
        private static Delegate Reader(DataViewRowCursor cursor, DataViewSchema.Column column)
        {
            var type = column.Type is VectorDataViewType v ? v.ItemType.RawType : column.Type.RawType;
            var method = typeof(Cursor).GetMethod(column.Type is VectorDataViewType ? nameof(VectorReader) : nameof(ScalarReader),
                System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.MakeGenericMethod(type);
            return (Delegate)method.Invoke(null, new object[] { cursor, column })!;
        }

        private static Action<Array, int> VectorReader<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
        {
            var getter = cursor.GetGetter<VBuffer<T>>(column);
            VBuffer<T> value = default;
            return (buffer, offset) =>
            {
                getter(ref value);
                value.CopyTo(((T[])buffer).AsSpan(offset, value.Length));
            };
        }

        private static Action<Array, int> ScalarReader<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
        {
            var getter = cursor.GetGetter<T>(column);
            T value = default!;
            return (buffer, offset) =>
            {
                getter(ref value);
                ((T[])buffer)[offset] = value;
            };
        }

        private static void Read(Delegate reader, Array buffer, int offset) => ((Action<Array, int>)reader)(buffer, offset);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _current?.Dispose();
                _lead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
