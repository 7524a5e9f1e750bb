using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>One tensor of one batch: its values and shape (batch axis first), valid only during the call.</summary>
internal delegate void TensorVisitor(string name, ReadOnlySpan<float> values, ReadOnlySpan<long> shape);

/// <summary>
/// Runs a graph with ONNX Runtime on the first rows of the data its inputs see, with chosen intermediate tensors
/// added as extra outputs, and hands each of them over batch by batch (calibration statistics, captured rows for
/// SQNR, pruning and reconstruction). The rows are streamed from the data view: only one batch of inputs and of
/// captured tensors is held at a time.
/// </summary>
internal static class TensorCapture
{
    /// <summary>The most rows run at once.</summary>
    public const int BatchSize = 64;

    /// <summary>
    /// About how many floats the recorded tensors of one batch may hold (128 MB). The first batch is one row; it
    /// tells how wide the recorded tensors are, and later batches take as many rows as fit (ResNet18 with every
    /// activation recorded: about 4 million floats a row, so 8 rows a batch).
    /// </summary>
    private const long BatchFloats = 32L << 20;

    /// <summary>
    /// The values of the tensors on the calibration rows, one array per row (for layer reconstruction and SQNR,
    /// which need the values themselves, not their ranges). <paramref name="optimized"/>: run the graph with all
    /// of ONNX Runtime's optimizations, as ML.NET's OnnxTransformer runs it (QDQ fused into integer kernels);
    /// otherwise every node runs as written. <paramref name="maxFloats"/>: stop after the batch that brings the
    /// captured values to about that many floats (the rows actually captured are the length of each array).
    /// </summary>
    public static Dictionary<string, float[][]> Capture(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows, bool optimized = false, long maxFloats = long.MaxValue,
        List<int>? batches = null)
        => Capture(model, tensors, context, maxRows, out _, optimized, maxFloats, batches);

    /// <param name="model">The graph to run (not modified).</param>
    /// <param name="tensors">Names of the tensors to capture.</param>
    /// <param name="context">The data as the graph's inputs see it.</param>
    /// <param name="maxRows">Most calibration rows to run.</param>
    /// <param name="rowShapes">Per tensor: the shape of one row (the tensor's shape without the batch axis).</param>
    /// <param name="optimized">Run with all of ONNX Runtime's optimizations (fused kernels).</param>
    /// <param name="maxFloats">Stop after about this many captured floats.</param>
    /// <param name="batches">
    /// Empty: filled with the rows of each batch run. Not empty: the batches to run, in rows (as recorded by an earlier
    /// capture). Two captures compare value for value only when they ran the same batches: a tensor whose first axis
    /// is not the batch (an attention tensor laid out [sequence, batch·heads, width]) is cut into "rows" along that axis.
    /// </param>
    public static Dictionary<string, float[][]> Capture(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows,
        out Dictionary<string, long[]> rowShapes, bool optimized = false, long maxFloats = long.MaxValue, List<int>? batches = null)
    {
        var rows = tensors.ToDictionary(t => t, _ => new List<float[]>());
        var shapes = new Dictionary<string, long[]>();
        rowShapes = shapes;
        if (rows.Count == 0) return new Dictionary<string, float[][]>();
        Visit(model, tensors, context, maxRows, optimized, maxFloats, batches, (name, data, shape) =>
        {
            if (shape.Length < 1) return;
            shapes[name] = shape[1..].ToArray();
            int batch = (int)shape[0];
            int width = batch == 0 ? 0 : data.Length / batch;
            for (int r = 0; r < batch; r++) rows[name].Add(data.Slice(r * width, width).ToArray());
        });
        return rows.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
    }

