using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// Pruning of an ONNX graph: MatMul/Gemm/Conv weights and linear coefficients are zeroed (per layer, globally or
/// N:M) and the kept ones reconstructed from data; or whole neurons/channels are removed (structured); tree
/// ensembles are re-weighted onto fewer trees.
/// </summary>
internal static class GraphPruner
{
    /// <param name="model">The graph, edited in place.</param>
    /// <param name="options">Validated options.</param>
    /// <param name="context">The data as the graph's inputs see it.</param>
    public static string Prune(ModelProto model, PruningOptions options, GraphEditContext context)
    {
        TreeEnsembleCompactor.Expand(model); // an earlier stage's compact trees: edited in the opset-2 form
        WeightTensors.CheckFinite(model);
        var g = model.Graph;
        if (g.Node.Any(n => n.OpType == "DequantizeLinear" || Quantization.LoadTimeInt8.IsRestoreCast(g, n)))
            throw new UnsupportedModelException("The model is already quantized; prune it before quantizing (Prune, then Quantize).");
        var trees = TreeEnsembleNode.FindAll(g).ToList();
        if (trees.Count > 0)
        {
            // Exported predictors are ranked on rows of their feature column.
            var sample = context.FeatureInput != null ? context.ReadInput(context.FeatureInput, options.MaxCalibrationRows) : null;
            if (sample == null || sample.Length == 0)
                throw new DataMismatchException("Pruning a tree ensemble needs data to rank its trees, and the data view is empty.");
            return TreeEnsemblePruner.Prune(trees, options, sample) + TreeEnsembleCompactor.Store(model, options.Trees.Storage);
        }

        if (LinearOpRewriter.HasLinearOps(g)) LinearOpRewriter.Rewrite(model);
        CheckLayerNames(g, options);
        if (options.Network.Granularity == PruningGranularity.Structured) return StructuredPruner.Prune(model, options, context);
        var weights = WeightTensors.Find(g, options.ExcludedNodes);
        if (weights.Count == 0)
            throw new UnsupportedModelException("The graph has no float MatMul, Gemm or Conv weights, linear coefficients or tree ensembles to prune.");
        var globalSparsity = options.Network.Scope == PruningScope.Global && options.Network.Granularity == PruningGranularity.Unstructured
            ? GlobalSparsities(model, weights, context, options) : null;

        long total = 0, zeroed = 0;
        var layerZeroed = new List<(string Name, long Zeroed, long Size)>();
        int reconstructed = 0, secondOrder = 0;
        foreach (var w in weights)
        {
            var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
            var values = OnnxTensors.ReadFloats(tensor);
            var (matrix, transposed, inputs, outputs, patches) = Layout(w, tensor);
            var view = transposed ? Transpose(values, outputs, inputs) : values;
            var importance = view.Select(Math.Abs).ToArray();
            double sparsity = SparsityOf(options, w, globalSparsity);
            int toZero = options.Network.Granularity == PruningGranularity.SemiStructured ? 1 : (int)Math.Floor(sparsity * view.Length);
            // A layer left dense needs neither its input rows nor their spread: skipping them keeps a sensitivity
            // sweep, which prunes one layer at a time, from recording every layer of the network on every fit.
            // Rows of this layer's input: read directly when it is a model input (linear models, first layers),
            // recorded with ONNX Runtime for the inner layers of a network (image patches for a Conv).
            var layerInput = matrix && toZero > 0 ? LayerInputRows(model, w, inputs, context, options, patches) : null;
            // A weight matters as much as |w| times the spread of the input it multiplies (OBS-style saliency).
            // Inputs too wide to hold as rows (text n-grams) read a model input's spread in one streamed pass.
            float[]? spread = layerInput is { Length: > 1 } ? StandardDeviations(layerInput, inputs)
                : matrix && toZero > 0 && inputs > LayerReconstruction.MaxInputs && context.GraphInputs.Contains(w.Consumer.Input[0]) ? context.InputSpread(w.Consumer.Input[0], options.MaxCalibrationRows)
                : null;
            if (spread != null)
                for (int i = 0; i < importance.Length; i++) importance[i] *= spread[i / outputs];
            if (toZero > 0)
            {
                bool rebuild = options.Reconstruct && layerInput is { Length: > 1 } && inputs <= LayerReconstruction.MaxInputs;
                var original = view.ToArray();
                bool semi = options.Network.Granularity == PruningGranularity.SemiStructured;
                if (rebuild && inputs <= SparseGpt.MaxInputs)
                {
                    // The mask is chosen with second-order information as the weights are updated (SparseGPT):
                    // far better than |w| x spread at high per-layer sparsity (fashion MLP 90%: 82.6% vs 73.6%).
                    secondOrder++;
                    SparseGpt.Prune(view, inputs, outputs, layerInput!, sparsity, semi ? options.Network.SemiStructuredN : 0,
                        semi ? options.Network.SemiStructuredM : 0, withBias: BiasOf(g, w.Consumer, outputs) != null);
                }
                else if (semi)
                    SemiStructured.Apply(view, importance, matrix ? new long[] { inputs, outputs } : tensor.Dims, matrix ? 1 : w.ChannelAxis, options.Network.SemiStructuredN, options.Network.SemiStructuredM);
                else
                    foreach (var i in Enumerable.Range(0, view.Length).OrderBy(i => importance[i]).Take(toZero)) view[i] = 0f;
                if (rebuild)
                {
                    // Exact least squares for the final mask: SparseGPT's one-pass updates only approximate it
                    // (fashion MLP 80%: 86.9% refitted vs 86.4% as updated).
                    AddToBias(g, w.Consumer, LayerReconstruction.Refit(view, original, inputs, outputs, layerInput!));
                    reconstructed++;
                }
            }
            values = transposed ? Transpose(view, inputs, outputs) : view;
            var replacement = OnnxTensors.Float(tensor.Name, values, tensor.Dims.ToArray());
            g.Initializer[g.Initializer.IndexOf(tensor)] = replacement;
            total += values.Length;
            int layerZeros = values.Count(v => v == 0f);
            zeroed += layerZeros;
            layerZeroed.Add((LayerName(w), layerZeros, values.Length));
        }
        var rebuilt = reconstructed > 0 ? $"; {(secondOrder > 0 ? $"the masks of {secondOrder} layer(s) were chosen with the inverse Hessian of their inputs (SparseGPT), " : "")}the kept weights of {reconstructed} layer(s) were refitted by least squares to reproduce the layer's output on the data, with bias correction" : "";
        var pattern = options.Network.Granularity == PruningGranularity.SemiStructured ? $"{options.Network.SemiStructuredN}:{options.Network.SemiStructuredM} semi-structured"
            : globalSparsity != null ? $"with one global threshold ({string.Join(", ", globalSparsity.Select(kv => $"{kv.Key} {kv.Value:P0}"))})"
            : options.Network.LayerSparsity.Count > 0 ? $"per layer ({string.Join(", ", weights.Select(w => $"{LayerName(w)} {SparsityOf(options, w, null):P0}"))})"
            : $"to {options.TargetSparsity:P0} each";
        // What the sparsity counts: the prunable weights, and all float parameters of the graph (embeddings,
        // LayerNorm, biases), which a Transformer has many of (80 % of its MatMul weights was 9 % of the model).
        long parameters = g.Initializer.Where(t => t.DataType == OnnxType.Float).Sum(OnnxTensors.ElementCount);
        long zeroParameters = g.Initializer.Where(t => t.DataType == OnnxType.Float).Sum(t => (long)OnnxTensors.ReadFloats(t).Count(v => v == 0f));
        var hollowed = layerZeroed.Where(l => l.Zeroed > 0.95 * l.Size).Select(l => $"{l.Name} {l.Zeroed / (double)l.Size:P0}").ToList();
        var warning = hollowed.Count > 0 ? $" Warning: {string.Join(", ", hollowed)} lost more than 95 % of its weights; if accuracy dropped, cap it with PruningOptions.Network.MaxLayerSparsity or exclude it (ExcludedNodes)." : "";
        return $"{(reconstructed > 0 ? "data-aware" : "magnitude")} pruning of {weights.Count} weight tensor(s) {pattern}: {zeroed} of {total} prunable MatMul/Gemm/Conv weights are now zero ({zeroed / (double)Math.Max(1, total):P1}); "
            + $"{zeroParameters} of all {parameters} float parameters of the graph ({zeroParameters / (double)Math.Max(1, parameters):P1}){rebuilt}.{warning}";
    }

