using Google.Protobuf;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
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
/// Calibration: the ranges and histograms (<see cref="TensorStatistics"/>) of chosen intermediate tensors on the
/// first rows of the calibration data, recorded batch by batch as <see cref="TensorCapture"/> runs the graph, so
/// that only one batch of inputs and of recorded tensors is held at a time.
/// </summary>
internal static class ActivationRecorder
{
    public static Dictionary<string, TensorStatistics> Record(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows) => Record(model, tensors, context, maxRows, out _);

    public static Dictionary<string, TensorStatistics> Record(ModelProto model, IReadOnlyCollection<string> tensors, GraphEditContext context, int maxRows, out int rows)
    {
        var stats = tensors.ToDictionary(t => t, t => new TensorStatistics(t));
        // With all optimizations: ONNX Runtime keeps every graph output as named (no fusion swallows a requested
        // tensor), and its NCHWc convolutions took a third less CPU than the unoptimized graph on ResNet18.
        rows = TensorCapture.Visit(model, tensors, context, maxRows, optimized: true, long.MaxValue, null, (name, values, _) => stats[name].Add(values));
        return stats;
    }
}
