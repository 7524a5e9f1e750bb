using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Runs the compressed ONNX graph on many rows per ONNX Runtime call. Why: ML.NET's OnnxTransformer calls the
/// session once per row, and for small models (tree ensembles, linear models, MLPs) that per-call cost is most of
/// the scoring time, so a model made 5x cheaper would barely score faster in a batch <c>Transform</c>. This
/// produces exactly the columns OnnxTransformer adds (same names, types and schema), so the standard transformers
/// that follow it are unchanged; the saved model still holds the OnnxTransformer. All ONNX Runtime details of
/// batched scoring live here.
/// </summary>
internal sealed class BatchScorer : IDisposable
{
    private readonly InferenceSession _session;
    // Running a disposed ONNX Runtime session crashes the process; a disposed scorer throws instead.
    private volatile bool _disposed;
    private readonly Input[] _inputs;
    private readonly string[] _outputs;
    // Item type and values per row of each output column, for single-row scoring's output buffers.
    private readonly (Type ItemType, int Size)[] _outputColumns;
    private long _singleRowRuns;

    /// <summary>A graph input: its data column, element type and the shape of one row.</summary>
    private sealed record Input(string Name, Type ItemType, long[] RowShape, int RowSize);

    private BatchScorer(InferenceSession session, Input[] inputs, string[] outputs, (Type, int)[] outputColumns)
    {
        _session = session;
        _inputs = inputs;
        _outputs = outputs;
        _outputColumns = outputColumns;
    }

    /// <summary>The graph inputs (data column names), in the order <see cref="Run"/> takes them.</summary>
    public IReadOnlyList<string> InputNames => _inputs.Select(i => i.Name).ToArray();

    /// <summary>Values per row above which batches get smaller, so a batch's input, and its output, stay near 4 MB.</summary>
    private const int BatchFloats = 1 << 20;

    /// <summary>
    /// Rows per ONNX Runtime call: up to 1,024, fewer for wide inputs (images) or wide outputs (an encoder's 64 × 384
    /// hidden states per row: 42 rows, whose activations inside the graph are what the size bounds).
    /// </summary>
    public int BatchRows => Math.Clamp(BatchFloats / Math.Max(1, Math.Max(_inputs.Sum(i => i.RowSize), _outputColumns.Sum(o => o.Size))), 1, 1024);

    /// <summary>
    /// A scorer for <paramref name="onnx"/> fed from <paramref name="inputSchema"/>, producing the columns named
    /// <paramref name="outputs"/> as <paramref name="outputSchema"/> types them; or null when the graph cannot be
    /// batched (fixed batch dimension, input types or shapes it does not understand) and OnnxTransformer should run.
    /// </summary>
    /// <param name="onnx">The graph.</param>
    /// <param name="inputSchema">The columns it reads from.</param>
    /// <param name="outputSchema">The columns it writes.</param>
    /// <param name="outputs">The names of its output columns.</param>
    /// <param name="graphPath">A file holding the same graph with its weights, for ONNX Runtime to load instead of <paramref name="onnx"/> (which then need not hold the weights).</param>
    public static BatchScorer? TryCreate(global::Onnx.ModelProto onnx, DataViewSchema inputSchema, DataViewSchema outputSchema, IReadOnlyList<string> outputs, string? graphPath = null)
    {
        var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        InferenceSession? session = null;
        try
        {
            if (graphPath != null) session = new InferenceSession(graphPath, options);
            else using (var file = Onnx.GraphFile.Write(onnx)) session = new InferenceSession(file.Path, options);
            var inputs = new List<Input>();
            var symbols = new Dictionary<string, long>(); // a free dimension's name → its size in this data ("sequence_length" → 64)
            foreach (var (name, meta) in session.InputMetadata)
            {
                var column = inputSchema.GetColumnOrNull(name);
                if (column == null || !meta.IsTensor || meta.Dimensions.Length == 0 || meta.Dimensions[0] > 0) return Discard(session);
                var itemType = column.Value.Type is VectorDataViewType v ? v.ItemType.RawType : column.Value.Type.RawType;
                int columnSize = column.Value.Type is VectorDataViewType vt ? vt.Size : 1;
                var rowShape = meta.Dimensions.Skip(1).Select(d => (long)d).ToArray();
                // A free sequence dimension ([batch, sequence] token ids) is fixed by the column's size.
                if (rowShape.Any(d => d <= 0)) rowShape = InputRowShapes.Resolve(meta.Dimensions.Select(d => (long)d).ToArray(), columnSize) ?? rowShape;
                long rowSize = rowShape.Aggregate(1L, (a, d) => a * d);
                if (rowShape.Any(d => d <= 0) || rowSize != columnSize || ElementType(itemType) != meta.ElementDataType) return Discard(session);
                for (int d = 1; d < meta.Dimensions.Length; d++)
                {
                    if (meta.Dimensions[d] > 0 || string.IsNullOrEmpty(meta.SymbolicDimensions[d])) continue;
                    // Two inputs that name one dimension must agree on it (ids and mask of one length).
                    if (symbols.TryGetValue(meta.SymbolicDimensions[d], out long bound) && bound != rowShape[d - 1]) return Discard(session);
                    symbols[meta.SymbolicDimensions[d]] = rowShape[d - 1];
                }
                inputs.Add(new Input(name, itemType, rowShape, (int)rowSize));
            }
            var outputColumns = new List<(Type, int)>();
            foreach (var name in outputs)
            {
                var column = outputSchema.GetColumnOrNull(name);
                if (!session.OutputMetadata.TryGetValue(name, out var meta) || column?.Type is not VectorDataViewType vector
                    || ElementType(vector.ItemType.RawType) != meta.ElementDataType)
                    return Discard(session);
                // A variable-size column (an encoder's [batch, sequence, hidden]) gets the size its named dimensions
                // take in this data; one that no input names leaves the output to OnnxTransformer.
                int size = vector.Size > 0 ? vector.Size : OutputRowSize(meta, symbols);
                if (size <= 0) return Discard(session);
                outputColumns.Add((vector.ItemType.RawType, size));
            }
            return new BatchScorer(session, inputs.ToArray(), outputs.ToArray(), outputColumns.ToArray());
        }
        catch (OnnxRuntimeException)
        {
            session?.Dispose();
            return null;
        }
        finally
        {
            options.Dispose();
        }
    }

