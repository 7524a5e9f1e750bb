using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// Removes whole attention heads from self-attention blocks as exporters write them (PyTorch/BERT): Q, K and V
/// projections (MatMul + bias Add) → Reshape [b, s, H, d] → Transpose → Q·Kᵀ (scaled, masked) → Softmax → ·V →
/// Transpose → Reshape [b, s, H·d] → output projection. A head is the same d columns of Q, K and V (and their
/// biases) and the same d rows of the output projection; the head count in the Reshape shapes is lowered with them.
/// The block is found by walking back from the output projection and every step is checked exactly (perms, scalar
/// constants, a mask that broadcasts over heads, shape constants that hold H and d); a block that looks like
/// attention but cannot be verified is refused, never guessed at.
/// </summary>
internal static class AttentionHeads
{
    /// <summary>One of Q, K, V: its MatMul weight [D, H·d], its bias, and where its Reshape's head count is written.</summary>
    internal sealed record Projection(string Weight, string? Bias, ShapeValue HeadCount);

    /// <summary>An int64 value in a Reshape's shape: element <paramref name="Element"/> of the tensor that input <paramref name="Input"/> of <paramref name="Reader"/> reads.</summary>
    internal sealed record ShapeValue(NodeProto Reader, int Input, long[] Values, long[] Dims, int Element);

    internal sealed record Block(Projection[] Qkv, ShapeValue OutputWidth, NodeProto Output, string OutputWeight, int Heads, int HeadSize);

    /// <summary>The graph's self-attention blocks; throws <see cref="UnsupportedModelException"/> when one cannot be verified or none is found.</summary>
    public static List<Block> FindOrRefuse(GraphProto g)
    {
        var blocks = Find(g, out var refused);
        if (refused.Count > 0)
            throw new UnsupportedModelException($"Attention heads cannot be removed safely: {string.Join("; ", refused)}. Set Network.AttentionHeadSparsity = 0 to prune FFN neurons only.");
        if (blocks.Count == 0)
            throw new UnsupportedModelException("Network.AttentionHeadSparsity is set but the graph has no self-attention block of the form Q/K/V MatMul → Reshape [b, s, heads, head size] → Softmax(Q·Kᵀ)·V → Reshape → MatMul; set it to 0 for this model.");
        return blocks;
    }

    /// <summary>Prunes <paramref name="sparsity"/> of the heads of every block; returns one summary item per block.</summary>
    /// <param name="model">The graph being pruned (edited in place).</param>
    /// <param name="original">The graph before pruning, whose outputs the refits reproduce.</param>
    /// <param name="blocks">The verified self-attention blocks of <paramref name="model"/>.</param>
    /// <param name="sparsity">The share of each block's heads to remove.</param>
    /// <param name="reconstruct">Whether the output projection is refitted by least squares.</param>
    /// <param name="rows">At most this many calibration rows are recorded.</param>
    /// <param name="context">The data as the graph's inputs see it.</param>
    /// <param name="originalRows">A block output projection's input rows (one per example) in the original model, by value name.</param>
    public static List<string> Prune(ModelProto model, ModelProto original, List<Block> blocks, double sparsity, bool reconstruct, int rows,
        GraphEditContext context, Func<string, float[][]> originalRows)
    {
        var g = model.Graph;
        var summary = new List<string>();
        foreach (var block in blocks)
        {
            int keep = Math.Max(1, block.Heads - (int)Math.Floor(sparsity * block.Heads));
            if (keep == block.Heads) continue;
            var context1 = new[] { block.Output.Input[0] };
            int width = block.Heads * block.HeadSize;
            var recorded = TensorCapture.Capture(model, context1, context, rows, maxFloats: StructuredPruner.MaxCapturedFloats)[context1[0]];
            var before = reconstruct ? originalRows(context1[0]) : recorded;
            int examples = Math.Min(recorded.Length, before.Length); // the same examples on both sides
            var current = GraphPruner.TokenRows(recorded[..examples], width);
            var weight = OnnxGraphEditor.Initializer(g, block.OutputWeight)!;
            var wo = OnnxTensors.ReadFloats(weight);
            int outputs = (int)weight.Dims[1];
            // A head matters as much as what it adds to the block's output: ‖context_h · Wo_h‖² on the data.
            var importance = new double[block.Heads];
            var y = new double[outputs];
            foreach (var row in current)
                for (int h = 0; h < block.Heads; h++)
                {
                    Array.Clear(y);
                    for (int i = h * block.HeadSize; i < (h + 1) * block.HeadSize; i++)
                    {
                        double x = row[i];
                        if (x == 0) continue;
                        for (int o = 0; o < outputs; o++) y[o] += x * wo[i * outputs + o];
                    }
                    importance[h] += y.Sum(v => v * v);
                }
            var kept = Enumerable.Range(0, block.Heads).OrderByDescending(h => importance[h]).Take(keep).OrderBy(h => h).ToArray();
            foreach (var p in block.Qkv)
            {
                StructuredPruner.Replace(g, p.Weight, t => StructuredPruner.Slice(t, 1, kept, block.HeadSize));
                if (p.Bias != null) StructuredPruner.Replace(g, p.Bias, t => StructuredPruner.Slice(t, t.Dims.Count - 1, kept, block.HeadSize));
                Write(g, p.HeadCount, keep);
            }
            if (block.OutputWidth.Values[block.OutputWidth.Element] > 0) Write(g, block.OutputWidth, keep * block.HeadSize);
            StructuredPruner.Replace(g, block.OutputWeight, t => StructuredPruner.Slice(t, 0, kept, block.HeadSize));
            if (reconstruct)
            {
                var keptInputs = kept.SelectMany(h => Enumerable.Range(h * block.HeadSize, block.HeadSize)).ToArray();
                ConsumerRefit.Refit(g, block.Output, OnnxGraphEditor.Initializer(original.Graph, block.OutputWeight)!, GraphPruner.TokenRows(before[..examples], width), current, keptInputs);
            }
            summary.Add($"{block.Output.Name}: {block.Heads}→{keep} heads");
        }
        return summary;
    }

