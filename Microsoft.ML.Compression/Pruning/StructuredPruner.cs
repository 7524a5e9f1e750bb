using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// Structured pruning by graph surgery: removes whole output neurons of MatMul/Gemm layers and whole output
/// channels of Conv layers, together with everything that is indexed by them downstream (bias, BatchNormalization
/// entries, the next layer's input rows or input channels, and the blocks a Flatten makes of them). The tensors
/// really shrink, so the model gets smaller and faster, not just sparser.
/// </summary>
internal static class StructuredPruner
{
    /// <summary>Most floats one recording keeps (256 MB): a 6-layer encoder's FFN inputs are 98,304 floats per 64-token example.</summary>
    internal const long MaxCapturedFloats = 64L << 20;

    private sealed record Layer(NodeProto Node, TensorProto Weight, int OutAxis, int InAxis);

    private sealed class Plan
    {
        public required Layer Producer;
        public required Layer Consumer;
        public string? ProducerBias;          // Gemm/Conv input 2
        public List<string> ChannelConstants = new(); // one value per channel on the last axis: a bias Add's vector, a per-channel scale
        public List<NodeProto> BatchNorms = new();
        public int SpatialBlock = 1;          // Flatten between Conv and Gemm: each channel becomes this many inputs
    }

    public static string Prune(ModelProto model, PruningOptions options, GraphEditContext context)
    {
        var g = model.Graph;
        var original = model.Clone();
        int refitted = 0;
        var summary = new List<string>();
        var blocks = options.Network.AttentionHeadSparsity > 0 ? AttentionHeads.FindOrRefuse(g) : new List<AttentionHeads.Block>();
        var plans = FindPlans(g, options.ExcludedNodes);
        if (plans.Count == 0 && blocks.Count == 0)
            throw new UnsupportedModelException("Structured pruning found no pair of MatMul/Gemm/Conv layers joined only by per-channel operators (a bias Add, Relu, GELU and other elementwise operators with scalar or per-channel constants, BatchNormalization, pooling, Flatten); there is nothing it can remove whole.");
        int rows = Math.Min(options.MaxCalibrationRows, 2048);
        // What every refitted layer saw in the original model, recorded in one pass (a pass of a 6-layer encoder is
        // the costly part); each layer's current input is recorded as the pruning reaches it.
        var refitInputs = plans.Where(p => p.Consumer.Node.OpType != "Conv" || ConvPatches.Of(p.Consumer.Node, p.Consumer.Weight) != null)
            .Select(p => p.Consumer.Node.Input[0]).Concat(blocks.Select(b => b.Output.Input[0])).Distinct().ToArray();
        var originalShapes = new Dictionary<string, long[]>();
        var originalRows = options.Reconstruct && refitInputs.Length > 0
            ? TensorCapture.Capture(original, refitInputs, context, rows, out originalShapes, maxFloats: MaxCapturedFloats) : new Dictionary<string, float[][]>();
        // Heads first: the FFN refits below then see (and compensate) the attention blocks as pruned.
        if (blocks.Count > 0)
            summary.AddRange(AttentionHeads.Prune(model, original, blocks, options.Network.AttentionHeadSparsity, options.Reconstruct, rows, context, name => originalRows[name]));
        var shares = StructuredSplit.Shares(original, plans.Select(p => new StructuredSplit.Layer(p.Producer.Node.Name, p.Producer.Weight.Name,
                OnnxTensors.ElementCount(p.Producer.Weight) + OnnxTensors.ElementCount(p.Consumer.Weight))).ToList(), options, context, rows,
            (clone, i, share) => PrunePlan(clone, original, plans[i], share, options.Reconstruct, rows, context, originalRows, originalShapes, cloneOfOriginal: true),
            out var splitNote);
        // Plans are applied in graph order: each refit sees (and compensates) the layers pruned before it.
        for (int i = 0; i < plans.Count; i++)
        {
            var pruned = PrunePlan(model, original, plans[i], shares[i], options.Reconstruct, rows, context, originalRows, originalShapes, cloneOfOriginal: false);
            if (pruned == null) continue;
            summary.Add(pruned.Value.Summary);
            if (pruned.Value.Refitted) refitted++;
        }
        g.ValueInfo.Clear(); // intermediate shapes changed; ONNX Runtime infers them again
        if (blocks.Count > 0) OnnxGraphEditor.RemoveDeadNodes(g); // the head counts' old constants, now read by nothing
        var how = refitted > 0
            ? $"ranked by activation size × outgoing weight norm on the data; {refitted} following layer(s) refitted by least squares to reproduce the original outputs, with bias correction"
            : "ranked by the product of their incoming and outgoing weight norms";
        if (blocks.Count > 0)
            how += $"; attention heads ranked by their output on the data (context × their rows of the output projection){(options.Reconstruct ? ", output projections refitted by least squares with bias correction" : "")}";
        return $"structured pruning removed whole neurons/channels/heads ({string.Join(", ", summary)}), {how}{splitNote}; the graph's tensors shrank accordingly.";
    }