    internal static string LayerName(WeightTensor w) => string.IsNullOrEmpty(w.Consumer.Name) ? w.Name : w.Consumer.Name;

    /// <summary>The sparsity asked of one layer: by name, else from the global threshold, else TargetSparsity.</summary>
    internal static double SparsityOf(PruningOptions options, WeightTensor w, IReadOnlyDictionary<string, double>? global)
    {
        if (options.Network.LayerSparsity.TryGetValue(w.Consumer.Name, out var s) || options.Network.LayerSparsity.TryGetValue(w.Name, out s)) return s;
        if (global != null && global.TryGetValue(LayerName(w), out s)) return s;
        return options.TargetSparsity;
    }

    /// <summary>Layer names in the options must exist: a typo would otherwise silently prune everything uniformly.</summary>
    private static void CheckLayerNames(GraphProto g, PruningOptions options)
    {
        var names = new HashSet<string>(g.Node.Select(n => n.Name).Concat(g.Initializer.Select(t => t.Name)));
        var unknown = options.Network.LayerSparsity.Keys.Concat(options.ExcludedNodes).Where(n => !names.Contains(n)).ToList();
        if (unknown.Count == 0) return;
        var layers = WeightTensors.Find(g).Select(LayerName);
        throw new ArgumentException(
            $"The graph has no layer named {string.Join(", ", unknown.Select(u => $"'{u}'"))}. Its prunable layers are: {string.Join(", ", layers)}.", nameof(options));
    }