    /// <summary>Writes a new shape constant (a fresh initializer, so a shared constant is never changed under another reader).</summary>
    private static void Write(GraphProto g, ShapeValue at, long value)
    {
        var values = at.Values.ToArray();
        values[at.Element] = value;
        var name = OnnxGraphEditor.UniqueName(g, at.Reader.Input[at.Input] + "_heads_pruned");
        g.Initializer.Add(OnnxTensors.Int64(name, values, at.Dims));
        at.Reader.Input[at.Input] = name;
    }

    private static List<Block> Find(GraphProto g, out List<string> refused)
    {
        refused = new List<string>();
        var users = new Dictionary<string, List<NodeProto>>();
        foreach (var n in g.Node)
            foreach (var i in n.Input.Distinct())
                (users.TryGetValue(i, out var list) ? list : users[i] = new List<NodeProto>()).Add(n);
        var producers = OnnxGraphEditor.Producers(g);
        var outputs = new HashSet<string>(g.Output.Select(o => o.Name));
        var blocks = new List<Block>();
        var walk = new Walk(g, users, producers, outputs);
        foreach (var o in g.Node.Where(n => n.OpType == "MatMul" && n.Input.Count == 2))
        {
            var wo = OnnxGraphEditor.Initializer(g, o.Input[1]);
            if (wo == null || wo.DataType != OnnxType.Float || wo.Dims.Count != 2) continue;
            // Output projection ← Reshape ← Transpose(0,2,1,3) ← MatMul(probabilities, V heads): an attention block.
            var back = walk.Single(o.Input[0], "Reshape");
            // The merged [b, s, H, d] may also be read for its batch and sequence sizes (Shape → Gather 0 or 1).
            var merged = back == null ? null : walk.Single(back.Input[0], "Transpose", sizesMayBeRead: true);
            var av = merged == null || !walk.Perm(merged, 0, 2, 1, 3) ? null : walk.Single(merged.Input[0], "MatMul");
            if (av == null || OnnxGraphEditor.Initializer(g, av.Input[1]) != null) continue;
            try
            {
                blocks.Add(Verify(walk, o, wo, back!, av));
            }
            catch (InvalidDataException e)
            {
                refused.Add($"{(string.IsNullOrEmpty(o.Name) ? o.Output[0] : o.Name)}: {e.Message}");
            }
        }
        return blocks;
    }

