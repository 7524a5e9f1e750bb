using Microsoft.ML.Compression.Scoring;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// How much of each layer structured pruning removes: the same share everywhere, or with
/// <see cref="PruningScope.Measured"/> shares that come from measurement: each layer is pruned alone, at a third, two thirds, … up to twice
/// <see cref="PruningOptions.TargetSparsity"/> (at most the per-layer cap), and the error this causes in the graph's outputs on the calibration
/// rows is recorded; the shares that remove the target share of the layers' weights at the least total error are then
/// chosen. Why: the same share everywhere was measured to be the wrong split for a Transformer: the layers near the
/// input carry their error through every later layer (docs/benchmarks.md, per-layer FFN sparsity).
/// </summary>
internal static class StructuredSplit
{
    /// <summary>One prunable layer: its node, its weight, and the weights it loses per unit of share removed.</summary>
    internal sealed record Layer(string Node, string Weight, long Weights);

    /// <summary>
    /// The shares each layer is tried at, as multiples of the target (capped at the per-layer cap). Steps of a third,
    /// up to twice the target: with ½, 1 and 1½ the split of a 6-layer encoder at 45 % could not give its least
    /// sensitive layer more than 68 % nor the others less than 23 % (mean cosine 0.978 against 0.980 with thirds).
    /// </summary>
    internal static readonly double[] Levels = { 1 / 3.0, 2 / 3.0, 1.0, 4 / 3.0, 5 / 3.0, 2.0 };

    /// <param name="original">The unpruned graph (not modified: each trial prunes a copy).</param>
    /// <param name="layers">The layers structured pruning can shrink, in its order.</param>
    /// <param name="options">The target, the per-layer overrides and cap, the scope.</param>
    /// <param name="context">The calibration data.</param>
    /// <param name="rows">Calibration rows to run.</param>
    /// <param name="pruneAlone">Prunes layer i of a copy of the original to a share.</param>
    /// <param name="note">What was measured and chosen, for the stage's description (empty when the split is uniform).</param>
    public static double[] Shares(ModelProto original, IReadOnlyList<Layer> layers, PruningOptions options, GraphEditContext context, int rows,
        Action<ModelProto, int, double> pruneAlone, out string note)
    {
        note = "";
        var network = options.Network;
        double target = options.TargetSparsity, cap = network.MaxLayerSparsity;
        bool Named(Layer l, out double share) => network.LayerSparsity.TryGetValue(l.Node, out share) || network.LayerSparsity.TryGetValue(l.Weight, out share);
        // The per-layer cap: no layer is pruned away by default.
        var shares = layers.Select(l => Named(l, out var s) ? s : Math.Min(target, cap)).ToArray();
        var free = Enumerable.Range(0, layers.Count).Where(i => !Named(layers[i], out _)).ToList();
        var outputs = original.Graph.Output.Where(o => o.Type?.TensorType?.ElemType == OnnxType.Float).Select(o => o.Name).ToArray();
        if (network.Scope != PruningScope.Measured || free.Count < 2 || target <= 0 || target >= cap || outputs.Length == 0) return shares;

        var batches = new List<int>();
        var reference = TensorCapture.Capture(original, outputs, context, rows, optimized: true, batches: batches);
        var tried = new double[free.Count][];
        var errors = new double[free.Count][];
        for (int f = 0; f < free.Count; f++)
        {
            tried[f] = Levels.Select(level => Math.Min(level * target, cap)).Distinct().ToArray();
            errors[f] = new double[tried[f].Length];
            for (int k = 0; k < tried[f].Length; k++)
            {
                var copy = original.Clone();
                pruneAlone(copy, free[f], tried[f][k]);
                var result = TensorCapture.Capture(copy, outputs, context, rows, optimized: true, batches: batches);
                errors[f][k] = RelativeError(reference, result);
                context.ML.LogInfo($"Compression: structured split: {layers[free[f]].Node} pruned alone at {tried[f][k]:P0}: relative output error {errors[f][k]:G3}.");
            }
        }
        var chosen = Allocate(tried, errors, free.Select(i => (double)layers[i].Weights).ToArray(), target);
        for (int f = 0; f < free.Count; f++) shares[free[f]] = chosen[f];
        note = $"; per-layer shares chosen from the output error with each layer pruned alone ({string.Join(", ", free.Select((i, f) => $"{layers[i].Node} {chosen[f]:P0}"))})";
        return shares;
    }

    /// <summary>
    /// The shares that remove <paramref name="target"/> of the layers' weights (weighted by <paramref name="weights"/>)
    /// at the least summed error, each layer's error read from its trials as a piecewise-linear curve through (0, 0)
    /// made convex (a later segment never costs less per share than an earlier one, so the greedy fill below is exact).
    /// No layer goes beyond the largest share it was tried at: the curves are not extrapolated.
    /// </summary>
    /// <param name="shares">Per layer: the shares tried, ascending.</param>
    /// <param name="errors">Per layer: the output error at each share tried.</param>
    /// <param name="weights">Per layer: weights removed per unit of share.</param>
    /// <param name="target">The weighted mean share to reach.</param>
    internal static double[] Allocate(double[][] shares, double[][] errors, double[] weights, double target)
    {
        int n = shares.Length;
        var segments = new List<(int Layer, int Index, double Length, double Cost)>();
        for (int i = 0; i < n; i++)
        {
            double previousShare = 0, previousError = 0, previousSlope = 0;
            for (int k = 0; k < shares[i].Length; k++)
            {
                double length = shares[i][k] - previousShare;
                if (length <= 0) continue;
                double slope = Math.Max(previousSlope, Math.Max(0, errors[i][k] - previousError) / length);
                segments.Add((i, k, length, weights[i] > 0 ? slope / weights[i] : double.PositiveInfinity));
                previousShare = shares[i][k];
                previousError = errors[i][k];
                previousSlope = slope;
            }
        }
        var result = new double[n];
        double remaining = target * weights.Sum();
        foreach (var s in segments.OrderBy(s => s.Cost).ThenBy(s => s.Index).ThenBy(s => s.Layer))
        {
            if (remaining <= 0) break;
            double take = Math.Min(s.Length, remaining / weights[s.Layer]);
            result[s.Layer] += take;
            remaining -= take * weights[s.Layer];
        }
        return result;
    }

    /// <summary>
    /// Mean over the outputs of the squared error relative to the output's mean square; infinite when a trial's output
    /// is not finite, so that share is taken last.
    /// </summary>
    private static double RelativeError(Dictionary<string, float[][]> reference, Dictionary<string, float[][]> result)
        => reference.Average(kv =>
        {
            var (signal, noise) = CapturedError.Energies(kv.Value, result[kv.Key]);
            return double.IsFinite(noise) ? noise / Math.Max(signal, 1e-30) : double.PositiveInfinity;
        });
}