    /// <summary>
    /// One saliency threshold over all layers: saliencies (|w| × input spread) are computed on the unpruned graph,
    /// the threshold that reaches TargetSparsity overall is found, and each layer gets the fraction below it.
    /// </summary>
    private static Dictionary<string, double> GlobalSparsities(ModelProto model, List<WeightTensor> weights, GraphEditContext context, PruningOptions options)
    {
        var saliencies = new List<(string layer, float[] values)>();
        foreach (var w in weights)
        {
            var tensor = OnnxGraphEditor.Initializer(model.Graph, w.Name)!;
            var values = OnnxTensors.ReadFloats(tensor);
            var importance = values.Select(Math.Abs).ToArray();
            var (matrix, transposed, inputs, outputs, patches) = Layout(w, tensor);
            if (matrix)
            {
                var rows = LayerInputRows(model, w, inputs, context, options, patches);
                if (rows is { Length: > 1 })
                {
                    var std = StandardDeviations(rows, inputs);
                    for (int i = 0; i < importance.Length; i++) importance[i] *= std[transposed ? i % inputs : i / outputs];
                }
            }
            saliencies.Add((LayerName(w), importance));
        }
        foreach (var (_, values) in saliencies) Array.Sort(values);
        long size = saliencies.Sum(s => (long)s.values.Length);
        long cut = (long)Math.Floor(options.TargetSparsity * size);
        double cap = Math.Max(options.Network.MaxLayerSparsity, options.TargetSparsity);
        // Zeroed by threshold t: per layer, the saliencies ≤ t, but at most the cap; the smallest t that reaches the
        // target overall (found by bisection over the sorted saliencies) puts the weights a capped layer keeps on
        // the other layers.
        long Capped(float[] v) => (long)Math.Floor(cap * v.Length);
        long Zeroed(float t) => saliencies.Sum(s => Math.Min(Capped(s.values), UpperBound(s.values, t)));
        var all = saliencies.SelectMany(s => s.values).Distinct().ToArray();
        Array.Sort(all);
        float threshold = float.NegativeInfinity;
        if (cut > 0)
        {
            int lo = 0, hi = all.Length - 1;
            while (lo < hi)
            {
                int mid = (lo + hi) / 2;
                if (Zeroed(all[mid]) >= cut) hi = mid; else lo = mid + 1;
            }
            threshold = all[lo];
        }
        return saliencies.ToDictionary(s => s.layer, s => Math.Min(Math.Min(0.999, cap), UpperBound(s.values, threshold) / (double)s.values.Length));
    }

    /// <summary>How many of the sorted values are ≤ <paramref name="t"/>.</summary>
    private static int UpperBound(float[] sorted, float t)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (sorted[mid] <= t) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>
    /// How a weight is worked on as a matrix [inputs, outputs] (MatMul layout): Gemm with transB and Conv store
    /// [outputs, inputs] (transposed); a plain 2-D Conv is a matrix over its input patches (im2col). Other
    /// weights (grouped convolutions) are pruned by magnitude in their own layout.
    /// </summary>
    private static (bool Matrix, bool Transposed, int Inputs, int Outputs, ConvPatches? Patches) Layout(WeightTensor w, TensorProto tensor)
    {
        if (w.Consumer.OpType is "MatMul" or "Gemm" && tensor.Dims.Count == 2)
        {
            bool transposed = w.ChannelAxis == 0;
            return (true, transposed, (int)tensor.Dims[transposed ? 1 : 0], (int)tensor.Dims[transposed ? 0 : 1], null);
        }
        var patches = ConvPatches.Of(w.Consumer, tensor);
        if (patches == null) return (false, false, 0, 0, null);
        int outputs = (int)tensor.Dims[0];
        return (true, true, (int)(OnnxTensors.ElementCount(tensor) / outputs), outputs, patches);
    }

