using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Reporting;

namespace Microsoft.ML.Compression;

/// <summary>How a metric changes when one layer alone is pruned to several sparsities.</summary>
/// <example>
/// <code>
/// foreach (var layer in ml.Compression().PruningSensitivity("mlp.onnx", calibration, Accuracy, 0.5, 0.8, 0.9))
///     Console.WriteLine($"{layer.Layer}: {string.Join(", ", layer.Metric.Select(kv => $"{kv.Key:P0} → {kv.Value:F4}"))}");
/// </code>
/// </example>
public sealed class LayerSensitivity
{
    /// <summary>The layer (ONNX node name, or its weight's name) — a key for <see cref="NetworkPruningOptions.LayerSparsity"/>.</summary>
    /// <example>
    /// <code>
    /// var sweep = ml.Compression().PruningSensitivity("mlp.onnx", calibration, m =&gt; Accuracy(m, test), 0.5, 0.9);
    /// var layerSparsity = sweep.ToDictionary(l =&gt; l.Layer, l =&gt; l.LargestSparsityWithin(0.005)); // for PruningOptions.Network.LayerSparsity
    /// </code>
    /// </example>
    public string Layer { get; init; } = "";
    /// <summary>Number of weights in the layer.</summary>
    /// <example><code>var biggest = sweep.OrderByDescending(l =&gt; l.Weights).First(); // where pruning saves the most bytes</code></example>
    public long Weights { get; init; }
    /// <summary>The metric of the unpruned model.</summary>
    /// <example><code>double drop = sweep[0].Baseline - sweep[0].Metric[0.9]; // accuracy lost pruning the first layer alone to 90 %</code></example>
    public double Baseline { get; init; }
    /// <summary>The metric with only this layer pruned, by sparsity.</summary>
    /// <example><code>foreach (var (sparsity, accuracy) in sweep[0].Metric) Console.WriteLine($"{sweep[0].Layer} at {sparsity:P0}: {accuracy:F4}");</code></example>
    public IReadOnlyDictionary<double, double> Metric { get; init; } = new Dictionary<double, double>();

    /// <summary>The largest sparsity whose metric stays within <paramref name="tolerance"/> of the baseline (0 if none).</summary>
    /// <example><code>var options = new PruningOptions { Network = { LayerSparsity = sweep.ToDictionary(l => l.Layer, l => l.LargestSparsityWithin(0.005)) } };</code></example>
    public double LargestSparsityWithin(double tolerance, bool higherIsBetter = true)
        => Metric.Where(kv => higherIsBetter ? kv.Value >= Baseline - tolerance : kv.Value <= Baseline + tolerance)
            .Select(kv => kv.Key).DefaultIfEmpty(0).Max();
}

internal static class PruningSensitivitySweep
{
    public static IReadOnlyList<LayerSensitivity> Run(MLContext ml, Func<PruningOptions, CompressionStageEstimator> prune, global::Onnx.ModelProto model,
        ITransformer dense, IDataView data, Func<ITransformer, double> metric, double[] sparsities, bool reconstruct)
    {
        if (sparsities == null || sparsities.Length == 0)
            throw new ArgumentException("Give at least one sparsity in [0, 1).", nameof(sparsities));
        foreach (var s in sparsities)
            if (double.IsNaN(s) || s < 0 || s >= 1) throw new ArgumentOutOfRangeException(nameof(sparsities), s, "Every sparsity must be in [0, 1).");
        if (metric == null) throw new ArgumentNullException(nameof(metric));
        double baseline = metric(dense);
        var result = new List<LayerSensitivity>();
        foreach (var w in WeightTensors.Find(model.Graph))
        {
            string layer = Pruning.GraphPruner.LayerName(w);
            var values = new Dictionary<double, double>();
            foreach (var s in sparsities)
            {
                var options = new PruningOptions { TargetSparsity = 0, Reconstruct = reconstruct, Network = { LayerSparsity = new Dictionary<string, double> { [layer] = s } } };
                using var pruned = prune(options).Fit(data);
                values[s] = metric(pruned);
                ml.LogInfo($"Compression: sensitivity of {layer} at {s:P0}: {values[s]:G4}.");
            }
            result.Add(new LayerSensitivity
            {
                Layer = layer,
                Weights = OnnxTensors.ElementCount(OnnxGraphEditor.Initializer(model.Graph, w.Name)!),
                Baseline = baseline,
                Metric = values,
            });
        }
        return result;
    }
}
