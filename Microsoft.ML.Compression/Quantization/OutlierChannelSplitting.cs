using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Static mode, <see cref="NetworkQuantizationOptions.SplitOutlierChannels"/> (default on): outlier channel splitting (Zhao et al.,
/// 2019). ONNX Runtime's integer MatMuls take one scale per activation tensor, so a few input channels 10–30× larger
/// than the rest (a Transformer's LayerNorm outputs) leave the other channels a handful of levels. Each such channel
/// j is split into c copies that each carry x_j / c, with weight row j repeated c times:
/// Σ over the copies of (x_j / c)·w_j = x_j·w_j, exact in float. Unlike SmoothQuant the weights keep their values
/// (a row is only repeated), so their per-channel scales do not grow; the activation's range shrinks by up to c.
/// The cost is a Mul, a Gather and a Concat on the activation and a few more rows in the MatMul (at most
/// <see cref="MaxExtraShare"/> of its inputs). On the pretrained sentence encoder of the benchmarks the largest
/// LayerNorm-output channel was 10× the 90th-percentile channel; splitting every input to 1.5× raised static INT8's
/// top-10 neighbour overlap with FP32 from 0.90 to 0.94 at about a fifth more time per batch (docs/benchmarks.md);
/// splitting only the inputs with the strongest outliers kept most of the time but not the overlap.
/// </summary>
internal static class OutlierChannelSplitting
{
    /// <summary>Most extra input rows per MatMul, as a share of its inputs.</summary>
    internal const double MaxExtraShare = 0.05;

    /// <summary>Splitting stops once no channel's copies exceed this multiple of the 90th-percentile channel.</summary>
    internal const double TargetRatio = 1.5;

    /// <summary>Splits the outlier channels of every weight MatMul's input; <paramref name="factors"/> receives the names of the factor vectors added, for the steps after this one to leave alone.</summary>
    public static string Apply(ModelProto model, List<WeightTensor> weights, QuantizationOptions options, GraphEditContext context, List<string> factors)
    {
        var g = model.Graph;
        if (OnnxGraphEditor.OpsetVersion(model) < 11) return ""; // Gather with a negative axis
        int split = 0, extraRows = 0;
        double rangeBefore = 0, rangeAfter = 0;
        // A graph input is left as it comes (the default is on for every static quantization; splitting the caller's
        // raw features was never measured).
        foreach (var group in MatMulInputChannels.Measure(model, weights, options, context, graphInputs: false))
        {
            var tensors = group.Layers.Select(w => OnnxGraphEditor.Initializer(g, w.Name)!).ToList();
            var xMax = group.ChannelMax;
            int k = xMax.Length;
            var copies = Copies(xMax, (int)Math.Floor(MaxExtraShare * k));
            int extra = copies.Sum() - k;
            if (extra == 0) continue;

            // The input's channels, each split one divided by its copy count, then the further copies of the split
            // channels appended: Mul, Gather of those few channels from the divided input (each copy carries the
            // same x_j / c_j), Concat on the last axis. (A Gather of every channel instead copied value by value and
            // made the encoder slower than FP32; gathering from the undivided input and dividing again cost a second
            // pass, 1.6 % of the encoder's time.)
            var index = Enumerable.Range(0, k).Select(i => (long)i).ToList();
            for (int j = 0; j < k; j++)
                for (int c = 1; c < copies[j]; c++) index.Add(j);
            var extraIndex = index.Skip(k).ToArray();
            var names = new[] { "_split_factor", "_split_scaled", "_split_index", "_split_copies", "_split" }
                .Select(suffix => OnnxGraphEditor.UniqueName(g, group.Input + suffix)).ToArray();
            g.Initializer.Add(OnnxTensors.Float(names[0], Enumerable.Range(0, k).Select(j => 1f / copies[j]).ToArray(), k));
            g.Initializer.Add(OnnxTensors.Int64(names[2], extraIndex, extraIndex.Length));
            factors.Add(names[0]);
            var output = names[4];
            int at = g.Node.IndexOf(group.Layers.Select(w => w.Consumer).OrderBy(n => g.Node.IndexOf(n)).First());
            g.Node.Insert(at, OnnxGraphEditor.Node("Mul", new[] { group.Input, names[0] }, new[] { names[1] }, names[1]));
            g.Node.Insert(at + 1, OnnxGraphEditor.Node("Gather", new[] { names[1], names[2] }, new[] { names[3] }, names[3]).WithInt("axis", -1));
            g.Node.Insert(at + 2, OnnxGraphEditor.Node("Concat", new[] { names[1], names[3] }, new[] { output }, output).WithInt("axis", -1));
            for (int t = 0; t < tensors.Count; t++)
            {
                // The rows are copied from the weight's own bytes straight into the new tensor's: a float array of the
                // weight and one of the result, then the tensor's copy of it, were three model-sized temporaries for
                // every weight of a network (static INT8 of a 512 MB network: 1.36 GB more resident after this step).
                int n = (int)tensors[t].Dims[1];
                var values = OnnxTensors.FloatsInPlace(tensors[t]);
                var raw = new byte[(long)index.Count * n * sizeof(float)];
                var repeated = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw.AsSpan());
                for (int r = 0; r < index.Count; r++) values.Slice((int)index[r] * n, n).CopyTo(repeated.Slice(r * n, n));
                g.Initializer[g.Initializer.IndexOf(tensors[t])] = OnnxTensors.FloatOver(tensors[t].Name, raw, index.Count, n);
            }
            foreach (var w in group.Layers) w.Consumer.Input[0] = output;
            split++;
            extraRows += extra;
            rangeBefore = Math.Max(rangeBefore, xMax.Max() / Percentile90(xMax));
            rangeAfter = Math.Max(rangeAfter, xMax.Select((v, j) => v / copies[j]).Max() / Percentile90(xMax));
        }
        g.ValueInfo.Clear(); // the MatMuls' inputs are wider now; ONNX Runtime infers the shapes again
        return split == 0 ? "" : $" Outlier channels split on {split} MatMul input(s) ({extraRows} extra input row(s) in all; largest channel {rangeBefore:F0}× → {rangeAfter:F1}× the 90th-percentile channel).";
    }

    /// <summary>
    /// How many copies each channel gets: the channel with the largest share x_j / c_j gains a copy until the
    /// largest is within <see cref="TargetRatio"/> of the 90th-percentile channel or <paramref name="maxExtra"/> copies are added.
    /// </summary>
    internal static int[] Copies(double[] channelMax, int maxExtra)
    {
        var copies = Enumerable.Repeat(1, channelMax.Length).ToArray();
        double reference = Percentile90(channelMax);
        if (reference <= 0) return copies;
        var queue = new PriorityQueue<int, double>();
        for (int j = 0; j < channelMax.Length; j++) queue.Enqueue(j, -channelMax[j]);
        for (int added = 0; added < maxExtra && queue.TryDequeue(out int top, out double negative); added++)
        {
            if (-negative <= TargetRatio * reference) break;
            copies[top]++;
            queue.Enqueue(top, -channelMax[top] / copies[top]);
        }
        return copies;
    }

    private static double Percentile90(double[] values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted[(int)(0.9 * (sorted.Length - 1))];
    }
}