    /// <summary>Rows of calibration inputs of a MatMul/Gemm layer (patches of a Conv), or null when no data can be had for it.</summary>
    private static float[][]? LayerInputRows(ModelProto model, WeightTensor w, int inputs, GraphEditContext context, PruningOptions options, ConvPatches? patches)
    {
        var input = w.Consumer.Input[0];
        if (inputs > LayerReconstruction.MaxInputs) return null; // too wide for rows and a Gram matrix: spread only
        if (patches != null)
        {
            // Images [C, H, W] as the layer sees them (recorded even for a graph input, to learn their shape).
            if (context.FeatureInput != null || (!options.Reconstruct && !context.GraphInputs.Contains(input))) return null;
            var images = TensorCapture.Capture(model, new[] { input }, context, Math.Min(options.MaxCalibrationRows, MaxNetworkCalibrationRows), out var shapes);
            var rowsOfPatches = shapes.TryGetValue(input, out var shape) ? patches.Extract(images[input], shape) : Array.Empty<float[]>();
            return rowsOfPatches.Length > 1 && rowsOfPatches[0].Length == inputs ? rowsOfPatches : null;
        }
        float[][] rows;
        if (context.GraphInputs.Contains(input))
            rows = context.ReadInput(input, options.MaxCalibrationRows);
        else if (context.FeatureInput == null && options.Reconstruct)
            // Inner layer of a network: record its input on the current (already partly pruned) graph, so each layer
            // also compensates the error of the layers before it.
            rows = TensorCapture.Capture(model, new[] { input }, context, Math.Min(options.MaxCalibrationRows, MaxNetworkCalibrationRows))[input];
        else
            return null;
        if (rows.Length > 0 && rows[0].Length != inputs && rows[0].Length % inputs == 0 && !context.GraphInputs.Contains(input))
            rows = TokenRows(rows, inputs);
        return rows.Length > 0 && rows[0].Length == inputs ? rows : null;
    }

    /// <summary>
    /// A Transformer's projection sees [batch, sequence, features]: each position is a row of the MatMul, so the
    /// recorded rows (one per example, sequence × features) are split into one row per position, spread evenly over
    /// the examples and capped at <see cref="MaxNetworkCalibrationRows"/> rows (Gram matrices cost rows × inputs²).
    /// </summary>
    internal static float[][] TokenRows(float[][] examples, int inputs)
    {
        int positions = examples[0].Length / inputs;
        long available = (long)examples.Length * positions;
        int step = (int)Math.Max(1, available / MaxNetworkCalibrationRows);
        var rows = new List<float[]>();
        for (long k = 0; k < available && rows.Count < MaxNetworkCalibrationRows; k += step)
        {
            var example = examples[k / positions];
            int at = (int)(k % positions) * inputs;
            rows.Add(example.AsSpan(at, inputs).ToArray());
        }
        return rows.ToArray();
    }

    /// <summary>Network layers are reconstructed from at most this many rows (their Gram matrices cost rows × inputs²).</summary>
    internal const int MaxNetworkCalibrationRows = 2048;

    private static float[] Transpose(float[] values, int rows, int cols)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) result[c * rows + r] = values[r * cols + c];
        return result;
    }

    /// <summary>Adds <paramref name="shift"/> to a layer's bias: Gemm's C input, or the initializer of the Add that follows a MatMul.</summary>
    internal static void AddToBias(GraphProto g, NodeProto layer, double[] shift)
    {
        var bias = BiasOf(g, layer, shift.Length);
        if (bias == null) return; // no bias to correct: weights alone reconstruct
        var values = OnnxTensors.ReadFloats(bias);
        for (int i = 0; i < values.Length; i++) values[i] += (float)shift[i];
        g.Initializer[g.Initializer.IndexOf(bias)] = OnnxTensors.Float(bias.Name, values, bias.Dims.ToArray());
    }

    /// <summary>A layer's bias initializer with one value per output: Gemm's C input, or the initializer of the Add after a MatMul.</summary>
    internal static TensorProto? BiasOf(GraphProto g, NodeProto layer, int outputs)
    {
        string? biasName;
        if (layer.OpType is "Gemm" or "Conv") biasName = layer.Input.Count > 2 ? layer.Input[2] : null;
        else
        {
            var add = g.Node.FirstOrDefault(n => n.OpType == "Add" && n.Input.Contains(layer.Output[0]));
            biasName = add?.Input.FirstOrDefault(i => i != layer.Output[0]);
        }
        var bias = biasName == null ? null : OnnxGraphEditor.Initializer(g, biasName);
        return bias != null && OnnxTensors.ElementCount(bias) == outputs ? bias : null;
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
