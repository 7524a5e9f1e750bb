using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>A data view with a schema and no rows: transformers are fitted on it only to propagate schemas.</summary>
internal sealed class EmptyDataView : IDataView
{
    public EmptyDataView(DataViewSchema schema) => Schema = schema;

    public DataViewSchema Schema { get; }
    public bool CanShuffle => false;
    public long? GetRowCount() => 0;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => throw new NotSupportedException("This view only carries a schema; nothing reads its rows.");

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => throw new NotSupportedException("This view only carries a schema; nothing reads its rows.");
}
