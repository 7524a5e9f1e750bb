using Google.Protobuf;
using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Trees;

/// <summary>
/// Moves a native ensemble into the ONNX-ML TreeEnsembleRegressor form that the pruner and the leaf quantizer edit,
/// and the edited form back into the native ensemble. A node's ONNX id carries its tree's index (high 32 bits) and
/// its index in that tree (internal node n: n; leaf j: internal nodes + j), so every edited node is traced back to
/// the native node it came from, whatever trees the edit dropped.
/// </summary>
internal static class NativeTreeNodes
{
    private static long Id(int tree, int local) => ((long)tree << 32) | (uint)local;
    private static (int Tree, int Local) Split(long id) => ((int)(id >> 32), (int)(id & 0xFFFFFFFF));

    /// <summary>A TreeEnsembleRegressor node with the ensemble's trees, reading <paramref name="input"/>.</summary>
    public static NodeProto ToNode(NativeTreeEnsemble ensemble, string input, string output, string name)
    {
        var treeIds = new List<long>(); var nodeIds = new List<long>(); var features = new List<long>(); var modes = new List<ByteString>();
        var values = new List<float>(); var trueIds = new List<long>(); var falseIds = new List<long>(); var missing = new List<long>();
        var tTree = new List<long>(); var tNode = new List<long>(); var tId = new List<long>(); var tWeight = new List<float>();
        var leafMode = ByteString.CopyFromUtf8("LEAF");
        var branchMode = ByteString.CopyFromUtf8("BRANCH_LEQ");
        long Child(int t, NativeTree tree, int child) => Id(t, child >= 0 ? child : tree.NumNodes + ~child);
        for (int t = 0; t < ensemble.Trees.Count; t++)
        {
            var tree = ensemble.Trees[t];
            for (int n = 0; n < tree.NumNodes; n++)
            {
                treeIds.Add(t); nodeIds.Add(Id(t, n)); features.Add(tree.SplitFeature[n]); modes.Add(branchMode);
                values.Add(tree.RawThresholds[n]); trueIds.Add(Child(t, tree, tree.Lte[n])); falseIds.Add(Child(t, tree, tree.Gt[n]));
                // ML.NET replaces a missing value by the node's default when the tree has defaults; otherwise NaN <= t is false.
                float fill = tree.MissingValueAt(n);
                missing.Add(!float.IsNaN(fill) && fill <= tree.RawThresholds[n] ? 1 : 0);
            }
            for (int leaf = 0; leaf < tree.NumLeaves; leaf++)
            {
                long id = Id(t, tree.NumNodes + leaf);
                treeIds.Add(t); nodeIds.Add(id); features.Add(0); modes.Add(leafMode); values.Add(0f); trueIds.Add(0); falseIds.Add(0); missing.Add(0);
                tTree.Add(t); tNode.Add(id); tId.Add(0); tWeight.Add((float)tree.LeafValues[leaf]);
            }
        }
        var node = OnnxGraphEditor.Node("TreeEnsembleRegressor", new[] { input }, new[] { output }, name, "ai.onnx.ml");
        void Ints(string n, IEnumerable<long> v) { var a = new AttributeProto { Name = n, Type = AttributeProto.Types.AttributeType.Ints }; a.Ints.Add(v); node.Attribute.Add(a); }
        void Floats(string n, IEnumerable<float> v) { var a = new AttributeProto { Name = n, Type = AttributeProto.Types.AttributeType.Floats }; a.Floats.Add(v); node.Attribute.Add(a); }
        void Text(string n, string v) => node.Attribute.Add(new AttributeProto { Name = n, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) });
        Ints("nodes_treeids", treeIds); Ints("nodes_nodeids", nodeIds); Ints("nodes_featureids", features);
        var modeAttr = new AttributeProto { Name = "nodes_modes", Type = AttributeProto.Types.AttributeType.Strings };
        modeAttr.Strings.Add(modes);
        node.Attribute.Add(modeAttr);
        Floats("nodes_values", values); Ints("nodes_truenodeids", trueIds); Ints("nodes_falsenodeids", falseIds);
        Ints("nodes_missing_value_tracks_true", missing);
        Ints("target_treeids", tTree); Ints("target_nodeids", tNode); Ints("target_ids", tId); Floats("target_weights", tWeight);
        node.Attribute.Add(new AttributeProto { Name = "n_targets", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        Floats("base_values", new[] { 0f });
        Text("aggregate_function", ensemble.Kind.Average ? "AVERAGE" : "SUM");
        Text("post_transform", "NONE");
        return node;
    }

    /// <summary>
    /// The ensemble as <paramref name="edited"/> (made by <see cref="ToNode"/>, then edited) describes it: the kept
    /// trees, their collapsed branches and new leaf values, with each node's split, missing-value default and
    /// statistics taken from the native node it came from. The base value goes into the leaves, because ML.NET's
    /// trees add no constant of their own.
    /// </summary>
    public static NativeTreeEnsemble FromNode(NativeTreeEnsemble original, NodeProto edited)
    {
        var node = new TreeEnsembleNode(edited);
        var trees = new List<NativeTree>();
        foreach (var tree in node.Trees)
        {
            long root = node.RootId(tree);
            var source = original.Trees[Split(root).Tree];
            trees.Add(Rebuild(node, tree, source, root));
        }
        double constant = node.BaseValues[0];
        if (constant != 0 && trees.Count > 0)
            // SUM: once, in one tree (every row reaches exactly one of its leaves); AVERAGE: in every tree.
            foreach (var t in original.Kind.Average ? trees : trees.Take(1))
                for (int leaf = 0; leaf < t.NumLeaves; leaf++) t.LeafValues[leaf] += constant;
        return original.WithTrees(trees);
    }

    private static NativeTree Rebuild(TreeEnsembleNode node, TreeEnsembleNode.Tree tree, NativeTree source, long root)
    {
        var lte = new List<int>(); var gt = new List<int>(); var split = new List<int>(); var raw = new List<float>();
        var bins = new List<uint>(); var defaults = new List<float>(); var gain = new List<double>(); var pValue = new List<double>(); var previous = new List<double>();
        var leaves = new List<double>(); var labels = new List<double>(); var labelWeights = new List<double>();
        int perLeaf = source.LabelsPerLeaf;

        // Preorder, so that the root is internal node 0 as ML.NET requires. Returns the child reference (~leaf for a leaf).
        int Visit(long id)
        {
            int local = Split(id).Local;
            if (node.IsLeaf(tree, id))
            {
                leaves.Add(node.LeafValue(tree, id));
                if (perLeaf > 0) AddLabels(source, local, perLeaf, labels, labelWeights);
                return ~(leaves.Count - 1);
            }
            int at = lte.Count;
            lte.Add(0); gt.Add(0);
            split.Add(source.SplitFeature[local]);
            raw.Add(source.RawThresholds[local]);
            if (source.BinThresholds.Length > 0) bins.Add(source.BinThresholds[local]);
            if (source.MissingDefaults.Length > 0) defaults.Add(source.MissingDefaults[local]);
            if (source.Gain.Length > 0) gain.Add(source.Gain[local]);
            if (source.GainPValue.Length > 0) pValue.Add(source.GainPValue[local]);
            if (source.PreviousLeafValue.Length > 0) previous.Add(source.PreviousLeafValue[local]);
            var (t, f) = node.Children(tree, id);
            lte[at] = Visit(t);
            gt[at] = Visit(f);
            return at;
        }

        Visit(root);
        if (leaves.Count == 1)
        {
            // ML.NET loads only trees of two leaves or more: a constant tree is one split with two equal leaves.
            return new NativeTree
            {
                Type = source.Type, NumLeaves = 2, MaxOutput = source.MaxOutput, Weight = source.Weight,
                Lte = new[] { ~0 }, Gt = new[] { ~1 }, SplitFeature = new[] { 0 }, RawThresholds = new[] { 0f },
                LeafValues = new[] { leaves[0], leaves[0] },
                Labels = labels.Concat(labels).ToArray(), LabelWeights = labelWeights.Concat(labelWeights).ToArray(),
            };
        }
        return new NativeTree
        {
            Type = source.Type, NumLeaves = leaves.Count, MaxOutput = source.MaxOutput, Weight = source.Weight,
            Lte = lte.ToArray(), Gt = gt.ToArray(), SplitFeature = split.ToArray(), RawThresholds = raw.ToArray(),
            BinThresholds = bins.ToArray(), MissingDefaults = defaults.ToArray(), LeafValues = leaves.ToArray(),
            Gain = gain.ToArray(), GainPValue = pValue.ToArray(), PreviousLeafValue = previous.ToArray(),
            Labels = labels.ToArray(), LabelWeights = labelWeights.ToArray(),
        };
    }

    /// <summary>
    /// A quantile tree's sampled labels for a new leaf: an original leaf's own, or for a collapsed branch the labels
    /// of every original leaf below it, sorted and thinned evenly to the per-leaf count (quantiles stay close).
    /// </summary>
    private static void AddLabels(NativeTree source, int local, int perLeaf, List<double> labels, List<double> weights)
    {
        var leavesBelow = new List<int>();
        var stack = new Stack<int>();
        if (local >= source.NumNodes) leavesBelow.Add(local - source.NumNodes);
        else stack.Push(local);
        while (stack.Count > 0)
        {
            int n = stack.Pop();
            foreach (var child in new[] { source.Lte[n], source.Gt[n] })
                if (child < 0) leavesBelow.Add(~child); else stack.Push(child);
        }
        bool weighted = source.LabelWeights.Length == source.Labels.Length;
        var pooled = leavesBelow.SelectMany(l => Enumerable.Range(l * perLeaf, perLeaf))
            .Select(i => (Label: source.Labels[i], Weight: weighted ? source.LabelWeights[i] : 1.0)).OrderBy(p => p.Label).ToList();
        for (int k = 0; k < perLeaf; k++)
        {
            var (label, weight) = pooled[(int)((k + 0.5) * pooled.Count / perLeaf)];
            labels.Add(label);
            if (weighted) weights.Add(weight);
        }
    }
}
