using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>The source rows with an added Single column that is 1 everywhere (the labels-only baseline's example weight).</summary>
internal sealed class UnitWeightView : IDataView
{
    private readonly IDataView _source;
    private readonly int _weightIndex;

    public UnitWeightView(IDataView source, string weightColumn)
    {
        _source = source;
        var builder = new DataViewSchema.Builder();
        foreach (var col in source.Schema) builder.AddColumn(col.Name, col.Type, col.Annotations);
        _weightIndex = source.Schema.Count;
        builder.AddColumn(weightColumn, NumberDataViewType.Single);
        Schema = builder.ToSchema();
    }

    // Rows map one to one onto the source's, so a shuffled read is the source's shuffled read (online trainers such as
    // SDCA or the perceptron shuffle their data; a view that refused would leave them the file's order).
    public bool CanShuffle => _source.CanShuffle;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => _source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet(), rand);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly UnitWeightView _parent;
        private readonly HashSet<int> _active;
        private readonly DataViewRowCursor _source;

        public Cursor(UnitWeightView parent, HashSet<int> active, Random? rand)
        {
            _parent = parent;
            _active = active;
            _source = parent._source.GetRowCursor(active.Where(i => i != parent._weightIndex).Select(i => parent._source.Schema[i]), rand);
        }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _source.Position;
        public override long Batch => _source.Batch;
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);
        public override bool MoveNext() => _source.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => _source.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index == _parent._weightIndex)
                return (ValueGetter<TValue>)(Delegate)new ValueGetter<float>((ref float v) => v = 1f);
            return _source.GetGetter<TValue>(_parent._source.Schema[column.Index]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _source.Dispose();
            base.Dispose(disposing);
        }
    }
}
