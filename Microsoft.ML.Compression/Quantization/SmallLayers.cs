using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Dynamic and static modes: layers too small to gain from integer arithmetic keep float arithmetic, with their
/// weights stored INT8 and restored when ONNX Runtime loads the graph (<see cref="LoadTimeInt8"/>). Quantizing a
/// layer's input costs a pass over it and a kernel launch on every call; integer arithmetic saves a share of the
/// layer's multiply-adds. Below <see cref="NetworkQuantizationOptions.MinMatMulMultiplyAdds"/> (MatMul/Gemm) or
/// <see cref="NetworkQuantizationOptions.MinConvMultiplyAdds"/> (Conv) multiply-adds per input row, the cost won.
/// </summary>
internal static class SmallLayers
{
    /// <summary>
    /// Multiply-adds per input row of each layer, from one row of the fit data run through the float graph:
    /// MatMul/Gemm = values of the input per row × output channels; Conv = values of the output per row × weights per
    /// output channel. Null when there is no row to run.
    /// </summary>
    public static Dictionary<WeightTensor, long>? MultiplyAdds(ModelProto model, IReadOnlyList<WeightTensor> weights, GraphEditContext context)
    {
        var g = model.Graph;
        var graphInputs = new HashSet<string>(g.Input.Select(i => i.Name));
        string Measured(WeightTensor w) => w.Consumer.OpType == "Conv" ? w.Consumer.Output[0] : w.Consumer.Input[0];
        var inside = weights.Select(Measured).Where(t => !graphInputs.Contains(t)).Distinct().ToArray();
        Dictionary<string, float[][]> rows;
        try
        {
            rows = TensorCapture.Capture(model, inside, context, 1);
        }
        catch (DataMismatchException e) when (e.ColumnName == null)
        {
            // No rows (an upstream transform filtered them all): nothing to measure, so every layer is quantized as
            // before. A missing or ragged input column names its column and still reaches the user.
            return null;
        }
        long PerRow(string tensor) => graphInputs.Contains(tensor)
            ? context.ReadInput(tensor, 1).FirstOrDefault()?.LongLength ?? 0
            : rows.TryGetValue(tensor, out var r) && r.Length > 0 ? r[0].LongLength : 0;
        var result = new Dictionary<WeightTensor, long>();
        foreach (var w in weights)
        {
            var dims = OnnxGraphEditor.Initializer(g, w.Name)!.Dims;
            long total = dims.Aggregate(1L, (a, d) => a * d);
            long outputs = dims[w.ChannelAxis];
            result[w] = w.Consumer.OpType == "Conv" ? PerRow(Measured(w)) * (total / outputs) : PerRow(Measured(w)) * outputs;
        }
        return result;
    }

    /// <summary>
    /// Stores the layers below the thresholds as load-time INT8 and returns the others, which the mode quantizes;
    /// <paramref name="note"/> says which were kept in float arithmetic ("" when none).
    /// </summary>
    public static List<WeightTensor> KeepSmallInFloat(ModelProto model, List<WeightTensor> weights, QuantizationOptions options, GraphEditContext context,
        out List<WeightTensor> small, out string note)
    {
        note = "";
        small = new List<WeightTensor>();
        if (options.Network.MinMatMulMultiplyAdds <= 0 && options.Network.MinConvMultiplyAdds <= 0 || weights.Count == 0) return weights;
        var macs = MultiplyAdds(model, weights, context);
        if (macs == null) return weights;
        bool Small(WeightTensor w) => macs[w] < (w.Consumer.OpType == "Conv" ? options.Network.MinConvMultiplyAdds : options.Network.MinMatMulMultiplyAdds);
        small = weights.Where(Small).ToList();
        if (small.Count == 0) return weights;
        var prologue = new List<NodeProto>();
        double worst = 0;
        foreach (var w in small) worst = Math.Max(worst, LoadTimeInt8.Replace(model.Graph, w, options.PerChannel, prologue));
        for (int i = prologue.Count - 1; i >= 0; i--) model.Graph.Node.Insert(0, prologue[i]);
        string Name(WeightTensor w) => string.IsNullOrEmpty(w.Consumer.Name) ? w.Name : w.Consumer.Name;
        note = $" {small.Count} layer(s) too small to gain from integer arithmetic keep float arithmetic, INT8 weights restored at load " +
               $"({string.Join(", ", small.Select(w => $"{Name(w)} {macs[w]:N0}"))} multiply-adds per row; thresholds: MatMul/Gemm " +
               $"{options.Network.MinMatMulMultiplyAdds:N0}, Conv {options.Network.MinConvMultiplyAdds:N0}; largest weight error {worst:G3}).";
        return weights.Where(w => !Small(w)).ToList();
    }

    /// <summary>
    /// Static mode, after the main pass: QDQ on the input of each small (float) layer that reads the output of a
    /// quantized layer, directly or through Relu, MaxPool, Flatten, Reshape or Transpose. ONNX Runtime fuses a QDQ
    /// Gemm into QGemm only when its output is quantized again: otherwise it first merges Gemm and Relu into a
    /// float FusedGemm and dequantizes the weights on every call (fashion_mlp with only its first layer quantized
    /// ran 2× slower than FP32 at batch 1).
    /// </summary>
    public static string QuantizeInputsFromQuantizedLayers(ModelProto model, List<WeightTensor> small, List<WeightTensor> quantized, QuantizationOptions options, GraphEditContext context)
    {
        if (small.Count == 0 || quantized.Count == 0) return "";
        var g = model.Graph;
        var producer = OnnxGraphEditor.Producers(g);
        var layers = new HashSet<NodeProto>(quantized.Select(w => w.Consumer), ReferenceEqualityComparer.Instance);
        bool FromQuantized(string tensor)
        {
            for (int hops = 0; hops < 16 && producer.TryGetValue(tensor, out var p); hops++)
            {
                if (layers.Contains(p)) return true;
                if (p.OpType is not ("Relu" or "MaxPool" or "Flatten" or "Reshape" or "Transpose") || p.Input.Count == 0) return false;
                tensor = p.Input[0];
            }
            return false;
        }
        var uses = small.Select(w => w.Consumer).Distinct(ReferenceEqualityComparer.Instance).Cast<NodeProto>().Where(n => FromQuantized(n.Input[0])).Select(n => (n, 0)).ToList();
        int tensors = ActivationQdq.Insert(model, uses, options, context);
        return tensors == 0 ? "" : $" {tensors} input(s) of those small layers quantized too, so that the quantized layer before each fuses with its output.";
    }
}