    /// <summary>
    /// Runs the graph batch by batch and hands every requested tensor of every batch to <paramref name="onValue"/>
    /// (its values and its shape, batch axis first; valid only during the call); returns the rows run.
    /// </summary>
    public static int Visit(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows, bool optimized, long maxFloats,
        List<int>? batchRows, TensorVisitor onValue)
    {
        if (maxRows < 1) throw new ArgumentOutOfRangeException(nameof(maxRows), maxRows, "At least one calibration row is needed.");
        var g = model.Graph;
        var initializers = new HashSet<string>(g.Initializer.Select(t => t.Name));
        var inputs = g.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        var dims = new List<long[]>();
        foreach (var input in inputs)
        {
            var type = input.Type?.TensorType
                ?? throw new UnsupportedModelException($"The graph input '{input.Name}' is not a tensor; only networks with tensor inputs can be run on calibration data.");
            dims.Add(type.Shape?.Dim.Select(d => d.DimValue > 0 ? d.DimValue : -1).ToArray() ?? new long[] { -1, -1 });
        }
        var inputNames = inputs.Select(i => i.Name).ToArray();
        var outputNames = tensors.ToArray();

        using var batches = new FeatureBatches(context.GraphInputData, inputNames, context.SkipsNonFiniteRows); // checks that the data has each input column
        for (int i = 0; i < inputs.Count; i++)
            GraphInputTypes.Check(inputs[i], batches.ItemTypes[i]);
        // A graph exported with a fixed batch size (CNTK's ResNet18: [1, 3, 224, 224]) is run that many rows at a time.
        int fixedBatch = dims.Select(d => d.Length > 1 && d[0] > 0 ? (int)d[0] : BatchSize).Min();
        bool adaptive = fixedBatch == BatchSize;
        // Replaying the batches of an earlier capture (see Capture): the same rows per run, in the same order.
        bool replay = batchRows is { Count: > 0 };
        int batchIndex = 0;
        int count = batches.Read(replay ? batchRows![0] : Math.Min(adaptive ? 1 : fixedBatch, maxRows), out var flat);
        context.NoteSkipped(batches.Skipped, count, string.Join(", ", inputNames));
        if (count == 0)
            throw new DataMismatchException("The calibration data has no rows. Give the stage data to record the activations on.");

        // No memory arena: with every intermediate tensor an output, a batch's tensors are hundreds of MB, and the
        // arena would keep its largest extent (rounded up to a power of two) until the session ends.
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, EnableCpuMemArena = false };
        // Unoptimized unless asked: every tensor is computed as the graph names it, by the node that writes it
        // (a QuantizeLinear → DequantizeLinear pair too, which optimization would fuse into the next operator).
        options.GraphOptimizationLevel = optimized ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL;
        // The weights are not copied into packed layouts (unoptimized, they are read as stored, mapped from the graph's
        // external data file): a recording reads a bounded sample of rows, where packing costs a model-sized copy.
        // Optimized too: the kernels are the same, only packing each call instead of once (weight-only INT8 of a
        // 512 MB network: the folded float weights' packed copy took the stage's peak from 1.5 to 2 GB).
        options.AddSessionConfigEntry("session.disable_prepacking", "1");
        // Declared before the session, so disposed after it: the session reads these weights in place. Optimized, only
        // the float weights: the passes that rework a weight (folding, layouts) write a new initializer, while the
        // quantized-operator passes may convert integer weights (int8 to uint8); sharing the float weights of static
        // calibration kept a 512 MB network's stage at 1.07 GB there instead of 1.58 GB.
        using var shared = LargeGraphMemory.IsLarge(model) ? SharedWeights.Add(model, options, floatOnly: optimized) : null;
        using var session = SessionWithOutputs(model, outputNames, options);
        using var runOptions = new RunOptions();
        int n = 0;
        long total = 0;
        while (count > 0)
        {
            long floats = 0;
            var values = new List<OrtValue>();
            try
            {
                for (int i = 0; i < inputNames.Length; i++)
                    values.Add(OrtTensors.Over(flat[i], count * batches.Widths[i], Shape(dims[i], count, batches.Widths[i])));
                using var results = session.Run(runOptions, inputNames, values, outputNames);
                int k = 0;
                foreach (var result in results)
                {
                    floats += result.GetTensorTypeAndShape().ElementCount;
                    onValue(outputNames[k++], result.GetTensorDataAsSpan<float>(), result.GetTensorTypeAndShape().Shape);
                }
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
            n += count;
            total += floats;
            if (!replay) batchRows?.Add(count);
            if (replay)
            {
                count = ++batchIndex < batchRows!.Count ? batches.Read(batchRows[batchIndex], out flat) : 0;
                continue;
            }
            long perRow = Math.Max(1, floats / count);
            int next = adaptive ? (int)Math.Clamp(Math.Min(BatchFloats, maxFloats - total) / perRow, 1, BatchSize) : fixedBatch;
            count = n < maxRows && total < maxFloats ? batches.Read(Math.Min(next, maxRows - n), out flat) : 0;
        }
        context.NoteSkipped(batches.Skipped, n, string.Join(", ", inputNames));
        return n;
    }

