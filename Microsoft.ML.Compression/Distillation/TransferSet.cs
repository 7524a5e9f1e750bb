using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// The data a student learns from: every column of the training data, with the label column replaced by the
/// teacher's targets. Classification rows are expanded into one row per class (weighted by the target
/// probability) or into copies in proportion to it; the source rows are streamed, only the plan is kept.
/// </summary>
internal sealed class TransferSet : IDataView
{
    private readonly IDataView _source;
    private readonly int _labelIndex;          // index in this schema
    private readonly int _weightIndex;         // -1 when no weight column
    private readonly int[] _sourceIndex;       // this schema's column → source column (-1: made here)
    private readonly object[] _classValues;    // classification: raw label value of each class
    private readonly int[] _rowStart;          // entries of source row i: [_rowStart[i], _rowStart[i+1])
    private readonly int[] _entryClass;
    private readonly float[] _entryValue;      // weight (classification) or target (regression)
    private readonly bool _isRegression;

    public TransferSet(IDataView source, string labelColumn, DataViewType labelType, object[] classValues, bool isRegression,
        string? weightColumn, int[] rowStart, int[] entryClass, float[] entryValue, DataViewSchema.Annotations? labelAnnotations = null)
    {
        _source = source;
        _classValues = classValues;
        _isRegression = isRegression;
        _rowStart = rowStart;
        _entryClass = entryClass;
        _entryValue = entryValue;
        var builder = new DataViewSchema.Builder();
        var map = new List<int>();
        _labelIndex = -1;
        _weightIndex = -1;
        foreach (var col in source.Schema.Where(c => !c.IsHidden))
        {
            if (col.Name == labelColumn) { _labelIndex = map.Count; builder.AddColumn(col.Name, labelType, labelAnnotations); map.Add(-1); continue; }
            if (col.Name == weightColumn) { _weightIndex = map.Count; builder.AddColumn(col.Name, NumberDataViewType.Single); map.Add(col.Index); continue; }
            builder.AddColumn(col.Name, col.Type, col.Annotations);
            map.Add(col.Index);
        }
        if (_labelIndex < 0) { _labelIndex = map.Count; builder.AddColumn(labelColumn, labelType, labelAnnotations); map.Add(-1); }
        if (weightColumn != null && _weightIndex < 0) { _weightIndex = map.Count; builder.AddColumn(weightColumn, NumberDataViewType.Single); map.Add(-1); }
        _sourceIndex = map.ToArray();
        Schema = builder.ToSchema();
    }

    /// <summary>Row starts for one entry per source row, none for the rows not kept (rows the teacher could not score).</summary>
    public static int[] OneEntryPerRow(IReadOnlyList<bool> kept)
    {
        var rowStart = new int[kept.Count + 1];
        for (int i = 0; i < kept.Count; i++) rowStart[i + 1] = rowStart[i] + (kept[i] ? 1 : 0);
        return rowStart;
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => _rowStart[^1];

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly TransferSet _parent;
        private readonly HashSet<int> _active;
        private readonly DataViewRowCursor _source;
        private long _sourceRow = -1;
        private int _entry = -1;
        private long _position = -1;

        public Cursor(TransferSet parent, HashSet<int> active)
        {
            _parent = parent;
            _active = active;
            // The weight column, when it exists in the source, scales the soft-target weight.
            var needed = active.Append(parent._weightIndex).Where(i => i >= 0 && parent._sourceIndex[i] >= 0)
                .Select(i => parent._source.Schema[parent._sourceIndex[i]]);
            _source = parent._source.GetRowCursor(needed);
        }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (_sourceRow >= 0 && _entry + 1 < _parent._rowStart[_sourceRow + 1])
            {
                _entry++;
                _position++;
                return true;
            }
            while (_source.MoveNext())
            {
                _sourceRow++;
                if (_sourceRow + 1 >= _parent._rowStart.Length)
                    throw new InvalidOperationException("The training data yielded more rows than when the teacher scored it; it must not change between reads.");
                int start = _parent._rowStart[_sourceRow], end = _parent._rowStart[_sourceRow + 1];
                if (start == end) continue;
                _entry = start;
                _position++;
                return true;
            }
            return false;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var p = _parent;
            if (column.Index == p._labelIndex)
            {
                if (p._isRegression)
                    return (ValueGetter<TValue>)(Delegate)new ValueGetter<float>((ref float v) => v = p._entryValue[_entry]);
                return (ref TValue v) => v = (TValue)p._classValues[p._entryClass[_entry]];
            }
            if (column.Index == p._weightIndex)
            {
                ValueGetter<float>? original = p._sourceIndex[column.Index] >= 0 ? _source.GetGetter<float>(p._source.Schema[p._sourceIndex[column.Index]]) : null;
                return (ValueGetter<TValue>)(Delegate)new ValueGetter<float>((ref float v) =>
                {
                    float w = 1f;
                    original?.Invoke(ref w);
                    v = w * p._entryValue[_entry];
                });
            }
            return _source.GetGetter<TValue>(p._source.Schema[p._sourceIndex[column.Index]]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _source.Dispose();
            base.Dispose(disposing);
        }
    }
}
