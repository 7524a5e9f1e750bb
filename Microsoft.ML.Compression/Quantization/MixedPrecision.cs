using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Quantizes a copy of a network: <paramref name="model"/> in <paramref name="mode"/>, leaving float what
/// <paramref name="keptFloat"/> names and, with <see cref="Precision.Int4"/>, storing INT8 what <paramref name="keptInt8"/> names.
/// </summary>
internal delegate string QuantizeVariant(ModelProto model, QuantizationMode mode, IReadOnlyCollection<string> keptFloat, IReadOnlyCollection<string>? keptInt8 = null);

/// <summary>
/// Mixed precision, two ways, both from noise measured on the calibration rows against the float network:
/// <list type="bullet">
/// <item><see cref="NetworkQuantizationOptions.MinimumOutputSqnrDb"/>: quantize everything, measure how far the network's
/// outputs moved (SQNR) and, while that is below the budget, keep the one layer that adds the most error at a higher
/// precision (INT8 under <see cref="Precision.Int4"/>, then float; float otherwise) and quantize again.</item>
/// <item><see cref="NetworkQuantizationOptions.Int4MaxSizeRatio"/> (INT4 weight-only): quantize every layer to 4 bits, measure
/// once, and keep INT8 the layers that add the most noise per extra byte while the file stays within the size budget.</item>
/// </list>
/// </summary>
/// <remarks>
/// A layer's error is what it adds: the noise-to-signal power ratio of its output minus that of its input, both
/// measured against the float network on the same rows (noise that arrives with the input is not the layer's fault). Layers are MatMul,
/// Gemm and Conv weights, embedding tables, and, when they are quantized, activation×activation MatMuls. Each round
/// re-quantizes from the float graph, so static ranges are recorded again on a graph with one more float layer.
/// </remarks>
internal static class MixedPrecision
{
    /// <summary>
    /// One quantizable unit: the name that keeps it (weight, table or node), the tensors it reads and writes, its
    /// number of weights, and whether <see cref="Precision.Int4"/> stores it in 4 bits (else INT8 already).
    /// </summary>
    private sealed record Layer(string Name, string[] Inputs, string Output, long Weights, bool Int4);

    /// <summary>Wraps <paramref name="quantize"/> so that each result meets the output SQNR budget, layers kept at a higher precision as needed.</summary>
    public static QuantizeVariant Budgeted(QuantizeVariant quantize, ModelProto floatModel, QuantizationOptions options, GraphEditContext context)
        => (model, mode, excluded, _) =>
        {
            // INT4 falls back to INT8 first (4× the precision at about twice the bytes), to float only for a layer already at INT8.
            bool int4 = mode == QuantizationMode.WeightOnly && options.Precision == Precision.Int4;
            int lowerBits = int4 ? 4 : options.Precision == Precision.Float16 ? 16 : 8;
            var layers = Layers(floatModel, mode, options, excluded);
            var outputs = floatModel.Graph.Output.Select(o => o.Name).ToList();
            var keptFloat = new List<string>();
            var keptInt8 = new List<string>();
            var kept = new List<LayerPrecision>();
            var rounds = new List<double>();
            string description = quantize(model, mode, excluded);
            while (true)
            {
                var errors = LayerErrors(floatModel, model, layers, context, options);
                double output = outputs.Select(o => errors.GetValueOrDefault(o, TensorError.MaxSqnrDb)).Min();
                rounds.Add(output);
                if (output >= options.Network.MinimumOutputSqnrDb) break;
                var candidates = layers.Where(l => !keptFloat.Contains(l.Name) && errors.ContainsKey(l.Output)).ToList();
                if (candidates.Count == 0) break;
                var worst = candidates.OrderByDescending(l => Added(l, errors)).First();
                bool toInt8 = int4 && worst.Int4 && !keptInt8.Contains(worst.Name);
                (toInt8 ? keptInt8 : keptFloat).Add(worst.Name);
                kept.RemoveAll(k => k.Name == worst.Name);
                kept.Add(new LayerPrecision
                {
                    Name = worst.Name, Bits = toInt8 ? 8 : 32, LowerBits = keptInt8.Contains(worst.Name) && !toInt8 ? 8 : lowerBits,
                    AddedSqnrDb = Db(Added(worst, errors)), ExtraBytes = toInt8 ? Int8ExtraBytes(worst.Weights, options) : 0,
                });
                var fresh = floatModel.Clone();
                description = quantize(fresh, mode, excluded.Concat(keptFloat).ToArray(), keptInt8.ToArray());
                Replace(model, fresh);
            }
            context.LayerPrecisions = kept;
            string budget = $" Mixed precision (output SQNR budget {options.Network.MinimumOutputSqnrDb:G3} dB on the calibration rows): output SQNR {string.Join(" → ", rounds.Select(r => $"{r:F1} dB"))}";
            if (kept.Count == 0) return description + $"{budget}; every layer stays quantized.";
            return description + $"{budget}; kept, worst first: {string.Join(", ", kept.Select(k => $"{k.Name} {(k.Bits == 32 ? "float" : "INT8")}"))}"
                + (rounds[^1] >= options.Network.MinimumOutputSqnrDb ? "." : " (budget not met: no layer left to keep).");
        };