    /// <summary>
    /// Removes the share <paramref name="sparsity"/> of one plan's channels from <paramref name="model"/> and refits its
    /// consumer; null when that share rounds to no channel. With <paramref name="cloneOfOriginal"/> the model is an
    /// unpruned copy of the original (the per-layer split's trial runs): the consumer's current inputs are the
    /// original ones already recorded, so no pass over the data is needed.
    /// </summary>
    private static (string Summary, bool Refitted)? PrunePlan(ModelProto model, ModelProto original, Plan plan, double sparsity, bool reconstruct, int rows,
        GraphEditContext context, IReadOnlyDictionary<string, float[][]> originalRows, IReadOnlyDictionary<string, long[]> originalShapes, bool cloneOfOriginal)
    {
        var g = model.Graph;
        int channels = (int)plan.Producer.Weight.Dims[plan.Producer.OutAxis];
        int keep = Math.Max(1, channels - (int)Math.Floor(sparsity * channels));
        if (keep == channels) return null;
        // Data-aware when possible: a channel matters as much as its activations' size times its outgoing weights.
        // A Conv consumer is refitted as a matrix over its input patches (im2col).
        var patches = plan.Consumer.Node.OpType == "Conv" ? ConvPatches.Of(plan.Consumer.Node, plan.Consumer.Weight) : null;
        bool refit = reconstruct && (plan.Consumer.Node.OpType is "MatMul" or "Gemm" || patches != null);
        float[][]? currentInputs = null, originalInputs = null;
        long[]? imageShape = null;
        var consumerInput = new[] { plan.Consumer.Node.Input[0] };
        if (refit)
        {
            originalInputs = originalRows[consumerInput[0]];
            if (cloneOfOriginal)
            {
                currentInputs = originalInputs;
                imageShape = originalShapes.GetValueOrDefault(consumerInput[0]);
            }
            else
            {
                currentInputs = TensorCapture.Capture(model, consumerInput, context, rows, out var shapes, maxFloats: MaxCapturedFloats)[consumerInput[0]];
                imageShape = shapes.GetValueOrDefault(consumerInput[0]);
            }
            // The same examples on both sides (captures stop at a float budget, so their lengths may differ).
            int examples = Math.Min(currentInputs.Length, originalInputs.Length);
            currentInputs = currentInputs[..examples];
            originalInputs = originalInputs[..examples];
            if (patches != null && imageShape?.Length != 3) refit = false;
            // A sequence ([batch, positions, features], a Transformer's FFN): each position is a row of the MatMul.
            int width = (int)plan.Consumer.Weight.Dims[plan.Consumer.InAxis];
            if (patches == null && currentInputs.Length > 0 && currentInputs[0].Length != width && currentInputs[0].Length % width == 0)
            {
                currentInputs = GraphPruner.TokenRows(currentInputs, width);
                originalInputs = cloneOfOriginal ? currentInputs : GraphPruner.TokenRows(originalInputs, width);
            }
        }
        // Activations of a channel: SpatialBlock values before a Flatten, a whole H×W map before a Conv.
        int block = patches != null && imageShape is { Length: 3 } ? (int)(imageShape[1] * imageShape[2]) : plan.SpatialBlock;
        var importance = Importance(plan, channels, refit ? currentInputs : null, block);
        var kept = Enumerable.Range(0, channels).OrderByDescending(c => importance[c]).Take(keep).OrderBy(c => c).ToArray();
        Apply(g, plan, kept);
        if (refit)
        {
            var originalWeight = OnnxGraphEditor.Initializer(original.Graph, plan.Consumer.Weight.Name)!;
            if (patches != null)
            {
                // Patch inputs are channel-major: channel c owns kh·kw consecutive inputs.
                int kernel = (int)(originalWeight.Dims[2] * originalWeight.Dims[3]);
                var keptPatchInputs = kept.SelectMany(c => Enumerable.Range(c * kernel, kernel)).ToArray();
                ConsumerRefit.Refit(g, plan.Consumer.Node, originalWeight, patches.Extract(originalInputs!, imageShape!),
                    patches.Extract(currentInputs!, imageShape!), keptPatchInputs);
            }
            else
            {
                var keptInputs = kept.SelectMany(c => Enumerable.Range(c * plan.SpatialBlock, plan.SpatialBlock)).ToArray();
                ConsumerRefit.Refit(g, plan.Consumer.Node, originalWeight, originalInputs!, currentInputs!, keptInputs);
            }
        }
        return ($"{plan.Producer.Node.Name}: {channels}→{keep}", refit);
    }

