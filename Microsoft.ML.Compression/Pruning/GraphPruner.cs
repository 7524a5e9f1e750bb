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
        // Exported predictors are ranked on rows of their feature column.
        float[][]? sample = context.FeatureInput != null ? context.ReadInput(context.FeatureInput, options.MaxCalibrationRows) : null;
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
        if (options.Granularity == PruningGranularity.Structured) return StructuredPruner.Prune(model, options);
        var weights = WeightTensors.Find(g, options.ExcludedNodes);
        if (weights.Count == 0)
            throw new UnsupportedModelException("The graph has no float MatMul, Gemm or Conv weights, linear coefficients or tree ensembles to prune.");

        long total = 0, zeroed = 0;
        int reconstructed = 0;
        foreach (var w in weights)
        {
            var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
            var values = OnnxTensors.ReadFloats(tensor);
            var original = values.ToArray();
            var importance = values.Select(Math.Abs).ToArray();
            // Rows of this layer's input, when the layer reads a graph input directly (linear models, first layers).
            var layerInput = LayerInputRows(w, tensor, context, options);
            // A linear model's coefficient matters as much as |w| times the spread of its feature: scale rows of
            // a weight that reads the raw feature input by that feature's standard deviation.
            if (layerInput is { Length: > 1 } && w.Consumer.OpType == "MatMul")
            {
                var std = StandardDeviations(layerInput, (int)tensor.Dims[0]);
                int cols = (int)tensor.Dims[1];
                for (int i = 0; i < importance.Length; i++) importance[i] *= std[i / cols];
            }
            int toZero = options.Granularity == PruningGranularity.SemiStructured ? 1 : (int)Math.Floor(options.TargetSparsity * values.Length);
            if (toZero > 0)
            {
                if (options.Granularity == PruningGranularity.SemiStructured)
                    SemiStructured.Apply(values, importance, tensor.Dims, w.ChannelAxis, options.SemiStructuredN, options.SemiStructuredM);
                else
                    foreach (var i in Enumerable.Range(0, values.Length).OrderBy(i => importance[i]).Take(toZero)) values[i] = 0f;
                if (options.Reconstruct && layerInput is { Length: > 1 } && w.Consumer.OpType == "MatMul" && tensor.Dims[0] <= LayerReconstruction.MaxInputs)
                {
                    var shift = LayerReconstruction.Refit(values, original, (int)tensor.Dims[0], (int)tensor.Dims[1], layerInput);
                    AddToBias(g, w.Consumer, shift);
                    reconstructed++;
                }
            }
            var replacement = OnnxTensors.Float(tensor.Name, values, tensor.Dims.ToArray());
            g.Initializer[g.Initializer.IndexOf(tensor)] = replacement;
            total += values.Length;
            zeroed += values.Count(v => v == 0f);
        }
        var rebuilt = reconstructed > 0 ? $"; the kept weights of {reconstructed} layer(s) were refitted by least squares to reproduce the layer's output on the data, with bias correction" : "";
        var pattern = options.Granularity == PruningGranularity.SemiStructured ? $"{options.SemiStructuredN}:{options.SemiStructuredM} semi-structured" : $"to {options.TargetSparsity:P0} each";
        return $"magnitude pruning of {weights.Count} weight tensor(s) {pattern}: {zeroed} of {total} weights are now zero{rebuilt}.";
    }

    /// <summary>Calibration rows of a MatMul's input when that input is a graph input (null otherwise).</summary>
    private static float[][]? LayerInputRows(WeightTensor w, TensorProto tensor, GraphEditContext context, PruningOptions options)
    {
        if (w.Consumer.OpType != "MatMul" || tensor.Dims.Count != 2 || !context.GraphInputs.Contains(w.Consumer.Input[0])) return null;
        var rows = context.ReadInput(w.Consumer.Input[0], options.MaxCalibrationRows);
        return rows.Length > 0 && rows[0].Length == tensor.Dims[0] ? rows : null;
    }

    /// <summary>Adds <paramref name="shift"/> to the bias initializer of the Add that follows a MatMul, if there is one.</summary>
    private static void AddToBias(GraphProto g, NodeProto matMul, double[] shift)
    {
        var add = g.Node.FirstOrDefault(n => n.OpType == "Add" && n.Input.Contains(matMul.Output[0]));
        var biasName = add?.Input.FirstOrDefault(i => i != matMul.Output[0]);
        var bias = biasName == null ? null : OnnxGraphEditor.Initializer(g, biasName);
        if (bias == null || OnnxTensors.ElementCount(bias) != shift.Length) return; // no bias to correct: weights alone reconstruct
        var values = OnnxTensors.ReadFloats(bias);
        for (int i = 0; i < values.Length; i++) values[i] += (float)shift[i];
        g.Initializer[g.Initializer.IndexOf(bias)] = OnnxTensors.Float(bias.Name, values, bias.Dims.ToArray());
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