    /// <summary>Checks the block behind an output projection step by step; throws InvalidDataException saying which step failed.</summary>
    private static Block Verify(Walk w, NodeProto output, TensorProto wo, NodeProto back, NodeProto av)
    {
        var g = w.Graph;
        // Probabilities: Softmax over the last axis of the (scaled, masked) scores Q·Kᵀ.
        var softmax = w.Single(av.Input[0], "Softmax") ?? throw new InvalidDataException("the attention weights do not come from a Softmax");
        long axis = OnnxGraphEditor.Attribute(softmax, "axis")?.I ?? -1;
        if (axis is not (-1 or 3)) throw new InvalidDataException($"Softmax over axis {axis}, not the keys");
        string scores = w.SkipScalarOps(softmax.Input[0], allowMask: true);
        var qk = w.Single(scores, "MatMul") ?? throw new InvalidDataException("the scores are not a MatMul of Q and Kᵀ");
        var vReshape = w.HeadReshape(av.Input[1], 0, 2, 1, 3);
        var qReshape = w.HeadReshape(w.SkipScalarOps(qk.Input[0], allowMask: false), 0, 2, 1, 3);
        var kReshape = w.HeadReshape(w.SkipScalarOps(qk.Input[1], allowMask: false), 0, 2, 3, 1);
        var qkv = new[] { qReshape, kReshape, vReshape };
        var heads = qkv.Select(r => w.ShapeOf(r, 4, 2)).ToArray();
        var sizes = qkv.Select(r => w.ShapeOf(r, 4, 3)).ToArray();
        int h = (int)heads[0].Values[heads[0].Element], d = (int)sizes[0].Values[sizes[0].Element];
        if (h < 2 || d < 1 || heads.Any(x => x.Values[x.Element] != h) || sizes.Any(x => x.Values[x.Element] != d))
            throw new InvalidDataException("Q, K and V are not split into the same number of heads of the same size");
        var projections = qkv.Select((r, i) => w.Projection(r.Input[0], h * d, heads[i])).ToArray();
        var width = w.ShapeOf(back, 3, 2);
        long merged = width.Values[width.Element];
        if (merged != h * d && merged != -1) throw new InvalidDataException($"the heads are merged back to width {merged}, not {h * d}");
        if (wo.Dims[0] != h * d) throw new InvalidDataException($"the output projection has {wo.Dims[0]} inputs, not {h * d}");
        // Nothing else may read the per-head values (they change shape).
        foreach (var value in new[] { av.Output[0], back.Output[0], softmax.Output[0], qk.Output[0] })
            if (w.Readers(value) != 1) throw new InvalidDataException($"'{value}' has other readers");
        return new Block(projections, width, output, wo.Name, h, d);
    }

    /// <summary>Graph lookups for the walk back from an output projection.</summary>
    private sealed class Walk(GraphProto g, Dictionary<string, List<NodeProto>> users, Dictionary<string, NodeProto> producers, HashSet<string> outputs)
    {
        public GraphProto Graph => g;

        public int Readers(string value) => (users.TryGetValue(value, out var r) ? r.Count : 0) + (outputs.Contains(value) ? 1 : 0);

        /// <summary>The node of that type that writes <paramref name="value"/>, when it is read by nothing but one node.</summary>
        public NodeProto? Single(string value, string opType, bool sizesMayBeRead = false) =>
            producers.TryGetValue(value, out var p) && p.OpType == opType
            && Readers(value) - (sizesMayBeRead ? SizeReaders(value).Count : 0) == 1 ? p : null;

        /// <summary>Shape nodes reading <paramref name="value"/> whose results only give its first two sizes (Gather at 0 or 1): batch and sequence, which heads do not change.</summary>
        public List<NodeProto> SizeReaders(string value) => users.GetValueOrDefault(value)?.Where(reader => reader.OpType == "Shape"
            && users.GetValueOrDefault(reader.Output[0])?.All(gather => gather.OpType == "Gather" && Int64Constant(gather.Input[1]) is { Values: [0 or 1] }) == true).ToList()
            ?? new List<NodeProto>();

        public bool Perm(NodeProto transpose, params long[] perm) =>
            OnnxGraphEditor.Attribute(transpose, "perm")?.Ints.SequenceEqual(perm) == true;

