using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Quantization;
using Onnx;

namespace Microsoft.ML.Compression.Linear;

/// <summary>
/// A native linear model as one linear layer (<c>Features × W + b</c>, W stored [features, classes] as in a MatMul),
/// the form the network pruner edits, and the weight grids of quantization applied to its weights directly.
/// </summary>
internal static class LinearLayer
{
    private const string Weight = "coefficients", Bias = "intercepts", Output = "Score";

    public static ModelProto ToGraph(NativeLinearModel model, string input)
    {
        int f = model.FeatureCount, k = model.ClassCount;
        var w = new float[f * k];
        for (int c = 0; c < k; c++)
            for (int i = 0; i < f; i++) w[i * k + c] = model.Weights[c][i];
        var graph = new GraphProto { Name = "linear" };
        graph.Input.Add(OnnxGraphEditor.TensorValue(input, OnnxType.Float, -1, f));
        graph.Output.Add(OnnxGraphEditor.TensorValue(Output, OnnxType.Float, -1, k));
        graph.Initializer.Add(OnnxTensors.Float(Weight, w, new long[] { f, k }));
        graph.Initializer.Add(OnnxTensors.Float(Bias, model.Biases, new long[] { k }));
        graph.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { input, Weight }, new[] { "product" }, "LinearModel"));
        graph.Node.Add(OnnxGraphEditor.Node("Add", new[] { "product", Bias }, new[] { Output }, "LinearModelBias"));
        var proto = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Microsoft.ML.Compression" };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return proto;
    }

    public static (float[][] Weights, float[] Biases) FromGraph(ModelProto graph, NativeLinearModel model)
    {
        var w = OnnxGraphEditor.Initializer(graph.Graph, Weight);
        var b = OnnxGraphEditor.Initializer(graph.Graph, Bias);
        int f = model.FeatureCount, k = model.ClassCount;
        if (w == null || b == null || w.Dims.Count != 2 || w.Dims[0] != f || w.Dims[1] != k)
            throw new InvalidOperationException("The pruned linear layer changed shape.");
        var values = OnnxTensors.ReadFloats(w);
        var weights = new float[k][];
        for (int c = 0; c < k; c++)
        {
            weights[c] = new float[f];
            for (int i = 0; i < f; i++) weights[c][i] = values[i * k + c];
        }
        return (weights, OnnxTensors.ReadFloats(b));
    }

    /// <summary>The weights on the grid quantization stores them on (the ONNX form's weight-only grids); returns the largest error.</summary>
    public static (float[][] Weights, double Worst) Round(float[][] weights, QuantizationOptions options)
    {
        int k = weights.Length, f = weights[0].Length;
        var result = weights.Select(r => (float[])r.Clone()).ToArray();
        if (options.Precision == Precision.Float16)
        {
            foreach (var row in result)
                for (int i = 0; i < row.Length; i++) row[i] = (float)(Half)Math.Clamp(row[i], -65504f, 65504f);
        }
        else if (options.Precision == Precision.Int4)
        {
            int bs = options.Network.BlockSize;
            foreach (var row in result)
                for (int from = 0; from < f; from += bs)
                {
                    int to = Math.Min(f, from + bs);
                    float max = 0;
                    for (int i = from; i < to; i++) max = Math.Max(max, Math.Abs(row[i]));
                    float s = max > 0 ? max / 7f : 1f;
                    for (int i = from; i < to; i++) row[i] = Math.Clamp(MathF.Round(row[i] / s), -8, 7) * s;
                }
        }
        else
        {
            // [features, classes] with the class as the channel axis, as the ONNX form's MatMul weight.
            var flat = new float[f * k];
            for (int c = 0; c < k; c++)
                for (int i = 0; i < f; i++) flat[i * k + c] = weights[c][i];
            var (q, scales, _) = GraphQuantizer.SymmetricInt8(flat, new long[] { f, k }, 1, options.PerChannel);
            for (int c = 0; c < k; c++)
                for (int i = 0; i < f; i++) result[c][i] = q[i * k + c] * scales[options.PerChannel ? c : 0];
        }
        double worst = 0;
        for (int c = 0; c < k; c++)
            for (int i = 0; i < f; i++) worst = Math.Max(worst, Math.Abs(result[c][i] - weights[c][i]));
        return (result, worst);
    }
}
