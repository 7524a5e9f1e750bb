using System.Reflection;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// The row mapper OnnxTransformer would give (same input and output schema: the input columns, then the graph's
/// outputs), scoring each row with a <see cref="SingleRowScorer"/>. A row is scored once per input position, when
/// the first of its outputs is read, however many outputs and readers there are (the output-column mappers that
/// follow read the same vector for Score, Probability and PredictedLabel).
/// </summary>
internal sealed class SingleRowOnnxMapper : IRowToRowMapper
{
    private readonly BatchScorer _scorer;
    private readonly int[] _graphInputs;
    private readonly int[] _outputColumns;

    /// <param name="inputSchema">What OnnxTransformer would read.</param>
    /// <param name="outputSchema">OnnxTransformer's output schema for <paramref name="inputSchema"/>: the input columns, then the outputs.</param>
    /// <param name="scorer">The model's scorer: its session, shared; each row gets its own buffers from it.</param>
    /// <param name="outputs">The graph outputs, in the order <paramref name="scorer"/> produces them.</param>
    public SingleRowOnnxMapper(DataViewSchema inputSchema, DataViewSchema outputSchema, BatchScorer scorer, IReadOnlyList<string> outputs)
    {
        InputSchema = inputSchema;
        OutputSchema = outputSchema;
        _scorer = scorer;
        _graphInputs = scorer.InputNames.Select(n => inputSchema[n].Index).ToArray();
        _outputColumns = outputs.Select(o => outputSchema[o].Index).ToArray();
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = new SortedSet<int>();
        foreach (var column in dependingColumns)
        {
            if (column.Index < InputSchema.Count) needed.Add(column.Index);
            else if (_outputColumns.Contains(column.Index)) needed.UnionWith(_graphInputs);
        }
        return needed.Select(i => InputSchema[i]).ToArray();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        if (input.Schema != InputSchema) throw new ArgumentException("The row's schema is not the schema this mapper was made for.", nameof(input));
        var active = new bool[OutputSchema.Count];
        foreach (var column in activeColumns) active[column.Index] = true;
        return new Row(this, input, active);
    }

    private sealed class Row : DataViewRow
    {
        private readonly SingleRowOnnxMapper _parent;
        private readonly DataViewRow _input;
        private readonly bool[] _active;
        // Made only when a prediction column is active: a row that only passes columns through scores nothing.
        private readonly SingleRowScorer? _scorer;
        private readonly Action[] _readers = Array.Empty<Action>();
        private long _scoredPosition = -1;
        private bool _scored;

        public Row(SingleRowOnnxMapper parent, DataViewRow input, bool[] active)
        {
            _parent = parent;
            _input = input;
            _active = active;
            if (!parent._outputColumns.Any(i => active[i])) return;
            _scorer = parent._scorer.NewRowScorer();
            try
            {
                _readers = parent._graphInputs.Select((column, k) => Reader(input, input.Schema[column], _scorer.Inputs[k])).ToArray();
            }
            catch
            {
                _scorer.Dispose();
                throw;
            }
        }

        public override DataViewSchema Schema => _parent.OutputSchema;
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active[column.Index]) throw new InvalidOperationException($"Column '{column.Name}' was not requested from this row.");
            if (column.Index < _input.Schema.Count) return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            int output = Array.IndexOf(_parent._outputColumns, column.Index);
            var vector = (VectorDataViewType)column.Type;
            var getter = (Delegate)typeof(Row).GetMethod(nameof(OutputGetter), BindingFlags.NonPublic | BindingFlags.Instance)!
                .MakeGenericMethod(vector.ItemType.RawType).Invoke(this, new object[] { output })!;
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }

        private ValueGetter<VBuffer<T>> OutputGetter<T>(int output) => (ref VBuffer<T> value) =>
        {
            Score();
            var row = (T[])_scorer!.Outputs[output];
            var editor = VBufferEditor.Create(ref value, row.Length);
            row.AsSpan().CopyTo(editor.Values);
            value = editor.Commit();
        };

        /// <summary>Scores the input's current row unless it was scored already.</summary>
        private void Score()
        {
            long position = _input.Position;
            if (_scored && position == _scoredPosition) return;
            foreach (var read in _readers) read();
            _scored = false; // a failed run leaves no stale outputs behind
            _scorer!.Run();
            _scoredPosition = position;
            _scored = true;
        }

        /// <summary>Copies one input column of the current row into its buffer (vector or scalar column).</summary>
        private static Action Reader(DataViewRow input, DataViewSchema.Column column, Array buffer)
        {
            var type = column.Type is VectorDataViewType v ? v.ItemType.RawType : column.Type.RawType;
            var method = typeof(Row).GetMethod(column.Type is VectorDataViewType ? nameof(VectorReader) : nameof(ScalarReader),
                BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(type);
            return (Action)method.Invoke(null, new object[] { input, column, buffer })!;
        }

        private static Action VectorReader<T>(DataViewRow input, DataViewSchema.Column column, Array buffer)
        {
            var getter = input.GetGetter<VBuffer<T>>(column);
            var target = (T[])buffer;
            VBuffer<T> value = default;
            return () =>
            {
                getter(ref value);
                if (value.Length != target.Length)
                    throw new InvalidOperationException($"Column '{column.Name}' has {value.Length} values in this row; the ONNX graph takes {target.Length}.");
                value.CopyTo(target);
            };
        }

        private static Action ScalarReader<T>(DataViewRow input, DataViewSchema.Column column, Array buffer)
        {
            var getter = input.GetGetter<T>(column);
            var target = (T[])buffer;
            T value = default!;
            return () =>
            {
                getter(ref value);
                target[0] = value;
            };
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _scorer?.Dispose();
                _input.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
