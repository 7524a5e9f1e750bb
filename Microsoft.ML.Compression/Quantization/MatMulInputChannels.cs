using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// The inputs of a network's weight MatMuls, channel by channel, for the static-mode edits that rework an activation
/// before its range is recorded (<see cref="ActivationSmoothing"/>, <see cref="OutlierChannelSplitting"/>).
/// </summary>
internal static class MatMulInputChannels
{
    /// <summary>One activation and the MatMuls that read it.</summary>
    /// <param name="Input">The activation's name.</param>
    /// <param name="Layers">The MatMuls reading it, each with a [K, N] weight that nothing else reads.</param>
    /// <param name="ChannelMax">The largest absolute value of each of its K channels on the calibration rows.</param>
    internal sealed record Group(string Input, IReadOnlyList<WeightTensor> Layers, double[] ChannelMax);

    /// <summary>
    /// The MatMul inputs, each recorded on up to 64 calibration rows (one pass over the data for all);
    /// <paramref name="graphInputs"/>: whether inputs of the graph itself are included.
    /// </summary>
    public static List<Group> Measure(ModelProto model, List<WeightTensor> weights, QuantizationOptions options, GraphEditContext context, bool graphInputs = true)
    {
        var g = model.Graph;
        var inputs = new HashSet<string>(graphInputs ? Array.Empty<string>() : g.Input.Select(i => i.Name));
        var groups = weights.Where(w => w.Consumer.OpType == "MatMul" && w.Consumer.Input[1] == w.Name && !inputs.Contains(w.Consumer.Input[0])
                && OnnxGraphEditor.Initializer(g, w.Name) is { Dims.Count: 2 } && g.Node.Count(n => n.Input.Contains(w.Name)) == 1)
            .GroupBy(w => w.Consumer.Input[0]).ToList();
        if (groups.Count == 0) return new List<Group>();
        var captured = TensorCapture.Capture(model, groups.Select(grp => grp.Key).ToArray(), context, Math.Min(options.Network.MaxCalibrationRows, 64), maxFloats: 64L << 20);
        var result = new List<Group>();
        foreach (var group in groups)
        {
            int k = (int)OnnxGraphEditor.Initializer(g, group.First().Name)!.Dims[0];
            if (group.Any(w => OnnxGraphEditor.Initializer(g, w.Name)!.Dims[0] != k)) continue;
            if (!captured.TryGetValue(group.Key, out var rows) || rows.Length == 0 || rows.Any(r => r.Length % k != 0)) continue;
            var max = new double[k];
            foreach (var row in rows)
                for (int i = 0; i < row.Length; i++) max[i % k] = Math.Max(max[i % k], Math.Abs(row[i]));
            result.Add(new Group(group.Key, group.ToList(), max));
        }
        return result;
    }
}
