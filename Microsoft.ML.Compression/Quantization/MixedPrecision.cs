using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Automatic mixed precision (<see cref="NetworkQuantizationOptions.MinimumOutputSqnrDb"/>): quantize everything, measure
/// on the calibration rows how far the network's outputs moved (SQNR against the float network) and, while that is
/// below the budget, leave float the one layer that adds the most error and quantize again.
/// </summary>
/// <remarks>
/// A layer's error is what it adds: the noise-to-signal power ratio of its output minus that of its input, both
/// measured against the float network on the same rows (noise that arrives with the input is not the layer's fault). Layers are MatMul,
/// Gemm and Conv weights, embedding tables, and, when they are quantized, activation×activation MatMuls. Each round
/// re-quantizes from the float graph, so static ranges are recorded again on a graph with one more float layer.
/// </remarks>
internal static class MixedPrecision
{
    /// <summary>One quantizable unit: the name that leaves it float (weight, table or node), the tensors it reads and writes.</summary>
    private sealed record Layer(string Name, string[] Inputs, string Output);

    /// <summary>Wraps <paramref name="quantize"/> so that each result meets the output SQNR budget, layers kept float as needed.</summary>
    public static Func<ModelProto, QuantizationMode, IReadOnlyCollection<string>, string> Budgeted(
        Func<ModelProto, QuantizationMode, IReadOnlyCollection<string>, string> quantize, ModelProto floatModel, QuantizationOptions options, GraphEditContext context)
        => (model, mode, excluded) =>
        {
            var layers = Layers(floatModel, mode, options, excluded);
            var outputs = floatModel.Graph.Output.Select(o => o.Name).ToList();
            var keptFloat = new List<string>();
            var rounds = new List<double>();
            string description = quantize(model, mode, excluded);
            while (true)
            {
                var errors = QuantizationMeasurements.Sqnr(floatModel, model, layers.SelectMany(l => l.Inputs.Append(l.Output)).Distinct(), context, options.Network.MaxCalibrationRows, asOperatorSees: false)
                    .ToDictionary(e => e.Name, e => e.SqnrDb);
                double output = outputs.Select(o => errors.GetValueOrDefault(o, TensorError.MaxSqnrDb)).Min();
                rounds.Add(output);
                if (output >= options.Network.MinimumOutputSqnrDb) break;
                var candidates = layers.Where(l => !keptFloat.Contains(l.Name) && errors.ContainsKey(l.Output)).ToList();
                if (candidates.Count == 0) break;
                // What the layer adds: the noise-to-signal power ratio of its output minus that of its (noisiest) input;
                // graph inputs and token ids are exact. Ratios, not dB: a layer that takes 200 dB (exact) to 45 dB adds
                // less noise than one that takes 40 dB to 35 dB.
                static double Nsr(double db) => Math.Pow(10, -db / 10);
                double Added(Layer l) => Nsr(errors[l.Output]) - l.Inputs.Select(i => Nsr(errors.GetValueOrDefault(i, TensorError.MaxSqnrDb))).DefaultIfEmpty(0).Max();
                var worst = candidates.OrderByDescending(Added).First();
                keptFloat.Add(worst.Name);
                var fresh = floatModel.Clone();
                description = quantize(fresh, mode, excluded.Concat(keptFloat).ToArray());
                model.Graph = fresh.Graph;
                model.OpsetImport.Clear();
                model.OpsetImport.Add(fresh.OpsetImport);
            }
            string budget = $" Mixed precision (output SQNR budget {options.Network.MinimumOutputSqnrDb:G3} dB on the calibration rows): output SQNR {string.Join(" → ", rounds.Select(r => $"{r:F1} dB"))}";
            if (keptFloat.Count == 0) return description + $"{budget}; every layer stays quantized.";
            return description + $"{budget}; left float, worst first: {string.Join(", ", keptFloat)}"
                + (rounds[^1] >= options.Network.MinimumOutputSqnrDb ? "." : " (budget not met: no layer left to keep float).");
        };

    /// <summary>The layers of the float graph that <paramref name="mode"/> quantizes and that are not excluded.</summary>
    private static List<Layer> Layers(ModelProto floatModel, QuantizationMode mode, QuantizationOptions options, IReadOnlyCollection<string> excluded)
    {
        var g = floatModel.Graph;
        var skip = options.ExcludedNodes.Concat(excluded).ToArray();
        var layers = WeightTensors.Find(g, skip).Select(w => new Layer(w.Name, new[] { w.Consumer.Input[0] }, BiasedOutput(g, w.Consumer))).ToList();
        layers.AddRange(EmbeddingQuantizer.Find(g, skip.ToHashSet()).SelectMany(e => e.Gathers.Select(n => new Layer(e.Name, Array.Empty<string>(), n.Output[0]))));
        if (mode != QuantizationMode.WeightOnly && (options.Network.QuantizeActivationMatMuls ?? mode == QuantizationMode.Static))
            layers.AddRange(ActivationMatMulQuantizer.Find(g, skip.ToHashSet()).Select(n => new Layer(n.Name, n.Input.ToArray(), n.Output[0])));
        return layers.GroupBy(l => l.Name).Select(grp => grp.First()).ToList();
    }

    /// <summary>
    /// A layer's output, after the Add of a constant bias when that is the only reader: static mode writes MatMul +
    /// bias Add as one operator (<see cref="IntegerMatMulBias"/>), so only the biased tensor exists in both graphs.
    /// </summary>
    private static string BiasedOutput(GraphProto g, NodeProto layer)
    {
        var output = layer.Output[0];
        var readers = g.Node.Where(n => n.Input.Contains(output)).ToList();
        if (readers.Count != 1 || readers[0].OpType != "Add" || g.Output.Any(o => o.Name == output)) return output;
        var other = readers[0].Input.FirstOrDefault(i => i != output);
        return other != null && OnnxGraphEditor.Initializer(g, other) != null ? readers[0].Output[0] : output;
    }
}