    /// <summary>
    /// <see cref="NetworkQuantizationOptions.Int4MaxSizeRatio"/>: quantizes <paramref name="model"/> to INT4, then keeps INT8 the
    /// layers whose 4-bit weights add the most output noise per extra byte (<see cref="WeightNoise"/>: each layer with the
    /// float network's input, on the calibration rows; embedding tables over their rows) while the file stays within the
    /// ratio of the float file's size, and quantizes once more. Returns the stage description.
    /// </summary>
    public static string WithinSize(QuantizeVariant quantize, ModelProto model, ModelProto floatModel, QuantizationOptions options, GraphEditContext context)
    {
        long floatBytes = floatModel.CalculateSize();
        long budget = (long)(options.Network.Int4MaxSizeRatio * floatBytes);
        string description = quantize(model, QuantizationMode.WeightOnly, Array.Empty<string>());
        long bytes = model.CalculateSize();
        string head = $" INT4 mixed precision (size budget {options.Network.Int4MaxSizeRatio:G3}× the float file = {budget:N0} bytes; every layer at 4 bits: {bytes:N0} bytes";
        if (bytes >= budget) return description + head + "): no room to keep a layer INT8.";

        var g = floatModel.Graph;
        var weights = WeightTensors.Find(g, options.ExcludedNodes).Where(w => GraphQuantizer.FitsMatMulNBits(g, w)).ToList();
        var noise = WeightNoise.Int4(floatModel, weights, context, options.Network.MaxCalibrationRows, options.Network.BlockSize)
            .Select(p => (Name: p.Key, Nsr: p.Value, Weights: Elements(g, p.Key))).ToList();
        foreach (var table in EmbeddingQuantizer.Find(g, options.ExcludedNodes))
        {
            var t = OnnxGraphEditor.Initializer(g, table.Name)!;
            if (t.Dims[1] % options.Network.BlockSize == 0) noise.Add((table.Name, WeightNoise.Int4Table(OnnxTensors.ReadFloats(t), t.Dims[1], options.Network.BlockSize), OnnxTensors.ElementCount(t)));
        }
        // Greedy knapsack by noise removed per byte: INT8 leaves about 1/256 of the INT4 noise power, so keeping a
        // layer removes nearly all it adds.
        var ranked = noise.Where(l => l.Nsr > 0).OrderByDescending(l => l.Nsr / Int8ExtraBytes(l.Weights, options)).ToList();
        var chosen = new List<(string Name, double Nsr, long Weights)>();
        long room = budget - bytes;
        foreach (var l in ranked)
        {
            long extra = Int8ExtraBytes(l.Weights, options);
            if (extra > room) continue;
            chosen.Add(l);
            room -= extra;
        }
        // The estimate misses protobuf framing and scale tensors: drop the least useful choice until the file fits.
        while (chosen.Count > 0)
        {
            var fresh = floatModel.Clone();
            var mixed = quantize(fresh, QuantizationMode.WeightOnly, Array.Empty<string>(), chosen.Select(l => l.Name).ToArray());
            if (fresh.CalculateSize() <= budget)
            {
                Replace(model, fresh);
                description = mixed;
                bytes = fresh.CalculateSize();
                break;
            }
            chosen.RemoveAt(chosen.Count - 1);
        }
        chosen = chosen.OrderByDescending(l => l.Nsr).ToList();
        context.LayerPrecisions = chosen.Select(l => new LayerPrecision
        {
            Name = l.Name, Bits = 8, LowerBits = 4, AddedSqnrDb = Db(l.Nsr), ExtraBytes = Int8ExtraBytes(l.Weights, options),
        }).ToList();
        if (chosen.Count == 0) return description + head + "): no layer's INT8 copy fits the budget.";
        return description + head + $"): {chosen.Count} of {noise.Count} layer(s) kept INT8, chosen by 4-bit output noise per extra byte "
            + $"(each layer's output SQNR at 4 bits with float inputs, calibration rows: {string.Join(", ", chosen.Select(l => $"{l.Name} {Db(l.Nsr):F1} dB"))}); "
            + $"{bytes:N0} bytes, {bytes / (double)floatBytes:F3}× the float file.";
    }