    private static List<Plan> FindPlans(GraphProto g, IReadOnlyCollection<string> excluded)
    {
        var plans = new List<Plan>();
        var outputs = new HashSet<string>(g.Output.Select(o => o.Name));
        var users = new Dictionary<string, List<NodeProto>>();
        foreach (var n in g.Node)
            foreach (var i in n.Input.Distinct())
                (users.TryGetValue(i, out var list) ? list : users[i] = new List<NodeProto>()).Add(n);
        var producers = OnnxGraphEditor.Producers(g);
        foreach (var node in g.Node)
        {
            var producer = AsLayer(g, node);
            if (producer == null || excluded.Contains(node.Name) || excluded.Contains(producer.Weight.Name)) continue;
            var plan = new Plan { Producer = producer, Consumer = producer };
            if (node.OpType != "MatMul" && node.Input.Count > 2 && OnnxGraphEditor.Initializer(g, node.Input[2]) != null) plan.ProducerBias = node.Input[2];
            var region = ChannelRegion.Follow(g, node, producer.Weight.Dims[producer.OutAxis], n => AsLayer(g, n) != null, outputs, users, producers);
            if (region == null || AsLayer(g, region.Consumer) is not { } layer || excluded.Contains(layer.Node.Name)) continue;
            plan.ChannelConstants.AddRange(region.ChannelConstants);
            plan.BatchNorms.AddRange(region.BatchNorms);
            long outChannels = producer.Weight.Dims[producer.OutAxis];
            long inputs = layer.Weight.Dims[layer.InAxis];
            if (inputs % outChannels != 0) continue;
            plan.SpatialBlock = (int)(inputs / outChannels);
            if (plan.SpatialBlock != 1 && !(producer.Node.OpType == "Conv" && layer.Node.OpType != "Conv")) continue;
            plan.Consumer = layer;
            plans.Add(plan);
        }
        // A layer that is both consumer and producer is pruned on both sides; plans are applied in graph order.
        return plans;
    }

    private static Layer? AsLayer(GraphProto g, NodeProto n)
    {
        if (n.OpType is not ("MatMul" or "Gemm" or "Conv") || n.Input.Count < 2) return null;
        var w = OnnxGraphEditor.Initializer(g, n.Input[1]);
        if (w == null || w.DataType != OnnxType.Float) return null;
        if (n.OpType == "Conv")
            return (OnnxGraphEditor.Attribute(n, "group")?.I ?? 1) == 1 && w.Dims.Count >= 3 ? new Layer(n, w, 0, 1) : null;
        if (w.Dims.Count != 2) return null;
        if (n.OpType == "Gemm" && (OnnxGraphEditor.Attribute(n, "transA")?.I ?? 0) != 0) return null;
        bool transB = n.OpType == "Gemm" && (OnnxGraphEditor.Attribute(n, "transB")?.I ?? 0) == 1;
        return transB ? new Layer(n, w, 0, 1) : new Layer(n, w, 1, 0);
    }

