using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Streaming statistics of one float tensor: running min/max and a fixed-size histogram (2048 bins over a range
/// symmetric around 0) whose range doubles, merging neighbouring bins, when a larger magnitude arrives. Memory
/// does not depend on how many values are recorded.
/// </summary>
internal sealed class TensorStatistics
{
    public const int Bins = 2048;
    private const int QuantizedBins = 128;

    public string Name { get; }
    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;
    public long Count { get; private set; }
    /// <summary>Half width of the histogram's range: it covers [-Threshold, Threshold].</summary>
    public double Threshold { get; private set; }
    public long[] Histogram { get; } = new long[Bins];

    public TensorStatistics(string name) => Name = name;

    public void Add(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
                throw new InvalidModelException($"The tensor '{Name}' took a non-finite value ({v}) on the calibration data. Check the model and the data before quantizing.");
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        Min = Math.Min(Min, lo);
        Max = Math.Max(Max, hi);
        double absMax = Math.Max(Math.Abs(lo), Math.Abs(hi));
        if (Threshold == 0) Threshold = absMax > 0 ? absMax : 0;
        if (absMax > Threshold) Widen(absMax);
        Count += values.Length;
        if (Threshold == 0) { Histogram[Bins / 2] += values.Length; return; } // only zeros so far
        double scale = Bins / (2 * Threshold);
        foreach (var v in values)
        {
            int i = (int)((v + Threshold) * scale);
            Histogram[Math.Clamp(i, 0, Bins - 1)]++;
        }
    }

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
            CalibrationMethod.Entropy => EntropyRange(),
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
    /// KL-divergence search: for each symmetric window of the histogram around 0 (outliers folded into its end
    /// bins), quantize it to 128 levels, expand back over the non-empty bins, and keep the window whose
    /// distribution is closest to the reference.
    /// </summary>
    private (double, double) EntropyRange()
    {
        if (Threshold == 0) return (0, 0);
        int zero = Bins / 2;
        double bestKl = double.PositiveInfinity;
        int bestHalf = zero;
        var p = new double[Bins];
        var q = new double[Bins];
        long total = Count;
        for (int half = QuantizedBins / 2; half <= zero; half++)
        {
            int start = zero - half, width = 2 * half;
            long leftOut = 0, rightOut = 0;
            for (int i = 0; i < start; i++) leftOut += Histogram[i];
            for (int i = start + width; i < Bins; i++) rightOut += Histogram[i];
            for (int i = 0; i < width; i++) p[i] = Histogram[start + i];
            p[0] += leftOut;
            p[width - 1] += rightOut;
            // Quantize the window (without the folded outliers) to 128 levels, spread each level over its non-empty bins.
            Array.Clear(q, 0, width);
            for (int level = 0; level < QuantizedBins; level++)
            {
                int from = level * width / QuantizedBins, to = (level + 1) * width / QuantizedBins;
                double mass = 0;
                int nonEmpty = 0;
                for (int i = from; i < to; i++) { mass += Histogram[start + i]; if (p[i] != 0) nonEmpty++; }
                if (nonEmpty == 0) continue;
                for (int i = from; i < to; i++) if (p[i] != 0) q[i] = mass / nonEmpty;
            }
            double kl = Divergence(p, q, width, total);
            if (kl < bestKl) { bestKl = kl; bestHalf = half; }
        }
        return (Edge(zero - bestHalf), Edge(zero + bestHalf));
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
/// added as extra outputs, and records <see cref="TensorStatistics"/> for each of them batch by batch.
/// </summary>
internal static class ActivationRecorder
{
    public const int BatchSize = 64;

    public static Dictionary<string, TensorStatistics> Record(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows) => Record(model, tensors, context, maxRows, out _);

    public static Dictionary<string, TensorStatistics> Record(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows, out int rows)
    {
        var stats = tensors.ToDictionary(t => t, t => new TensorStatistics(t));
        rows = Visit(model, tensors, context, maxRows, (name, value) => stats[name].Add(value.GetTensorDataAsSpan<float>()));
        return stats;
    }

    /// <summary>
    /// The values of 2-D tensors [batch, width] on the calibration rows, one array per row (for layer
    /// reconstruction, which needs the inputs themselves, not their ranges).
    /// </summary>
    public static Dictionary<string, float[][]> Capture(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows)
        => Capture(model, tensors, context, maxRows, out _);

    /// <param name="rowShapes">Per tensor: the shape of one row (the tensor's shape without the batch axis).</param>
    public static Dictionary<string, float[][]> Capture(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows,
        out Dictionary<string, long[]> rowShapes)
    {
        var rows = tensors.ToDictionary(t => t, _ => new List<float[]>());
        var shapes = new Dictionary<string, long[]>();
        rowShapes = shapes;
        Visit(model, tensors, context, maxRows, (name, value) =>
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

    /// <summary>Runs the graph batch by batch and hands every requested tensor of every batch to <paramref name="onValue"/>.</summary>
    private static int Visit(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows, Action<string, OrtValue> onValue)
    {
        if (maxRows < 1) throw new ArgumentOutOfRangeException(nameof(maxRows), maxRows, "At least one calibration row is needed.");
        var probe = model.Clone();
        var g = probe.Graph;
        var initializers = new HashSet<string>(g.Initializer.Select(t => t.Name));
        var inputs = g.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        foreach (var name in tensors)
            if (!g.Output.Any(o => o.Name == name))
                g.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxType.Float } } });

        // Read every input's rows first (this also checks that the data has each input column).
        var data = new List<(string Name, float[][] Rows, long[] Dims)>();
        foreach (var input in inputs)
        {
            var type = input.Type?.TensorType;
            if (type == null || type.ElemType != OnnxType.Float)
                throw new UnsupportedModelException($"The graph input '{input.Name}' is not a float tensor; static quantization can only calibrate networks with float inputs. Use Mode = WeightOnly or Dynamic.");
            var inputRows = context.ReadInput(input.Name, maxRows);
            var dims = type.Shape?.Dim.Select(d => d.DimValue > 0 ? d.DimValue : -1).ToArray() ?? new long[] { -1, -1 };
            data.Add((input.Name, inputRows, dims));
        }
        int n = data.Count == 0 ? 0 : data.Min(d => d.Rows.Length);
        if (n == 0)
            throw new DataMismatchException("The calibration data has no rows. Give the stage data to record the activations on.");

        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL; // record the tensors as the graph names them
        using var session = new InferenceSession(OnnxModelIO.ToBytes(probe), options);
        using var runOptions = new RunOptions();
        var outputNames = tensors.ToArray();
        // A graph exported with a fixed batch size (CNTK's ResNet18: [1, 3, 224, 224]) is run that many rows at a time.
        int batchSize = data.Select(d => d.Dims.Length > 1 && d.Dims[0] > 0 ? (int)d.Dims[0] : BatchSize).Min();
        for (int start = 0; start < n; start += batchSize)
        {
            int count = Math.Min(batchSize, n - start);
            var values = new List<OrtValue>();
            try
            {
                foreach (var (_, inputRows, dims) in data)
                {
                    int width = inputRows[start].Length;
                    var flat = new float[count * width];
                    for (int r = 0; r < count; r++)
                    {
                        if (inputRows[start + r].Length != width)
                            throw new DataMismatchException("The calibration rows have different lengths; give a fixed-size vector column.");
                        inputRows[start + r].CopyTo(flat, r * width);
                    }
                    values.Add(OrtValue.CreateTensorValueFromMemory(flat, Shape(dims, count, width)));
                }
                using var results = session.Run(runOptions, data.Select(d => d.Name).ToArray(), values, outputNames);
                int k = 0;
                foreach (var result in results)
                    onValue(outputNames[k++], result);
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        return n;
    }

    /// <summary>The input's declared shape with the batch filled in, or [count, width] when it does not fit.</summary>
    internal static long[] Shape(long[] dims, int count, int width)
    {
        if (dims.Length >= 2 && dims.Skip(1).All(d => d > 0) && dims.Skip(1).Aggregate(1L, (a, d) => a * d) == width)
            return dims.Select((d, i) => i == 0 ? count : d).ToArray();
        return new long[] { count, width };
    }
}
