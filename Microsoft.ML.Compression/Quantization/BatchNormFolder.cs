using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Folds an inference-mode BatchNormalization that directly follows a Conv or Gemm into that layer's weight and
/// bias, so that the quantizer sees Conv → Relu (which ONNX Runtime fuses into QLinearConv) instead of
/// Conv → BatchNormalization → Relu (which stays float between a dequantize and a quantize). Exact in real
/// arithmetic: y = γ·(Wx + b − μ)/√(σ² + ε) + β = (s·W)x + (s·(b − μ) + β) with s = γ/√(σ² + ε).
/// </summary>
internal static class BatchNormFolder
{
    /// <summary>Folds every foldable pair; returns how many BatchNormalization nodes were removed.</summary>
    public static int Fold(GraphProto g)
    {
        int folded = 0;
        var outputs = new HashSet<string>(g.Output.Select(o => o.Name));
        foreach (var bn in g.Node.Where(n => n.OpType == "BatchNormalization" && string.IsNullOrEmpty(n.Domain)).ToList())
        {
            if (bn.Input.Count < 5 || bn.Output.Count != 1) continue; // training mode has running statistics as outputs
            if ((OnnxGraphEditor.Attribute(bn, "training_mode")?.I ?? 0) != 0) continue;
            if (OnnxGraphEditor.Attribute(bn, "spatial") is { } spatial && spatial.I == 0) continue;
            var layer = g.Node.FirstOrDefault(n => n.Output.Count > 0 && n.Output[0] == bn.Input[0]);
            if (layer == null || layer.OpType is not ("Conv" or "Gemm") || !string.IsNullOrEmpty(layer.Domain) || layer.Input.Count < 2) continue;
            if (outputs.Contains(layer.Output[0]) || g.Node.Count(n => n.Input.Contains(layer.Output[0])) != 1) continue;
            var w = OnnxGraphEditor.Initializer(g, layer.Input[1]);
            var p = bn.Input.Skip(1).Take(4).Select(name => OnnxGraphEditor.Initializer(g, name)).ToArray();
            if (w == null || w.DataType != OnnxType.Float || p.Any(t => t == null || t.DataType != OnnxType.Float)) continue;
            if (g.Node.Count(n => n.Input.Contains(w.Name)) != 1) continue; // a shared weight cannot take one layer's scale
            var gamma = OnnxTensors.ReadFloats(p[0]!);
            var beta = OnnxTensors.ReadFloats(p[1]!);
            var mean = OnnxTensors.ReadFloats(p[2]!);
            var variance = OnnxTensors.ReadFloats(p[3]!);
            float eps = OnnxGraphEditor.Attribute(bn, "epsilon")?.F ?? 1e-5f;
            int channels = gamma.Length;
            if (beta.Length != channels || mean.Length != channels || variance.Length != channels) continue;

            // The output-channel axis of the weight, and the bias the layer adds today.
            int axis;
            float alpha = 1f, biasScale = 1f;
            if (layer.OpType == "Conv")
            {
                if (w.Dims.Count < 3 || w.Dims[0] != channels) continue;
                axis = 0;
            }
            else
            {
                if (w.Dims.Count != 2) continue;
                axis = (OnnxGraphEditor.Attribute(layer, "transB")?.I ?? 0) == 1 ? 0 : 1;
                if (w.Dims[axis] != channels) continue;
                alpha = OnnxGraphEditor.Attribute(layer, "alpha")?.F ?? 1f;
                biasScale = OnnxGraphEditor.Attribute(layer, "beta")?.F ?? 1f;
            }
            var bias = new float[channels];
            TensorProto? oldBias = null;
            if (layer.Input.Count > 2 && !string.IsNullOrEmpty(layer.Input[2]))
            {
                oldBias = OnnxGraphEditor.Initializer(g, layer.Input[2]);
                if (oldBias == null || oldBias.DataType != OnnxType.Float || g.Node.Count(n => n.Input.Contains(oldBias.Name)) != 1) continue;
                var b = OnnxTensors.ReadFloats(oldBias);
                if (b.Length == channels && (oldBias.Dims.Count == 1 || layer.OpType == "Gemm" && oldBias.Dims.Count == 2 && oldBias.Dims[0] == 1))
                    for (int c = 0; c < channels; c++) bias[c] = biasScale * b[c];
                else if (b.Length == 1 && layer.OpType == "Gemm")
                    for (int c = 0; c < channels; c++) bias[c] = biasScale * b[0];
                else continue;
            }

            var scale = new float[channels];
            for (int c = 0; c < channels; c++) scale[c] = (float)(gamma[c] / Math.Sqrt((double)variance[c] + eps));
            var values = OnnxTensors.ReadFloats(w);
            var channelOf = WeightTensors.ChannelOf(w.Dims, axis);
            for (int i = 0; i < values.Length; i++) values[i] *= scale[channelOf[i]];
            var newBias = new float[channels];
            for (int c = 0; c < channels; c++) newBias[c] = (float)(scale[c] * ((double)bias[c] - mean[c]) + beta[c]);
            _ = alpha; // alpha multiplies the folded weight as it did the old one

            var dims = w.Dims.ToArray();
            int wIndex = g.Initializer.IndexOf(w);
            g.Initializer[wIndex] = OnnxTensors.Float(w.Name, values, dims);
            if (oldBias != null) RemoveInitializer(g, oldBias);
            var biasName = oldBias?.Name ?? OnnxGraphEditor.UniqueName(g, (layer.Name.Length > 0 ? layer.Name : layer.Output[0]) + "_folded_bias");
            g.Initializer.Add(OnnxTensors.Float(biasName, newBias, channels));
            if (layer.Input.Count > 2) layer.Input[2] = biasName; else layer.Input.Add(biasName);
            if (layer.OpType == "Gemm")
            {
                var b = OnnxGraphEditor.Attribute(layer, "beta");
                if (b != null) b.F = 1f;
            }
            // The layer now writes the BatchNormalization's output; BN parameters no longer used are dropped.
            layer.Output[0] = bn.Output[0];
            g.Node.Remove(bn);
            foreach (var t in p)
                if (!g.Node.Any(n => n.Input.Contains(t!.Name)) && !outputs.Contains(t!.Name)) RemoveInitializer(g, t);
            var staleInfo = g.ValueInfo.FirstOrDefault(v => v.Name == bn.Input[0]);
            if (staleInfo != null) g.ValueInfo.Remove(staleInfo);
            folded++;
        }
        return folded;
    }

    /// <summary>Removes an initializer and, in graphs that also list initializers as inputs (IR &lt; 4 style), that input.</summary>
    private static void RemoveInitializer(GraphProto g, TensorProto t)
    {
        g.Initializer.Remove(t);
        var input = g.Input.FirstOrDefault(i => i.Name == t.Name);
        if (input != null) g.Input.Remove(input);
    }
}
