using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// Weight-only INT8 that costs nothing at run time: the weight is stored as int8 with float scales, and restored by
/// <c>Cast(int8 → float)</c> then <c>Mul(scale)</c>. Both nodes read only initializers, so ONNX Runtime's constant
/// folding turns them back into the float weight once, when it loads the graph, and the operator then runs exactly
/// as in the float model (same kernels, same fusions). With a DequantizeLinear instead, ONNX Runtime keeps the node
/// (it never folds DequantizeLinear, to preserve QDQ groups) and either dequantizes on every call or fuses it into
/// MatMulNBits, and a Conv whose weight is not a constant loses its pre-packed kernel: measured (one core) 1.6×
/// slower than FP32 on the spam Transformer, about 2× on fashion_cnn, 1.1–2.2× on the MLPs.
/// </summary>
internal static class LoadTimeInt8
{
    /// <summary>True for the Cast that this class writes: a Cast whose input is an int8 initializer.</summary>
    public static bool IsRestoreCast(GraphProto g, NodeProto n)
        => n.OpType == "Cast" && n.Input.Count == 1 && OnnxGraphEditor.Initializer(g, n.Input[0]) is { DataType: OnnxType.Int8 };

    /// <summary>
    /// Replaces the float initializer of <paramref name="w"/> by int8 values and scales (symmetric, per output channel
    /// or per tensor) and adds to <paramref name="prologue"/> the Cast and Mul that give the old name back.
    /// Returns the largest absolute weight error.
    /// </summary>
    public static double Replace(GraphProto g, WeightTensor w, bool perChannel, List<NodeProto> prologue)
    {
        // Per channel: the scales keep the weight's rank with 1 everywhere but the channel axis, so Mul broadcasts them.
        var (castName, sName, worst) = CastToFloat(g, w, perChannel, prologue, (dims, i, d) => i == w.ChannelAxis ? d : 1L);
        prologue.Add(OnnxGraphEditor.Node("Mul", new[] { castName, sName }, new[] { w.Name }, castName + "_scale"));
        return worst;
    }

    /// <summary>
    /// The shared half of both forms: <paramref name="w"/>'s float initializer replaced by int8 values and a scale
    /// initializer (whose dims, per channel, <paramref name="scaleDim"/> gives from the weight's), and the Cast of the
    /// int8 values to float added to <paramref name="prologue"/>. Returns the Cast's output, the scale's name and the
    /// largest absolute weight error.
    /// </summary>
    private static (string Cast, string Scale, double Worst) CastToFloat(GraphProto g, WeightTensor w, bool perChannel, List<NodeProto> prologue, Func<long[], int, long, long> scaleDim)
    {
        var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
        var dims = tensor.Dims.ToArray();
        g.Initializer.Remove(tensor);
        var (q, scales, worst) = GraphQuantizer.SymmetricInt8(OnnxTensors.FloatsInPlace(tensor), dims, w.ChannelAxis, perChannel);
        var qName = OnnxGraphEditor.UniqueName(g, w.Name + "_quantized");
        var sName = OnnxGraphEditor.UniqueName(g, w.Name + "_scale");
        var castName = OnnxGraphEditor.UniqueName(g, w.Name + "_int8_as_float");
        g.Initializer.Add(OnnxTensors.Int8(qName, q, dims));
        var scaleDims = perChannel ? dims.Select((d, i) => scaleDim(dims, i, d)).Where(d => d > 0).ToArray() : Array.Empty<long>();
        g.Initializer.Add(OnnxTensors.Float(sName, scales, scaleDims));
        prologue.Add(OnnxGraphEditor.Node("Cast", new[] { qName }, new[] { castName }, castName).WithInt("to", OnnxType.Float));
        return (castName, sName, worst);
    }

    /// <summary>
    /// <see cref="Replace"/> for the weight of a MatMul, with the scale applied to the product instead of the weight:
    /// y = (x · Cast(q)) · s. A scale per output channel (the weight's last axis, which is the product's last axis) or
    /// per tensor factors out of the sum, so ONNX Runtime folds only the Cast when it loads the graph: one float copy
    /// of each weight instead of two (the folding pass holds every Cast's output and every Mul's until it ends;
    /// loading weight-only INT8 of a 512 MB network peaked at 1.3 GB that way, 0.8 GB this way). For large graphs only
    /// (see the caller): the extra Mul is a pass over each layer's output, and a MatMul followed by it no longer fuses
    /// with a bias Add. Returns null, changing nothing, unless <paramref name="w"/> is read by its MatMul alone
    /// (<paramref name="readers"/>: how many node inputs read each name).
    /// </summary>
    public static double? ReplaceScalingProduct(GraphProto g, WeightTensor w, bool perChannel, List<NodeProto> prologue, IReadOnlyDictionary<string, int> readers)
    {
        var matMul = w.Consumer;
        var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
        if (matMul.OpType != "MatMul" || matMul.Input.Count != 2 || matMul.Input[1] != w.Name || matMul.Output.Count != 1
            || w.ChannelAxis != tensor.Dims.Count - 1 || readers.GetValueOrDefault(w.Name) != 1 || g.Output.Any(o => o.Name == w.Name))
            return null;
        int at = g.Node.IndexOf(matMul);
        if (at < 0) return null;
        // Per channel: one scale per element of the product's last axis (the weight's last), which Mul broadcasts over the rows.
        var (castName, sName, worst) = CastToFloat(g, w, perChannel, prologue, (dims, i, d) => i == dims.Length - 1 ? d : 0L);
        var product = matMul.Output[0];
        var unscaled = OnnxGraphEditor.UniqueName(g, product + "_unscaled");
        matMul.Input[1] = castName;
        matMul.Output[0] = unscaled;
        g.Node.Insert(at + 1, OnnxGraphEditor.Node("Mul", new[] { unscaled, sName }, new[] { product }, unscaled + "_scale"));
        return worst;
    }

    /// <summary>How many node inputs read each name (a subgraph's reads of an outer name count too, as one more).</summary>
    public static Dictionary<string, int> Readers(GraphProto g)
    {
        var readers = new Dictionary<string, int>(StringComparer.Ordinal);
        void Count(GraphProto graph)
        {
            foreach (var n in graph.Node)
            {
                foreach (var i in n.Input) readers[i] = readers.GetValueOrDefault(i) + 1;
                foreach (var a in n.Attribute)
                {
                    if (a.G != null) Count(a.G);
                    foreach (var sub in a.Graphs) Count(sub);
                }
            }
        }
        Count(g);
        return readers;
    }
}
