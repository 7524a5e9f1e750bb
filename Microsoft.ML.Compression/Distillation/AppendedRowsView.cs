using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// The training rows followed by <see cref="DistillationOptions.UnlabeledData"/>: one transfer set for the teacher
/// to label, with the training data's columns. The unlabeled rows need not have the label column (nor the
/// trainer's weight column): the label reads as the type's default there even when they have one (weight: 1 when
/// missing), and the targets of those rows come from the teacher alone, whatever <see cref="DistillationOptions.Alpha"/> is. ML.NET keeps its own row-appending
/// view internal, hence this one. Streams both sources; keeps nothing.
/// </summary>
internal sealed class AppendedRowsView : IDataView
{
    private readonly IDataView _labelled;
    private readonly IDataView _unlabeled;
    private readonly int[] _labelledIndex;   // this schema's column → the labelled data's column
    private readonly int[] _unlabeledIndex;  // this schema's column → the unlabeled data's column, -1: read as default
    private readonly int _weightIndex;       // this schema's weight column (1 on unlabeled rows), or -1

    private AppendedRowsView(IDataView labelled, IDataView unlabeled, int[] labelledIndex, int[] unlabeledIndex, int weightIndex, DataViewSchema schema)
    {
        _labelled = labelled;
        _unlabeled = unlabeled;
        _labelledIndex = labelledIndex;
        _unlabeledIndex = unlabeledIndex;
        _weightIndex = weightIndex;
        Schema = schema;
    }

    /// <summary>
    /// Appends <paramref name="unlabeled"/> to <paramref name="labelled"/>; every column of the labelled data but the
    /// label and weight columns must be in the unlabeled data with the same type (checked here, before any training).
    /// </summary>
    public static AppendedRowsView Create(IDataView labelled, IDataView unlabeled, string labelColumn, string? weightColumn)
    {
        var builder = new DataViewSchema.Builder();
        var labelledIndex = new List<int>();
        var unlabeledIndex = new List<int>();
        int weightIndex = -1;
        foreach (var col in labelled.Schema.Where(c => !c.IsHidden))
        {
            // The unlabeled rows' label, if they have one, is not read: those rows learn the teacher alone.
            var other = col.Name == labelColumn ? null : unlabeled.Schema.GetColumnOrNull(col.Name);
            bool optional = col.Name == labelColumn || col.Name == weightColumn;
            if (other == null && !optional)
                throw new DataMismatchException(
                    $"DistillationOptions.UnlabeledData has no column '{col.Name}', which the training data has. The unlabeled rows need the training data's columns " +
                    $"(all but '{labelColumn}'): load them the same way, or select the same columns (ml.Transforms.SelectColumns).", col.Name);
            if (other != null && !other.Value.Type.Equals(col.Type))
                throw new DataMismatchException(
                    $"Column '{col.Name}' is {other.Value.Type} in DistillationOptions.UnlabeledData but {col.Type} in the training data; load both the same way.", col.Name);
            if (col.Name == weightColumn) weightIndex = labelledIndex.Count;
            builder.AddColumn(col.Name, col.Type, col.Annotations);
            labelledIndex.Add(col.Index);
            unlabeledIndex.Add(other == null || other.Value.IsHidden ? -1 : other.Value.Index);
        }
        return new AppendedRowsView(labelled, unlabeled, labelledIndex.ToArray(), unlabeledIndex.ToArray(), weightIndex, builder.ToSchema());
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _labelled.GetRowCount() is long a && _unlabeled.GetRowCount() is long b ? a + b : null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly AppendedRowsView _parent;
        private readonly HashSet<int> _active;
        private readonly DataViewRowCursor _labelled;
        private readonly DataViewRowCursor _unlabeled;
        private bool _inUnlabeled;
        private long _position = -1;

        public Cursor(AppendedRowsView parent, HashSet<int> active)
        {
            _parent = parent;
            _active = active;
            _labelled = parent._labelled.GetRowCursor(active.Select(i => parent._labelled.Schema[parent._labelledIndex[i]]));
            _unlabeled = parent._unlabeled.GetRowCursor(active.Where(i => parent._unlabeledIndex[i] >= 0).Select(i => parent._unlabeled.Schema[parent._unlabeledIndex[i]]));
        }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (!_inUnlabeled && _labelled.MoveNext()) { _position++; return true; }
            _inUnlabeled = true;
            if (_unlabeled.MoveNext()) { _position++; return true; }
            return false;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var p = _parent;
            var fromLabelled = _labelled.GetGetter<TValue>(p._labelled.Schema[p._labelledIndex[column.Index]]);
            int other = p._unlabeledIndex[column.Index];
            ValueGetter<TValue> fromUnlabeled = other >= 0
                ? _unlabeled.GetGetter<TValue>(p._unlabeled.Schema[other])
                : column.Index == p._weightIndex
                    ? (ValueGetter<TValue>)(Delegate)new ValueGetter<float>((ref float w) => w = 1f)
                    : (ref TValue v) => v = default!;
            return (ref TValue v) =>
            {
                if (_inUnlabeled) fromUnlabeled(ref v); else fromLabelled(ref v);
            };
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _labelled.Dispose();
                _unlabeled.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
