using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Static mode, <see cref="NetworkQuantizationOptions.SmoothActivations"/>: moves per-channel outliers of a MatMul input into
/// its weights before ranges are recorded (SmoothQuant, α = 0.5). ONNX Runtime's integer MatMuls take one scale per
/// activation tensor, so a few channels 10–30× larger than the rest (a Transformer's LayerNorm outputs) leave the
/// other channels a handful of levels. X·W = (X·diag(1/s))·(diag(s)·W) is exact in float: a Mul by 1/s is inserted
/// on the activation (one multiply per value, against hundreds of multiply-adds in the MatMul) and each weight row k
/// is multiplied by s_k = sqrt(max|X_k| / max|W_k|), which evens out the activation and weight ranges.
/// </summary>
internal static class ActivationSmoothing
{
    public static string Apply(ModelProto model, List<WeightTensor> weights, QuantizationOptions options, GraphEditContext context)
    {
        var g = model.Graph;
        // One scale vector per activation, shared by the MatMuls that read it.
        var groups = MatMulInputChannels.Measure(model, weights, options, context);
        int smoothed = 0;
        double largestRatio = 0;
        foreach (var group in groups)
        {
            var xMax = group.ChannelMax;
            int k = xMax.Length;
            var tensors = group.Layers.Select(w => OnnxGraphEditor.Initializer(g, w.Name)!).ToList();
            var values = tensors.Select(OnnxTensors.ReadFloats).ToList();
            var wMax = new float[k];
            for (int t = 0; t < tensors.Count; t++)
            {
                int n = (int)tensors[t].Dims[1];
                for (int r = 0; r < k; r++)
                    for (int c = 0; c < n; c++) wMax[r] = Math.Max(wMax[r], Math.Abs(values[t][r * n + c]));
            }
            var s = new float[k];
            for (int r = 0; r < k; r++) s[r] = xMax[r] > 0 && wMax[r] > 0 ? (float)Math.Sqrt(xMax[r] / wMax[r]) : 1f;
            var sorted = xMax.OrderBy(v => v).ToArray();
            if (sorted[k / 2] > 0) largestRatio = Math.Max(largestRatio, sorted[^1] / sorted[k / 2]);
            for (int t = 0; t < tensors.Count; t++)
            {
                int n = (int)tensors[t].Dims[1];
                var scaled = values[t];
                for (int r = 0; r < k; r++)
                    for (int c = 0; c < n; c++) scaled[r * n + c] *= s[r];
                var replacement = OnnxTensors.Float(tensors[t].Name, scaled, tensors[t].Dims.ToArray());
                g.Initializer[g.Initializer.IndexOf(tensors[t])] = replacement;
            }
            var inverse = OnnxGraphEditor.UniqueName(g, group.Input + "_smooth_scale");
            var output = OnnxGraphEditor.UniqueName(g, group.Input + "_smoothed");
            g.Initializer.Add(OnnxTensors.Float(inverse, s.Select(v => 1f / v).ToArray(), k));
            var mul = OnnxGraphEditor.Node("Mul", new[] { group.Input, inverse }, new[] { output }, output);
            int at = g.Node.IndexOf(group.Layers.Select(w => w.Consumer).OrderBy(n => g.Node.IndexOf(n)).First());
            g.Node.Insert(at, mul);
            foreach (var w in group.Layers) w.Consumer.Input[0] = output;
            smoothed++;
        }
        return smoothed == 0 ? "" : $" Activation outliers moved into the weights (SmoothQuant, α 0.5) on {smoothed} MatMul input(s) (largest channel up to {largestRatio:F0}× the median channel).";
    }
}