        /// <summary>
        /// Walks back over Mul/Div by a scalar constant (the 1/√d scale) and, for the scores, an Add of a mask that
        /// broadcasts over the head axis; returns the value before them.
        /// </summary>
        public string SkipScalarOps(string value, bool allowMask)
        {
            while (producers.TryGetValue(value, out var p) && p.OpType is "Mul" or "Div" or "Add" && p.Input.Count == 2 && Readers(value) == 1)
            {
                int other = Scalar(p.Input[1]) ? 1 : p.OpType != "Div" && Scalar(p.Input[0]) ? 0 : -1;
                if (other < 0 && allowMask && p.OpType == "Add")
                    other = BroadcastsOverHeads(p.Input[1]) ? 1 : BroadcastsOverHeads(p.Input[0]) ? 0 : -1;
                if (other < 0)
                {
                    if (p.OpType == "Add" && allowMask) throw new InvalidDataException($"the scores are added to '{p.Input[0]}' / '{p.Input[1]}', which is not known to be the same for every head");
                    return value;
                }
                value = p.Input[1 - other];
            }
            return value;
        }

        /// <summary>The Reshape [b, s, H, d] behind the Transpose with <paramref name="perm"/> that writes <paramref name="value"/>.</summary>
        public NodeProto HeadReshape(string value, params long[] perm)
        {
            var transpose = Single(value, "Transpose");
            if (transpose == null || !Perm(transpose, perm)) throw new InvalidDataException($"'{value}' is not a Transpose with perm [{string.Join(",", perm)}] of the heads");
            return Single(transpose.Input[0], "Reshape") ?? throw new InvalidDataException($"'{transpose.Input[0]}' is not a Reshape into heads");
        }

        /// <summary>Where element <paramref name="element"/> of a Reshape's <paramref name="rank"/>-value shape is written as a constant.</summary>
        public ShapeValue ShapeOf(NodeProto reshape, int rank, int element)
        {
            var shape = reshape.Input[1];
            if (Int64Constant(shape) is { } whole)
            {
                if (whole.Values.Length != rank) throw new InvalidDataException($"the Reshape '{reshape.Name}' has {whole.Values.Length} dimensions, not {rank}");
                return new ShapeValue(reshape, 1, whole.Values, whole.Dims, element);
            }
            if (producers.TryGetValue(shape, out var concat) && concat.OpType == "Concat" && concat.Input.Count == rank && Readers(shape) == 1
                && Int64Constant(concat.Input[element]) is { Values.Length: 1 } part)
                return new ShapeValue(concat, element, part.Values, part.Dims, 0);
            throw new InvalidDataException($"the shape of the Reshape '{reshape.Name}' is computed at run time (its dimension {element} is no constant)");
        }

        /// <summary>The MatMul (+ bias Add) that writes a head Reshape's input; nothing else may read it but Shape nodes whose results only give the batch and sequence sizes.</summary>
        public Projection Projection(string value, long width, ShapeValue heads)
        {
            var sizes = SizeReaders(value);
            foreach (var reader in users[value].Where(n => n.OpType != "Reshape" && !sizes.Contains(n)))
                throw new InvalidDataException($"the projection output '{value}' is also read by {reader.OpType} '{reader.Name}'");
            if (users[value].Count(n => n.OpType == "Reshape") != 1 || outputs.Contains(value)) throw new InvalidDataException($"the projection output '{value}' is read by more than its Reshape");
            string? bias = null;
            var p = producers.GetValueOrDefault(value);
            if (p?.OpType == "Add" && p.Input.Count == 2)
            {
                int b = PerChannel(p.Input[0], width) ? 0 : PerChannel(p.Input[1], width) ? 1 : -1;
                if (b < 0 || users[p.Input[b]].Count != 1) throw new InvalidDataException($"'{value}' is an Add that is not a bias of {width} values of its own");
                bias = p.Input[b];
                value = p.Input[1 - b];
                if (Readers(value) != 1) throw new InvalidDataException($"'{value}' has other readers");
                p = producers.GetValueOrDefault(value);
            }
            var weight = p?.OpType == "MatMul" ? OnnxGraphEditor.Initializer(g, p.Input[1]) : null;
            if (weight == null || weight.DataType != OnnxType.Float || weight.Dims.Count != 2 || weight.Dims[1] != width || users[weight.Name].Count != 1)
                throw new InvalidDataException($"'{value}' is not a MatMul with a float weight [inputs, {width}] of its own");
            return new Projection(weight.Name, bias, heads);
        }

