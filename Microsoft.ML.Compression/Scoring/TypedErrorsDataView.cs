using System.Runtime.ExceptionServices;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// The scored data view of a <see cref="CompressedModel"/>, with the errors that show only when rows are read turned
/// into this library's typed errors. Why: ML.NET scores lazily, so a graph that refuses its rows (a declared input
/// shape that does not fit the column, an operator that fails at run time) throws from a cursor's MoveNext or a
/// getter, as ONNX Runtime's own exception or wrapped by ML.NET's parallel splitter in an InvalidOperationException,
/// both outside <see cref="CompressionException"/>. Values, schema, row counts and cursor sets are the source's.
/// </summary>
internal sealed class TypedErrorsDataView : IDataView
{
    private readonly IDataView _source;
    private readonly string _model;

    /// <param name="source">The scored view.</param>
    /// <param name="model">Names the model in messages, e.g. "The compressed model".</param>
    public TypedErrorsDataView(IDataView source, string model)
    {
        _source = source;
        _model = model;
    }

    public bool CanShuffle => _source.CanShuffle;

    public DataViewSchema Schema => _source.Schema;

    public long? GetRowCount() => _source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(Guard(() => _source.GetRowCursor(columnsNeeded, rand)), this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => Guard(() => _source.GetRowCursorSet(columnsNeeded, n, rand)).Select(c => (DataViewRowCursor)new Cursor(c, this)).ToArray();

    private T Guard<T>(Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (IsScoringFailure(e)) { throw Typed(e); }
    }

    /// <summary>Not the library's own errors, nor failures of the process, the caller's cancellation or a disposed model.</summary>
    private static bool IsScoringFailure(Exception e)
        => e is not (CompressionException or OutOfMemoryException or OperationCanceledException or ObjectDisposedException);

    private Exception Typed(Exception e)
    {
        // ML.NET's splitter wraps what a worker thread threw; a typed error (or a disposal) inside stays what it was.
        for (var inner = e.InnerException; inner != null; inner = inner.InnerException)
            if (inner is CompressionException or OperationCanceledException or ObjectDisposedException)
                ExceptionDispatchInfo.Throw(inner);
        return ScoringErrors.CannotScore(_model, e);
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor _source;
        private readonly TypedErrorsDataView _parent;

        public Cursor(DataViewRowCursor source, TypedErrorsDataView parent)
        {
            _source = source;
            _parent = parent;
        }

        public override DataViewSchema Schema => _source.Schema;
        public override long Position => _source.Position;
        public override long Batch => _source.Batch;
        public override bool IsColumnActive(DataViewSchema.Column column) => _source.IsColumnActive(column);
        public override ValueGetter<DataViewRowId> GetIdGetter() => _source.GetIdGetter();

        // Set once a scoring failure was thrown to the reader: ML.NET's splitter throws the same failure again when
        // its cursor is disposed, which (from the reader's `using`) would replace the typed error on its way out.
        private bool _failed;

        /// <summary>Notes that the reader gets an exception; true when it is one to type.</summary>
        private bool Failed(Exception e)
        {
            _failed = true;
            return IsScoringFailure(e);
        }

        public override bool MoveNext()
        {
            try { return _source.MoveNext(); }
            catch (Exception e) when (Failed(e)) { throw _parent.Typed(e); }
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var getter = _source.GetGetter<TValue>(column);
            return (ref TValue value) =>
            {
                try { getter(ref value); }
                catch (Exception e) when (Failed(e)) { throw _parent.Typed(e); }
            };
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                try { _source.Dispose(); }
                catch (Exception e) when (IsScoringFailure(e))
                {
                    if (!_failed) throw _parent.Typed(e);
                }
            }
            base.Dispose(disposing);
        }
    }
}