    /// <summary>Values per row of an output whose dimensions after the batch are fixed or named by an input's free dimension; 0 otherwise.</summary>
    private static int OutputRowSize(NodeMetadata meta, IReadOnlyDictionary<string, long> symbols)
    {
        if (meta.Dimensions.Length < 2 || meta.Dimensions[0] > 0) return 0;
        long size = 1;
        for (int d = 1; d < meta.Dimensions.Length; d++)
        {
            long dim = meta.Dimensions[d] > 0 ? meta.Dimensions[d] : symbols.GetValueOrDefault(meta.SymbolicDimensions[d] ?? "", 0);
            if (dim <= 0) return 0;
            size *= dim;
            if (size > int.MaxValue) return 0;
        }
        return (int)size;
    }

    private static BatchScorer? Discard(InferenceSession session)
    {
        session.Dispose();
        return null;
    }

    private static TensorElementType? ElementType(Type t) =>
        t == typeof(float) ? TensorElementType.Float : t == typeof(double) ? TensorElementType.Double
        : t == typeof(long) ? TensorElementType.Int64 : t == typeof(int) ? TensorElementType.Int32
        : t == typeof(uint) ? TensorElementType.UInt32 : t == typeof(ulong) ? TensorElementType.UInt64
        : t == typeof(bool) ? TensorElementType.Bool : null;

    /// <summary>A buffer for <paramref name="rows"/> rows of input <paramref name="index"/>.</summary>
    public Array NewInputBuffer(int index, int rows) => Array.CreateInstance(_inputs[index].ItemType, rows * _inputs[index].RowSize);

    /// <summary>Values per row of input <paramref name="index"/>.</summary>
    public int InputRowSize(int index) => _inputs[index].RowSize;

    /// <summary>Values per row of output <paramref name="index"/> (for a variable-size column, its size in this data).</summary>
    public int OutputRowSize(int index) => _outputColumns[index].Size;

    /// <summary>
    /// A scorer of one row at a time on this scorer's session, with its own input and output buffers (one per
    /// PredictionEngine row: engines made from one model run side by side).
    /// </summary>
    public SingleRowScorer NewRowScorer()
    {
        ThrowIfDisposed();
        return new SingleRowScorer(this, _session,
            _inputs.Select(i => i.Name).ToArray(),
            _inputs.Select(i => Array.CreateInstance(i.ItemType, i.RowSize)).ToArray(),
            _inputs.Select(i => new long[] { 1 }.Concat(i.RowShape).ToArray()).ToArray(),
            _outputs.ToArray(),
            _outputColumns.Select(o => Array.CreateInstance(o.ItemType, o.Size)).ToArray());
    }

    /// <summary>Rows scored one at a time by this scorer's <see cref="SingleRowScorer"/>s (the PredictionEngine path).</summary>
    public long SingleRowRuns => Interlocked.Read(ref _singleRowRuns);

    internal void CountSingleRow() => Interlocked.Increment(ref _singleRowRuns);

    /// <exception cref="ObjectDisposedException">The model, and with it this scorer's session, was disposed.</exception>
    internal void ThrowIfDisposed()
    {
        if (_disposed)
            throw new ObjectDisposedException("CompressedModel", "The CompressedModel this data view or PredictionEngine scores with has been disposed (a PredictionEngine disposes its model unless created with OwnsTransformer = false); use a model that is still alive.");
    }

    /// <summary>Scores <paramref name="rows"/> rows; returns one flat array per output (row-major), in output order.</summary>
    public Array[] Run(Array[] inputs, int rows)
    {
        ThrowIfDisposed();
        var values = new List<OrtValue>();
        try
        {
            for (int i = 0; i < _inputs.Length; i++)
            {
                var shape = new long[] { rows }.Concat(_inputs[i].RowShape).ToArray();
                values.Add(OrtTensors.Over(inputs[i], shape));
            }
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, _inputs.Select(i => i.Name).ToArray(), values, _outputs);
            var copies = results.Select(Copy).ToArray();
            for (int k = 0; k < copies.Length; k++)
                if (copies[k].Length != (long)rows * _outputColumns[k].Size)
                    throw new InvalidOperationException($"ONNX output '{_outputs[k]}' has {copies[k].Length} values for {rows} row(s) where its column has {_outputColumns[k].Size} per row.");
            return copies;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private static Array Copy(OrtValue value) => value.GetTensorTypeAndShape().ElementDataType switch
    {
        TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
        TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
        TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
        TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray(),
        TensorElementType.UInt32 => value.GetTensorDataAsSpan<uint>().ToArray(),
        TensorElementType.UInt64 => value.GetTensorDataAsSpan<ulong>().ToArray(),
        TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
        var t => throw new NotSupportedException($"ONNX output of type {t}."),
    };

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
    }
}
