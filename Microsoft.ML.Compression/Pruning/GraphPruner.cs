using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// Magnitude pruning of an ONNX graph: MatMul/Gemm/Conv weights and linear coefficients are zeroed layer by layer;
/// tree ensembles lose their least-varying trees.
/// </summary>
internal static class GraphPruner
{
    /// <param name="model">The graph, edited in place.</param>
    /// <param name="options">Validated options.</param>
    /// <param name="context">The data as the graph's inputs see it.</param>
    public static string Prune(ModelProto model, PruningOptions options, GraphEditContext context)
    {
        var featureInput = context.FeatureInput;
        // Exported predictors are ranked on rows of their feature column; networks are pruned by magnitude alone.
        float[][]? sample = featureInput != null ? context.ReadInput(featureInput, options.MaxCalibrationRows) : null;
        WeightTensors.CheckFinite(model);
        var g = model.Graph;
        if (g.Node.Any(n => n.OpType == "DequantizeLinear"))
            throw new UnsupportedModelException("The model is already quantized; prune it before quantizing (Prune, then Quantize).");
        var trees = TreeEnsembleNode.FindAll(g).ToList();
        if (trees.Count > 0)
        {
            if (sample == null || sample.Length == 0)
                throw new DataMismatchException("Pruning a tree ensemble needs data to rank its trees, and the data view is empty.");
            return TreeEnsemblePruner.Prune(trees, options, sample);
        }

        if (LinearOpRewriter.HasLinearOps(g)) LinearOpRewriter.Rewrite(model);
        var weights = WeightTensors.Find(g, options.ExcludedNodes);
        if (weights.Count == 0)
            throw new UnsupportedModelException("The graph has no float MatMul, Gemm or Conv weights, linear coefficients or tree ensembles to prune.");

        long total = 0, zeroed = 0;
        foreach (var w in weights)
        {
            var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
            var values = OnnxTensors.ReadFloats(tensor);
            var importance = values.Select(Math.Abs).ToArray();
            // A linear model's coefficient matters as much as |w| times the spread of its feature: scale rows of
            // a weight that reads the raw feature input by that feature's standard deviation.
            if (sample is { Length: > 1 } && w.Consumer.OpType == "MatMul" && w.Consumer.Input[0] == featureInput && tensor.Dims.Count == 2)
            {
                var std = StandardDeviations(sample, (int)tensor.Dims[0]);
                int cols = (int)tensor.Dims[1];
                for (int i = 0; i < importance.Length; i++) importance[i] *= std[i / cols];
            }
            int toZero = (int)Math.Floor(options.TargetSparsity * values.Length);
            if (toZero > 0)
            {
                var order = Enumerable.Range(0, values.Length).OrderBy(i => importance[i]).Take(toZero);
                foreach (var i in order) values[i] = 0f;
            }
            var replacement = OnnxTensors.Float(tensor.Name, values, tensor.Dims.ToArray());
            g.Initializer[g.Initializer.IndexOf(tensor)] = replacement;
            total += values.Length;
            zeroed += values.Count(v => v == 0f);
        }
        return $"magnitude pruning of {weights.Count} weight tensor(s) to {options.TargetSparsity:P0} each: {zeroed} of {total} weights are now zero.";
    }

    private static float[] StandardDeviations(float[][] rows, int features)
    {
        var mean = new double[features];
        var sq = new double[features];
        foreach (var r in rows)
            for (int j = 0; j < features && j < r.Length; j++) { mean[j] += r[j]; sq[j] += (double)r[j] * r[j]; }
        var std = new float[features];
        for (int j = 0; j < features; j++)
        {
            double m = mean[j] / rows.Length;
            std[j] = (float)Math.Sqrt(Math.Max(0, sq[j] / rows.Length - m * m));
        }
        return std;
    }
}
