using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// One column holding the class values in the teacher's order: what <c>MapValueToKey(keyData: …)</c> is fitted on,
/// so that a per-class regression student numbers its classes exactly as the teacher does.
/// </summary>
internal sealed class ClassValuesView : IDataView
{
    private readonly object[] _values;

    public ClassValuesView(string column, DataViewType type, object[] values)
    {
        _values = values;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(column, type);
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => _values.Length;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this, columnsNeeded.Any());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ClassValuesView _parent;
        private readonly bool _active;
        private int _row = -1;

        public Cursor(ClassValuesView parent, bool active) { _parent = parent; _active = active; }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _row;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => _active;
        public override bool MoveNext() => ++_row < _parent._values.Length;
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_row, 0);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => (ref TValue v) => v = (TValue)_parent._values[_row];
    }
}