        private bool PerChannel(string name, long width) => OnnxGraphEditor.Initializer(g, name) is { DataType: OnnxType.Float } t
            && t.Dims.Count >= 1 && t.Dims[^1] == width && t.Dims.Take(t.Dims.Count - 1).All(d => d == 1);

        private bool Scalar(string name)
        {
            var t = OnnxGraphEditor.Initializer(g, name);
            if (t == null && producers.TryGetValue(name, out var c) && c.OpType == "Constant") t = OnnxGraphEditor.Attribute(c, "value")?.T;
            return t != null && t.Dims.Count <= 1 && OnnxTensors.ElementCount(t) == 1;
        }

        /// <summary>An int64 constant (initializer or Constant node): its values and dims.</summary>
        public (long[] Values, long[] Dims)? Int64Constant(string name)
        {
            var t = OnnxGraphEditor.Initializer(g, name);
            if (t == null && producers.TryGetValue(name, out var c) && c.OpType == "Constant") t = OnnxGraphEditor.Attribute(c, "value")?.T;
            if (t == null || t.DataType != OnnxType.Int64) return null;
            var values = t.Int64Data.Count > 0 ? t.Int64Data.ToArray()
                : Enumerable.Range(0, t.RawData.Length / 8).Select(i => BitConverter.ToInt64(t.RawData.Span.Slice(i * 8, 8))).ToArray();
            return (values, t.Dims.ToArray());
        }

        /// <summary>
        /// Whether a value added to the [b, H, s, s] scores is the same for every head: its shape, followed back
        /// through Unsqueeze, Cast and scalar arithmetic to a graph input or initializer, has size 1 on the head axis
        /// (or fewer than 3 dimensions, so it broadcasts there).
        /// </summary>
        private bool BroadcastsOverHeads(string value)
        {
            var facts = Ones(value, 0);
            if (facts == null) return false;
            int headAxis = 1 - (4 - facts.Value.Rank);
            return facts.Value.Rank <= 4 && (headAxis < 0 || facts.Value.Ones.Contains(headAxis));
        }

        private (int Rank, HashSet<int> Ones)? Ones(string value, int depth)
        {
            if (depth > 16) return null;
            if (g.Input.FirstOrDefault(i => i.Name == value) is { } input && input.Type?.TensorType?.Shape is { } shape)
                return (shape.Dim.Count, Enumerable.Range(0, shape.Dim.Count).Where(i => shape.Dim[i].DimValue == 1).ToHashSet());
            if (OnnxGraphEditor.Initializer(g, value) is { } t)
                return (t.Dims.Count, Enumerable.Range(0, t.Dims.Count).Where(i => t.Dims[i] == 1).ToHashSet());
            if (!producers.TryGetValue(value, out var p)) return null;
            switch (p.OpType)
            {
                case "Cast" or "Neg" or "Not":
                    return Ones(p.Input[0], depth + 1);
                case "Add" or "Sub" or "Mul" or "Div" when p.Input.Count == 2:
                    if (Scalar(p.Input[0])) return Ones(p.Input[1], depth + 1);
                    if (Scalar(p.Input[1])) return Ones(p.Input[0], depth + 1);
                    return null;
                case "Unsqueeze":
                    var inner = Ones(p.Input[0], depth + 1);
                    var axes = OnnxGraphEditor.Attribute(p, "axes")?.Ints.ToArray() ?? (p.Input.Count > 1 ? Int64Constant(p.Input[1])?.Values : null);
                    if (inner == null || axes == null) return null;
                    int rank = inner.Value.Rank + axes.Length;
                    var inserted = axes.Select(a => (int)(a < 0 ? a + rank : a)).ToHashSet();
                    var ones = new HashSet<int>(inserted);
                    for (int i = 0, old = 0; i < rank; i++)
                    {
                        if (inserted.Contains(i)) continue;
                        if (inner.Value.Ones.Contains(old)) ones.Add(i);
                        old++;
                    }
                    return (rank, ones);
                default:
                    return null;
            }
        }
    }
}