    /// <summary>
    /// With activations: RMS of channel c's activations × ‖outgoing weights of c‖ (what removing it changes
    /// downstream). Without: ‖incoming weights of c‖ × ‖outgoing weights of c‖.
    /// </summary>
    /// <param name="plan">The producer/consumer layer pair whose shared channels are ranked.</param>
    /// <param name="channels">How many channels the pair shares.</param>
    /// <param name="activations">Rows of the consumer's input, or null to rank by weights alone.</param>
    /// <param name="block">Consecutive activation values that belong to one channel.</param>
    private static double[] Importance(Plan plan, int channels, float[][]? activations, int block)
    {
        var outgoing = SliceNorms(plan.Consumer.Weight, plan.Consumer.InAxis, channels, plan.SpatialBlock);
        double[] incoming;
        if (activations is { Length: > 0 })
        {
            incoming = new double[channels];
            foreach (var row in activations)
                for (int i = 0; i < row.Length && i / block < channels; i++) incoming[i / block] += (double)row[i] * row[i];
            incoming = incoming.Select(v => Math.Sqrt(v / activations.Length)).ToArray();
        }
        else incoming = SliceNorms(plan.Producer.Weight, plan.Producer.OutAxis, channels, 1);
        return incoming.Zip(outgoing, (a, b) => a * b).ToArray();
    }

    private static double[] SliceNorms(TensorProto t, int axis, int channels, int block)
    {
        var values = OnnxTensors.ReadFloats(t);
        var index = WeightTensors.ChannelOf(t.Dims, axis);
        var norms = new double[channels];
        for (int i = 0; i < values.Length; i++) norms[index[i] / block] += (double)values[i] * values[i];
        return norms.Select(Math.Sqrt).ToArray();
    }

    private static void Apply(GraphProto g, Plan plan, int[] kept)
    {
        Replace(g, plan.Producer.Weight.Name, t => Slice(t, plan.Producer.OutAxis, kept, 1));
        if (plan.ProducerBias != null) Replace(g, plan.ProducerBias, t => Slice(t, 0, kept, 1));
        foreach (var constant in plan.ChannelConstants) Replace(g, constant, t => Slice(t, t.Dims.Count - 1, kept, 1));
        foreach (var bn in plan.BatchNorms)
            foreach (var input in bn.Input.Skip(1)) Replace(g, input, t => Slice(t, 0, kept, 1));
        Replace(g, plan.Consumer.Weight.Name, t => Slice(t, plan.Consumer.InAxis, kept, plan.SpatialBlock));
    }

    internal static void Replace(GraphProto g, string name, Func<TensorProto, TensorProto> edit)
    {
        var t = OnnxGraphEditor.Initializer(g, name)!;
        g.Initializer[g.Initializer.IndexOf(t)] = edit(t);
    }

    /// <summary>Keeps the given channels (each <paramref name="block"/> consecutive indices wide) along one axis.</summary>
    internal static TensorProto Slice(TensorProto t, int axis, int[] keptChannels, int block)
    {
        var values = OnnxTensors.ReadFloats(t);
        var dims = t.Dims.ToArray();
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= dims[i];
        for (int i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        long axisLength = dims[axis];
        var keptIndices = keptChannels.SelectMany(c => Enumerable.Range(c * block, block)).ToArray();
        var result = new float[outer * keptIndices.Length * inner];
        long k = 0;
        for (long o = 0; o < outer; o++)
            foreach (var a in keptIndices)
            {
                Array.Copy(values, (o * axisLength + a) * inner, result, k, inner);
                k += inner;
            }
        dims[axis] = keptIndices.Length;
        return OnnxTensors.Float(t.Name, result, dims);
    }
}
