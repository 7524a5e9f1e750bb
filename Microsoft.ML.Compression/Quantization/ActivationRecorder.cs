using Google.Protobuf;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.OnnxRuntime;
using System.Numerics.Tensors;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Streaming statistics of one float tensor: running min/max and a fixed-size histogram (2048 bins over a range
/// symmetric around 0) whose range doubles, merging neighbouring bins, when a larger magnitude arrives. Memory
/// does not depend on how many values are recorded.
/// </summary>
internal sealed class TensorStatistics
{
    public const int Bins = 2048;

    public string Name { get; }
    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;
    public long Count { get; private set; }
    /// <summary>How many of the values were exactly 0 (ReLU outputs: often most of them); they are also in the histogram.</summary>
    public long Zeros { get; private set; }
    /// <summary>Half width of the histogram's range: it covers [-Threshold, Threshold].</summary>
    public double Threshold { get; private set; }
    public long[] Histogram { get; } = new long[Bins];

    public TensorStatistics(string name) => Name = name;

    public void Add(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        // Vectorized min and max; NaN propagates into both and ±∞ shows in one, so they also check finiteness.
        float lo = TensorPrimitives.Min(values), hi = TensorPrimitives.Max(values);
        if (!float.IsFinite(lo) || !float.IsFinite(hi))
        {
            foreach (var v in values)
                if (!float.IsFinite(v))
                    throw new InvalidModelException($"The tensor '{Name}' took a non-finite value ({v}) on the calibration data. Check the model and the data before quantizing.");
        }
        Min = Math.Min(Min, lo);
        Max = Math.Max(Max, hi);
        double absMax = Math.Max(Math.Abs(lo), Math.Abs(hi));
        if (Threshold == 0) Threshold = absMax > 0 ? absMax : 0;
        if (absMax > Threshold) Widen(absMax);
        Count += values.Length;
        if (Threshold == 0) { Histogram[Bins / 2] += values.Length; Zeros += values.Length; return; } // only zeros so far
        AddToHistogram(values);
        Zeros += CountZeros(values);
    }

    /// <summary>Exact zeros (±0) in the values, vectorized.</summary>
    private static long CountZeros(ReadOnlySpan<float> values)
    {
        var counts = System.Numerics.Vector<int>.Zero;
        int i = 0, width = System.Numerics.Vector<float>.Count;
        for (; i + width <= values.Length; i += width)
            counts -= System.Numerics.Vector.Equals(new System.Numerics.Vector<float>(values.Slice(i, width)), System.Numerics.Vector<float>.Zero); // true is -1
        long zeros = System.Numerics.Vector.Sum(counts);
        for (; i < values.Length; i++) if (values[i] == 0f) zeros++;
        return zeros;
    }

    /// <summary>
    /// Bins the values into four partial histograms in turn: ReLU outputs are mostly exact zeros, and incrementing
    /// one counter back to back waits on the previous store each time.
    /// </summary>
    private void AddToHistogram(ReadOnlySpan<float> values)
    {
        float scale = (float)(Bins / (2 * Threshold)), offset = (float)Threshold * scale;
        var parts = new int[4 * Bins];
        int i = 0;
        for (; i + 4 <= values.Length; i += 4)
        {
            parts[Bin(values[i], scale, offset)]++;
            parts[Bins + Bin(values[i + 1], scale, offset)]++;
            parts[2 * Bins + Bin(values[i + 2], scale, offset)]++;
            parts[3 * Bins + Bin(values[i + 3], scale, offset)]++;
        }
        for (; i < values.Length; i++) parts[Bin(values[i], scale, offset)]++;
        for (int b = 0; b < Bins; b++) Histogram[b] += (long)parts[b] + parts[Bins + b] + parts[2 * Bins + b] + parts[3 * Bins + b];
    }

    private static int Bin(float v, float scale, float offset) => Math.Clamp((int)(v * scale + offset), 0, Bins - 1);

    /// <summary>Doubles the range until it covers <paramref name="absMax"/>; old bins merge pairwise toward the middle.</summary>
    private void Widen(double absMax)
    {
        int factor = 1;
        double t = Threshold;
        while (t < absMax) { t *= 2; factor *= 2; }
        if (Count > 0)
        {
            var old = (long[])Histogram.Clone();
            Array.Clear(Histogram);
            // Old bin i starts at -T + i·w; in the new grid (T' = f·T, w' = f·w) that is bin (f−1)·N/(2f) + i/f.
            for (int i = 0; i < Bins; i++)
            {
                if (old[i] == 0) continue;
                long j = factor >= Bins ? Bins / 2 : (long)(factor - 1) * Bins / (2L * factor) + i / factor;
                Histogram[Math.Clamp(j, 0, Bins - 1)] += old[i];
            }
        }
        Threshold = t;
    }

    private double Edge(int i) => -Threshold + i * (2 * Threshold / Bins);

    /// <summary>The range to quantize this tensor with, clamped to what was seen.</summary>
    public (float Min, float Max) Range(CalibrationMethod method, double percentile = 99.999, bool symmetric = false)
    {
        if (Count == 0) throw new InvalidOperationException($"No values recorded for '{Name}'.");
        (double lo, double hi) = method switch
        {
            CalibrationMethod.MinMax => (Min, Max),
            CalibrationMethod.Percentile => PercentileRange(percentile, symmetric),
            CalibrationMethod.Entropy => EntropyRange(symmetric),
            _ => throw new ArgumentOutOfRangeException(nameof(method)),
        };
        return ((float)Math.Max(lo, Min), (float)Math.Min(hi, Max));
    }

    private (double, double) PercentileRange(double percentile, bool symmetric)
    {
        if (Threshold == 0) return (0, 0);
        double keep = percentile / 100.0;
        if (symmetric)
        {
            // Fold the histogram around 0 and take the smallest |x| bound that keeps the fraction.
            long needed = (long)Math.Ceiling(keep * Count), sum = 0;
            for (int k = 0; k < Bins / 2; k++)
            {
                sum += Histogram[Bins / 2 - 1 - k] + Histogram[Bins / 2 + k];
                if (sum >= needed) { double t = Edge(Bins / 2 + k + 1); return (-t, t); }
            }
            return (-Threshold, Threshold);
        }
        double cut = (1 - keep) / 2 * Count;
        int left = 0, right = Bins - 1;
        for (long s = 0; left < Bins - 1 && s + Histogram[left] <= cut; left++) s += Histogram[left];
        for (long s = 0; right > 0 && s + Histogram[right] <= cut; right--) s += Histogram[right];
        return (Edge(left), Edge(right + 1));
    }

    /// <summary>
    /// KL-divergence search (TensorRT's entropy calibration): for each window of the histogram (outliers folded
    /// into its end bins), quantize it to as many levels as the real quantizer gives that window, expand back over
    /// the non-empty bins, and keep the window whose distribution is closest to the reference. A tensor that never
    /// goes below 0 (ReLU outputs) is searched over windows [0, t]: its quantized range starts at 0, so [0, t] gets
    /// all 256 uint8 levels (128 with symmetric int8); other tensors over [−t, t] with 256 levels.
    /// </summary>
    /// <remarks>
    /// The levels matter: 128 levels over [−t, t], as this search once used, model a ReLU output with 64 levels
    /// where uint8 gives it 256, and the search then clips far too much (ResNet18: cosine 0.69 to FP32). Exact
    /// zeros are left out of the distributions (as NVIDIA's calibrator can with skip_zeros): the quantized range
    /// always holds 0 exactly, and a ReLU output's spike of zeros, smeared over the first level's bins by the
    /// expansion, would otherwise dominate the divergence and favour narrow windows.
    /// </remarks>
    private (double, double) EntropyRange(bool symmetric)
    {
        if (Threshold == 0) return (0, 0);
        int zero = Bins / 2;
        if (Min >= 0)
        {
            int k = BestWindow(symmetric ? 128 : 256, k => (zero, zero + k));
            return (0, Edge(zero + k));
        }
        if (Max <= 0)
        {
            int k = BestWindow(symmetric ? 128 : 256, k => (zero - k, zero));
            return (Edge(zero - k), 0);
        }
        int half = BestWindow(256, k => (zero - k, zero + k));
        return (Edge(zero - half), Edge(zero + half));
    }

    /// <summary>The window size k (from the one whose width is <paramref name="levels"/> bins up to the whole half histogram) with the smallest KL divergence.</summary>
    private int BestWindow(int levels, Func<int, (int Start, int End)> window)
    {
        int zero = Bins / 2;
        var histogram = (long[])Histogram.Clone();
        histogram[zero] -= Zeros; // 0 lands in the bin that starts at 0
        long total = Count - Zeros;
        if (total == 0) return zero;
        double bestKl = double.PositiveInfinity;
        int best = zero;
        var p = new double[Bins];
        var q = new double[Bins];
        for (int k = 1; k <= zero; k++)
        {
            var (start, end) = window(k);
            int width = end - start;
            if (width < levels) continue;
            long leftOut = 0, rightOut = 0;
            for (int i = 0; i < start; i++) leftOut += histogram[i];
            for (int i = end; i < Bins; i++) rightOut += histogram[i];
            for (int i = 0; i < width; i++) p[i] = histogram[start + i];
            p[0] += leftOut;
            p[width - 1] += rightOut;
            // Quantize the window (without the folded outliers) to the levels, spread each level over its non-empty bins.
            Array.Clear(q, 0, width);
            for (int level = 0; level < levels; level++)
            {
                int from = level * width / levels, to = (level + 1) * width / levels;
                double mass = 0;
                int nonEmpty = 0;
                for (int i = from; i < to; i++) { mass += histogram[start + i]; if (p[i] != 0) nonEmpty++; }
                if (nonEmpty == 0) continue;
                for (int i = from; i < to; i++) if (p[i] != 0) q[i] = mass / nonEmpty;
            }
            double kl = Divergence(p, q, width, total);
            if (kl < bestKl) { bestKl = kl; best = k; }
        }
        return best;
    }

    private static double Divergence(double[] p, double[] q, int n, long total)
    {
        const double eps = 1e-4;
        double qSum = 0;
        int pNonZero = 0, qZeroWhereP = 0;
        for (int i = 0; i < n; i++) { qSum += q[i]; if (p[i] > 0) { pNonZero++; if (q[i] == 0) qZeroWhereP++; } }
        if (qSum == 0) return double.PositiveInfinity;
        // Smooth q: bins where p has mass but q has none get eps, taken evenly from the others.
        int qNonZero = 0;
        for (int i = 0; i < n; i++) if (q[i] > 0) qNonZero++;
        double take = qNonZero > 0 ? eps * qZeroWhereP / qNonZero : 0;
        double kl = 0;
        for (int i = 0; i < n; i++)
        {
            if (p[i] <= 0) continue;
            double pi = p[i] / total;
            double qi = q[i] > 0 ? Math.Max(q[i] / qSum - take, eps * 1e-3) : eps;
            kl += pi * Math.Log(pi / qi);
        }
        return kl;
    }
}

/// <summary>
/// Runs a graph with ONNX Runtime on the first rows of the calibration data, with chosen intermediate tensors
/// added as extra outputs, and hands each of them over batch by batch (<see cref="TensorStatistics"/> for
/// calibration, captured rows for SQNR and pruning). The rows are streamed from the data view: only one batch of
/// inputs and of recorded tensors is held at a time.
/// </summary>
internal static class ActivationRecorder
{
    /// <summary>The most rows run at once.</summary>
    public const int BatchSize = 64;

    /// <summary>
    /// About how many floats the recorded tensors of one batch may hold (128 MB). The first batch is one row; it
    /// tells how wide the recorded tensors are, and later batches take as many rows as fit (ResNet18 with every
    /// activation recorded: about 4 million floats a row, so 8 rows a batch).
    /// </summary>
    private const long BatchFloats = 32L << 20;

    public static Dictionary<string, TensorStatistics> Record(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows) => Record(model, tensors, context, maxRows, out _);

    public static Dictionary<string, TensorStatistics> Record(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows, out int rows)
    {
        var stats = tensors.ToDictionary(t => t, t => new TensorStatistics(t));
        // With all optimizations: ONNX Runtime keeps every graph output as named (no fusion swallows a requested
        // tensor), and its NCHWc convolutions took a third less CPU than the unoptimized graph on ResNet18.
        rows = Visit(model, tensors, context, maxRows, optimized: true, long.MaxValue, null, (name, value) => stats[name].Add(value.GetTensorDataAsSpan<float>()));
        return stats;
    }

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
        Visit(model, tensors, context, maxRows, optimized, maxFloats, batches, (name, value) =>
        {
            var shape = value.GetTensorTypeAndShape().Shape;
            if (shape.Length < 1) return;
            shapes[name] = shape.Skip(1).ToArray();
            int batch = (int)shape[0];
            var data = value.GetTensorDataAsSpan<float>();
            int width = batch == 0 ? 0 : data.Length / batch;
            for (int r = 0; r < batch; r++) rows[name].Add(data.Slice(r * width, width).ToArray());
        });
        return rows.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
    }

    /// <summary>Runs the graph batch by batch and hands every requested tensor of every batch to <paramref name="onValue"/>; returns the rows run.</summary>
    private static int Visit(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows, bool optimized, long maxFloats,
        List<int>? batchRows, Action<string, OrtValue> onValue)
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
        // Unoptimized, the weights are read as stored (mapped from the graph's external data file), not copied into
        // packed layouts: a recording reads a bounded sample of rows, where packing costs a model-sized copy.
        if (!optimized) options.AddSessionConfigEntry("session.disable_prepacking", "1");
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
                    onValue(outputNames[k++], result);
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

    /// <summary>The input's declared shape with the batch filled in, or [count, width] when it does not fit.</summary>
    internal static long[] Shape(long[] dims, int count, int width)
    {
        if (dims.Length >= 2 && dims.Skip(1).All(d => d > 0) && dims.Skip(1).Aggregate(1L, (a, d) => a * d) == width)
            return dims.Select((d, i) => i == 0 ? count : d).ToArray();
        return new long[] { count, width };
    }
}