    /// <summary>
    /// A session over the model with <paramref name="tensors"/> added as graph outputs; the model itself is left as
    /// it was. The model goes to ONNX Runtime through a temporary file with its weights as external data
    /// (<see cref="GraphFile"/>), not a byte array: a 63 MB array per session only fed the large-object heap
    /// (calibration and SQNR open four), and a graph over 2 GB has no byte array.
    /// </summary>
    private static InferenceSession SessionWithOutputs(ModelProto model, IEnumerable<string> tensors, SessionOptions options)
    {
        var g = model.Graph;
        int before = g.Output.Count;
        // Added in place and removed again rather than on a copy: a copy of a 63 MB ResNet18 costs time and memory.
        foreach (var name in tensors)
            if (!g.Output.Any(o => o.Name == name))
                g.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxType.Float } } });
        try
        {
            // Deleted once the session is made: ONNX Runtime has read the graph and maps or holds the weights.
            using var file = GraphFile.Write(model);
            return new InferenceSession(file.Path, options);
        }
        finally
        {
            while (g.Output.Count > before) g.Output.RemoveAt(g.Output.Count - 1);
        }
    }

    /// <summary>
    /// A large graph's weights handed to ONNX Runtime as the model's own bytes (pinned; <c>SessionOptions.AddInitializer</c>)
    /// rather than read from the graph file: with prepacking off, the session then computes with them in place, where
    /// it would map the file's copy (weight-only INT8 of a 512 MB network: the float graph's capture held the model
    /// once more, 512 MB, next to the model itself). The file keeps its copy, so it stays a complete graph.
    /// </summary>
    private sealed class SharedWeights : IDisposable
    {
        /// <summary>Tensors from this size on are shared (1 MB): the weights, not the small constants.</summary>
        private const int MinBytes = 1 << 20;

        private readonly List<(System.Runtime.InteropServices.GCHandle Pin, OrtValue Value)> _tensors = new();

        public static SharedWeights Add(ModelProto model, SessionOptions options, bool floatOnly)
        {
            var shared = new SharedWeights();
            try
            {
                foreach (var t in model.Graph.Initializer)
                {
                    if (t.DataLocation == TensorProto.Types.DataLocation.External || t.RawData.Length < MinBytes
                        || (floatOnly && t.DataType != OnnxType.Float)
                        || t.DataType is not (OnnxType.Float or OnnxType.Int8 or OnnxType.UInt8 or OnnxType.Int32 or OnnxType.Int64 or OnnxType.Double or OnnxType.Float16)
                        || !System.Runtime.InteropServices.MemoryMarshal.TryGetArray(t.RawData.Memory, out var bytes))
                        continue;
                    var pin = System.Runtime.InteropServices.GCHandle.Alloc(bytes.Array, System.Runtime.InteropServices.GCHandleType.Pinned);
                    OrtValue value;
                    try
                    {
                        // ONNX Runtime's element type codes are ONNX's.
                        value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)t.DataType,
                            t.Dims.ToArray(), pin.AddrOfPinnedObject() + bytes.Offset, bytes.Count);
                    }
                    catch
                    {
                        pin.Free();
                        throw;
                    }
                    shared._tensors.Add((pin, value));
                    options.AddInitializer(t.Name, value);
                }
                return shared;
            }
            catch
            {
                shared.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            foreach (var (pin, value) in _tensors)
            {
                value.Dispose();
                pin.Free();
            }
            _tensors.Clear();
        }
    }

    /// <summary>The input's declared shape with the batch filled in, or [count, width] when it does not fit.</summary>
    internal static long[] Shape(long[] dims, int count, int width)
    {
        if (dims.Length >= 2 && dims.Skip(1).All(d => d > 0) && dims.Skip(1).Aggregate(1L, (a, d) => a * d) == width)
            return dims.Select((d, i) => i == 0 ? count : d).ToArray();
        return new long[] { count, width };
    }
}