    /// <summary>SQNR (dB) of every layer's inputs and output and of the graph outputs, each tensor as the graph computes it.</summary>
    private static Dictionary<string, double> LayerErrors(ModelProto floatModel, ModelProto quantized, List<Layer> layers, GraphEditContext context, QuantizationOptions options)
        => QuantizationMeasurements.Sqnr(floatModel, quantized, layers.SelectMany(l => l.Inputs.Append(l.Output)).Distinct(), context, options.Network.MaxCalibrationRows, asOperatorSees: false)
            .ToDictionary(e => e.Name, e => e.SqnrDb);

    /// <summary>
    /// What the layer adds: the noise-to-signal power ratio of its output minus that of its (noisiest) input; graph
    /// inputs and token ids are exact. Ratios, not dB: a layer that takes 200 dB (exact) to 45 dB adds less noise
    /// than one that takes 40 dB to 35 dB.
    /// </summary>
    private static double Added(Layer l, Dictionary<string, double> errors)
        => Nsr(errors[l.Output]) - l.Inputs.Select(i => Nsr(errors.GetValueOrDefault(i, TensorError.MaxSqnrDb))).DefaultIfEmpty(0).Max();

    private static double Nsr(double db) => Math.Pow(10, -db / 10);

    private static double Db(double nsr) => nsr > 0 ? Math.Round(Math.Min(TensorError.MaxSqnrDb, -10 * Math.Log10(nsr)), 2) : TensorError.MaxSqnrDb;

    /// <summary>Bytes INT8 adds over INT4 for a layer: 1 byte a weight against half a byte plus a float scale per block.</summary>
    private static long Int8ExtraBytes(long weights, QuantizationOptions options) => Math.Max(1, (long)(weights * (0.5 - 4.0 / options.Network.BlockSize)));

    private static void Replace(ModelProto target, ModelProto source)
    {
        target.Graph = source.Graph;
        target.OpsetImport.Clear();
        target.OpsetImport.Add(source.OpsetImport);
    }

    /// <summary>The layers of the float graph that <paramref name="mode"/> quantizes and that are not excluded.</summary>
    private static List<Layer> Layers(ModelProto floatModel, QuantizationMode mode, QuantizationOptions options, IReadOnlyCollection<string> excluded)
    {
        var g = floatModel.Graph;
        var skip = options.ExcludedNodes.Concat(excluded).ToArray();
        bool int4 = mode == QuantizationMode.WeightOnly && options.Precision == Precision.Int4;
        var layers = WeightTensors.Find(g, skip).Select(w => new Layer(w.Name, new[] { w.Consumer.Input[0] }, BiasedOutput(g, w.Consumer),
            Elements(g, w.Name), int4 && GraphQuantizer.FitsMatMulNBits(g, w))).ToList();
        layers.AddRange(EmbeddingQuantizer.Find(g, skip.ToHashSet()).SelectMany(e => e.Gathers.Select(n => new Layer(e.Name, Array.Empty<string>(), n.Output[0],
            Elements(g, e.Name), int4 && OnnxGraphEditor.Initializer(g, e.Name)!.Dims[1] % options.Network.BlockSize == 0))));
        if (mode != QuantizationMode.WeightOnly && (options.Network.QuantizeActivationMatMuls ?? mode == QuantizationMode.Static))
            layers.AddRange(ActivationMatMulQuantizer.Find(g, skip.ToHashSet()).Select(n => new Layer(n.Name, n.Input.ToArray(), n.Output[0], 0, false)));
        return layers.GroupBy(l => l.Name).Select(grp => grp.First()).ToList();
    }

    private static long Elements(GraphProto g, string initializer) => OnnxTensors.ElementCount(OnnxGraphEditor.Initializer(g, initializer)!);

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
