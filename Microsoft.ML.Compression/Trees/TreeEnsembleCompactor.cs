using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Trees;

/// <summary>
/// Lossless, more compact storage of tree ensembles: every ai.onnx.ml TreeEnsembleRegressor (how ML.NET exports
/// FastTree, FastForest and LightGBM, opset 1–4: one entry per node, leaves included, with a tree id, a node id,
/// a mode string and a hit rate each, and four more entries per leaf value) becomes an ai.onnx.ml opset-5
/// TreeEnsemble: branch nodes only, modes as one byte each, thresholds and leaf values as float tensors, leaves
/// as (target, weight) pairs. ONNX Runtime turns it back into the same trees when it loads the model, so scores
/// are bit-identical. <see cref="Expand"/> undoes it, so stages that edit trees keep working on the old form.
/// </summary>
internal static class TreeEnsembleCompactor
{
    public const string MlDomain = "ai.onnx.ml";
    public const int CompactOpset = 5;
    /// <summary>The ai.onnx.ml opset restored by <see cref="Expand"/>: the one ML.NET exports.</summary>
    public const int ExpandedOpset = 2;
    private const string BaseSuffix = "_tree_base_values";

    private static readonly string[] Modes = { "BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ" };
    private static readonly string[] Aggregates = { "AVERAGE", "SUM", "MIN", "MAX" };
    private static readonly string[] PostTransforms = { "NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT" };

    /// <summary>
    /// ai.onnx.ml operators that mean the same at opset 5 as at opsets 1–4 (LabelEncoder 4 only added tensor
    /// attributes), so moving the graph's ai.onnx.ml opset to 5 leaves them as they are. ML.NET exports Binarizer
    /// (binary PredictedLabel) and LabelEncoder next to the trees.
    /// </summary>
    private static readonly HashSet<string> SameUpToOpset5 = new()
    {
        "Binarizer", "LabelEncoder", "Scaler", "Normalizer", "ZipMap", "LinearClassifier", "LinearRegressor", "OneHotEncoder",
        "Imputer", "FeatureVectorizer", "ArrayFeatureExtractor", "CategoryMapper", "DictVectorizer",
    };

    public static bool IsCompact(ModelProto model) => model.Graph.Node.Any(n => n.Domain == MlDomain && n.OpType == "TreeEnsemble");

    /// <summary>
    /// Rewrites every TreeEnsembleRegressor of the graph as an opset-5 TreeEnsemble and sets the ai.onnx.ml opset
    /// to 5. All or nothing: if one ensemble (or another ai.onnx.ml operator) cannot be moved, the model is left
    /// unchanged and the reason returned.
    /// </summary>
    /// <returns>null when compacted (or nothing to do), else why not.</returns>
    public static string? Compact(ModelProto model, bool shareLeaves = true)
    {
        var g = model.Graph;
        var trees = g.Node.Where(n => n.Domain == MlDomain && n.OpType == "TreeEnsembleRegressor").ToList();
        if (trees.Count == 0) return null;
        var others = g.Node.Where(n => n.Domain == MlDomain && n.OpType != "TreeEnsembleRegressor" && !SameUpToOpset5.Contains(n.OpType)).Select(n => n.OpType).Distinct().ToList();
        if (others.Count > 0) return $"the graph has other ai.onnx.ml operators ({string.Join(", ", others)})";
        var converted = new List<(NodeProto Old, NodeProto New, float[] Base)>();
        foreach (var node in trees)
        {
            var (compact, baseValues, why) = ToTreeEnsemble(node, shareLeaves);
            if (compact == null) return why;
            converted.Add((node, compact, baseValues!));
        }
        foreach (var (old, compact, baseValues) in converted)
        {
            int at = g.Node.IndexOf(old);
            g.Node[at] = compact;
            if (baseValues.Any(v => v != 0f))
            {
                // Opset 5 has no base values: ONNX Runtime added them after aggregation (and before the post
                // transform, which is NONE here), which is exactly a float Add after the node.
                var output = compact.Output[0];
                var raw = OnnxGraphEditor.UniqueName(g, output + "_trees");
                var baseName = OnnxGraphEditor.UniqueName(g, output + BaseSuffix);
                compact.Output[0] = raw;
                g.Initializer.Add(OnnxTensors.Float(baseName, baseValues, baseValues.Length));
                g.Node.Insert(at + 1, OnnxGraphEditor.Node("Add", new[] { raw, baseName }, new[] { output }, baseName + "_add"));
            }
        }
        SetMlOpset(model, CompactOpset);
        return null;
    }

    /// <summary>
    /// Stores the graph's tree ensembles as <paramref name="storage"/> asks (the graph holds TreeEnsembleRegressors
    /// on entry) and says what was chosen, for a stage's report line.
    /// </summary>
    public static string Store(ModelProto model, TreeStorage storage)
    {
        if (storage == TreeStorage.Classic) return "";
        var classic = model.Clone();
        var classicBytes = OnnxModelIO.ToBytes(classic);
        var why = Compact(model);
        if (why != null) return $" Trees kept as TreeEnsembleRegressor (opset-5 TreeEnsemble not possible: {why}).";
        var compactBytes = OnnxModelIO.ToBytes(model);
        if (storage == TreeStorage.Compact)
            return $" Stored as ai.onnx.ml opset-5 TreeEnsemble (lossless): ONNX {classicBytes.Length:N0} -> {compactBytes.Length:N0} bytes.";
        long classicZip = Deflated(classicBytes), compactZip = Deflated(compactBytes);
        if (compactZip <= classicZip)
            return $" Stored as ai.onnx.ml opset-5 TreeEnsemble (lossless): ONNX {classicBytes.Length:N0} -> {compactBytes.Length:N0} bytes, deflated {classicZip:N0} -> {compactZip:N0}.";
        model.Graph = classic.Graph;
        model.OpsetImport.Clear();
        model.OpsetImport.Add(classic.OpsetImport);
        return $" Trees kept as TreeEnsembleRegressor: deflated (as saved) {classicZip:N0} bytes vs {compactZip:N0} as opset-5 TreeEnsemble, whose ONNX file would be {compactBytes.Length:N0} instead of {classicBytes.Length:N0} bytes (TreeStorage.Compact).";
    }

    /// <summary>Bytes of <paramref name="bytes"/> deflated as ML.NET's model zip stores them.</summary>
    internal static long Deflated(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var deflate = new System.IO.Compression.DeflateStream(output, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            deflate.Write(bytes);
        return output.Length;
    }

    /// <summary>Turns opset-5 TreeEnsembles back into TreeEnsembleRegressors (ai.onnx.ml opset 2), base values included.</summary>
    public static bool Expand(ModelProto model)
    {
        var g = model.Graph;
        var compact = g.Node.Where(n => n.Domain == MlDomain && n.OpType == "TreeEnsemble").ToList();
        if (compact.Count == 0) return false;
        // The ai.onnx.ml opset goes back to 2: the other ai.onnx.ml operators must mean the same there.
        var blocking = g.Node.Where(n => n.Domain == MlDomain && n.OpType != "TreeEnsemble"
            && (!SameUpToOpset5.Contains(n.OpType) || n.Attribute.Any(a => a.Name.EndsWith("_tensor", StringComparison.Ordinal)))).Select(n => n.OpType).Distinct().ToList();
        if (blocking.Count > 0)
            throw new UnsupportedModelException($"The graph's opset-5 TreeEnsemble can only be edited in the opset-2 form, and its other ai.onnx.ml operators ({string.Join(", ", blocking)}) need opset 3 or newer.");
        foreach (var n in compact)
            if (new[] { "nodes_splits", "leaf_weights" }.Any(name => OnnxGraphEditor.Attribute(n, name)?.T is { } t && t.DataType != OnnxType.Float))
                throw new UnsupportedModelException($"TreeEnsemble '{n.Name}' has double thresholds or leaf values; only float ensembles can be pruned or quantized.");
        foreach (var node in compact)
        {
            var regressor = ToRegressor(node);
            int targets = (int)(OnnxGraphEditor.Attribute(node, "n_targets")?.I ?? 1);
            var baseValues = new float[targets];
            // The Add that Compact wrote for the base values goes back into base_values.
            var readers = g.Node.Where(n => n.Input.Contains(node.Output[0])).ToList();
            if (readers.Count == 1 && readers[0].OpType == "Add" && readers[0].Input.Count == 2 && readers[0].Input[0] == node.Output[0]
                && readers[0].Input[1].EndsWith(BaseSuffix, StringComparison.Ordinal) && OnnxGraphEditor.Initializer(g, readers[0].Input[1]) is { } init
                && init.DataType == OnnxType.Float && OnnxTensors.ElementCount(init) == targets && !g.Output.Any(o => o.Name == node.Output[0]))
            {
                baseValues = OnnxTensors.ReadFloats(init);
                regressor.Output[0] = readers[0].Output[0];
                g.Node.Remove(readers[0]);
                g.Initializer.Remove(init);
            }
            var b = new AttributeProto { Name = "base_values", Type = AttributeProto.Types.AttributeType.Floats };
            b.Floats.Add(baseValues);
            regressor.Attribute.Add(b);
            g.Node[g.Node.IndexOf(node)] = regressor;
        }
        SetMlOpset(model, ExpandedOpset);
        return true;
    }

    private static void SetMlOpset(ModelProto model, int version)
    {
        var import = model.OpsetImport.FirstOrDefault(o => o.Domain == MlDomain);
        if (import == null) model.OpsetImport.Add(new OperatorSetIdProto { Domain = MlDomain, Version = version });
        else import.Version = version;
    }

    private static (NodeProto? Node, float[]? Base, string? Why) ToTreeEnsemble(NodeProto node, bool shareLeaves)
    {
        long[] Ints(string name) => OnnxGraphEditor.Attribute(node, name)?.Ints.ToArray() ?? Array.Empty<long>();
        string Str(string name, string dflt) => OnnxGraphEditor.Attribute(node, name)?.S.ToStringUtf8() is { Length: > 0 } s ? s : dflt;
        var treeIds = Ints("nodes_treeids");
        var nodeIds = Ints("nodes_nodeids");
        var featureIds = Ints("nodes_featureids");
        var trueIds = Ints("nodes_truenodeids");
        var falseIds = Ints("nodes_falsenodeids");
        var missing = Ints("nodes_missing_value_tracks_true");
        var modes = OnnxGraphEditor.Attribute(node, "nodes_modes")?.Strings.Select(s => s.ToStringUtf8()).ToArray() ?? Array.Empty<string>();
        var values = OnnxGraphEditor.Attribute(node, "nodes_values")?.Floats.ToArray();
        if (values == null || node.Attribute.Any(a => a.Name.EndsWith("_as_tensor", StringComparison.Ordinal)))
            return (null, null, $"'{node.Name}' stores thresholds, leaf or base values as tensors (opset 3)");
        int n = treeIds.Length;
        if (new[] { nodeIds.Length, featureIds.Length, trueIds.Length, falseIds.Length, modes.Length, values.Length }.Any(l => l != n) || (missing.Length != 0 && missing.Length != n))
            return (null, null, $"'{node.Name}' has node attributes of different lengths");
        int targets = (int)(OnnxGraphEditor.Attribute(node, "n_targets")?.I ?? 1);
        var aggregate = Array.IndexOf(Aggregates, Str("aggregate_function", "SUM"));
        var post = Array.IndexOf(PostTransforms, Str("post_transform", "NONE"));
        if (aggregate < 0 || post < 0) return (null, null, $"'{node.Name}' has an unknown aggregate function or post transform");
        var baseValues = OnnxGraphEditor.Attribute(node, "base_values")?.Floats.ToArray() ?? Array.Empty<float>();
        if (baseValues.Length == 0) baseValues = new float[targets];
        if (baseValues.Length != targets) return (null, null, $"'{node.Name}' has {baseValues.Length} base values for {targets} targets");
        if (post != 0 && baseValues.Any(v => v != 0f)) return (null, null, $"'{node.Name}' has base values before a {PostTransforms[post]} post transform");

        var tTree = Ints("target_treeids");
        var tNode = Ints("target_nodeids");
        var tId = Ints("target_ids");
        var tW = OnnxGraphEditor.Attribute(node, "target_weights")?.Floats.ToArray() ?? Array.Empty<float>();
        if (tTree.Length != tNode.Length || tTree.Length != tId.Length || tTree.Length != tW.Length)
            return (null, null, $"'{node.Name}' has target attributes of different lengths");
        var leafValue = new Dictionary<(long, long), (long Target, float Weight)>();
        for (int i = 0; i < tTree.Length; i++)
            if (!leafValue.TryAdd((tTree[i], tNode[i]), (tId[i], tW[i])))
                return (null, null, $"'{node.Name}' has leaves with several targets, which opset 5 cannot store");

        // ONNX Runtime adds a target's base value only if some leaf of the row wrote to that target (else it outputs
        // 0): an Add after the node is the same only if every leaf writes to each target that has a base value.
        for (int k = 0; k < targets; k++)
            if (baseValues[k] != 0f && (leafValue.Values.Any(v => v.Target != k) || Enumerable.Range(0, n).Any(i => modes[i] == "LEAF" && !leafValue.ContainsKey((treeIds[i], nodeIds[i])))))
                return (null, null, $"'{node.Name}' has a base value for target {k} that not every leaf writes to");
        var index = new Dictionary<(long, long), int>();
        var treeOrder = new List<long>();
        for (int i = 0; i < n; i++)
        {
            if (!index.TryAdd((treeIds[i], nodeIds[i]), i)) return (null, null, $"'{node.Name}' repeats node {nodeIds[i]} of tree {treeIds[i]}");
            if (treeOrder.Count == 0 || treeOrder[^1] != treeIds[i])
            {
                // ONNX Runtime starts a tree at each change of tree id: a tree whose nodes are not contiguous is not ours to move.
                if (treeOrder.Contains(treeIds[i])) return (null, null, $"'{node.Name}' interleaves the nodes of tree {treeIds[i]} with other trees");
                treeOrder.Add(treeIds[i]);
            }
        }
        bool anyMissing = missing.Any(m => m != 0);
        // Trees keep their order (ONNX Runtime's), so the float sums run in the same order.

        var roots = new List<long>();
        var bFeature = new List<long>(); var bMode = new List<byte>(); var bSplit = new List<float>(); var bMissing = new List<long>();
        var bTrue = new List<long>(); var bTrueLeaf = new List<long>(); var bFalse = new List<long>(); var bFalseLeaf = new List<long>();
        var lTarget = new List<long>(); var lWeight = new List<float>();
        var firstOfTree = new Dictionary<long, int>();
        for (int i = n - 1; i >= 0; i--) firstOfTree[treeIds[i]] = i;
        // Leaves with the same (target, value) share one leaf entry (ONNX Runtime reads a leaf by its index, from
        // any number of branches): quantized leaves then form a small table that branches index.
        var sharedLeaf = new Dictionary<(long, int), int>();
        int SharedLeaf((long Target, float Weight) v)
        {
            var key = (v.Target, BitConverter.SingleToInt32Bits(v.Weight));
            if (!shareLeaves) return FreshLeaf(v);
            if (!sharedLeaf.TryGetValue(key, out var i)) { i = lTarget.Count; lTarget.Add(v.Target); lWeight.Add(v.Weight); sharedLeaf[key] = i; }
            return i;
        }
        int FreshLeaf((long Target, float Weight) v) { lTarget.Add(v.Target); lWeight.Add(v.Weight); return lTarget.Count - 1; }
        foreach (var tree in treeOrder)
        {
            int root = firstOfTree[tree]; // ONNX Runtime starts each tree at its first node
            bool IsLeaf(int i) => modes[i] == "LEAF";
            (long, float) Leaf(int i) => leafValue.TryGetValue((treeIds[i], nodeIds[i]), out var v) ? v : (0L, 0f);
            bool HasValue(int i) => leafValue.ContainsKey((treeIds[i], nodeIds[i]));
            if (IsLeaf(root))
            {
                if (!HasValue(root) && aggregate >= 2) return (null, null, $"'{node.Name}' has an empty tree under {Aggregates[aggregate]}");
                // A one-leaf tree: a branch whose two children are two entries of the leaf (distinct indexes, since
                // ONNX Runtime reads a root whose two children have the same index as a leaf).
                roots.Add(bFeature.Count);
                bFeature.Add(0); bMode.Add(0); bSplit.Add(0f); bMissing.Add(0);
                bTrue.Add(SharedLeaf(Leaf(root))); bTrueLeaf.Add(1);
                bFalse.Add(FreshLeaf(Leaf(root))); bFalseLeaf.Add(1);
                continue;
            }
            // Branch nodes get indexes in pre-order.
            var branches = new List<int>();
            var stack = new Stack<int>();
            stack.Push(root);
            var seen = new HashSet<int>();
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                if (!seen.Add(i)) return (null, null, $"'{node.Name}': tree {tree} is not a tree (node {nodeIds[i]} reached twice)");
                if (IsLeaf(i))
                {
                    if (!HasValue(i) && aggregate >= 2) return (null, null, $"'{node.Name}' has leaves without a value under {Aggregates[aggregate]}");
                    continue;
                }
                if (Array.IndexOf(Modes, modes[i]) < 0) return (null, null, $"'{node.Name}' has node mode {modes[i]}");
                if (!index.TryGetValue((tree, falseIds[i]), out var f) || !index.TryGetValue((tree, trueIds[i]), out var t))
                    return (null, null, $"'{node.Name}': node {nodeIds[i]} of tree {tree} points to a missing node");
                branches.Add(i);
                stack.Push(f);
                stack.Push(t);
            }
            int nodeBase = bFeature.Count;
            var branchIndex = new Dictionary<int, int>();
            for (int k = 0; k < branches.Count; k++) branchIndex[branches[k]] = nodeBase + k;
            roots.Add(nodeBase);
            foreach (var i in branches)
            {
                int t = index[(tree, trueIds[i])], f = index[(tree, falseIds[i])];
                long trueIndex = IsLeaf(t) ? SharedLeaf(Leaf(t)) : branchIndex[t];
                long falseIndex = IsLeaf(f) ? SharedLeaf(Leaf(f)) : branchIndex[f];
                // ONNX Runtime reads a root whose true and false indexes are equal as a leaf (a leaf and a branch, or
                // two equal leaves, can share an index): give the root's leaf child an entry of its own.
                while (i == root && trueIndex == falseIndex)
                {
                    if (IsLeaf(t)) trueIndex = FreshLeaf(Leaf(t));
                    else falseIndex = FreshLeaf(Leaf(f));
                }
                bFeature.Add(featureIds[i]); bMode.Add((byte)Array.IndexOf(Modes, modes[i])); bSplit.Add(values[i]);
                bMissing.Add(missing.Length > 0 ? missing[i] : 0);
                bTrue.Add(trueIndex); bTrueLeaf.Add(IsLeaf(t) ? 1 : 0);
                bFalse.Add(falseIndex); bFalseLeaf.Add(IsLeaf(f) ? 1 : 0);
            }
        }

        if (shareLeaves) OrderLeavesByUse(roots, bTrue, bTrueLeaf, bFalse, bFalseLeaf, lTarget, lWeight);

        var compact = OnnxGraphEditor.Node("TreeEnsemble", node.Input, node.Output, node.Name, MlDomain)
            .WithInt("aggregate_function", aggregate)
            .WithInt("post_transform", post)
            .WithInt("n_targets", targets)
            .WithInts("tree_roots", roots)
            .WithInts("nodes_featureids", bFeature)
            .WithTensor("nodes_modes", OnnxTensors.UInt8("nodes_modes", bMode.ToArray(), bMode.Count))
            .WithTensor("nodes_splits", OnnxTensors.Float("nodes_splits", bSplit.ToArray(), bSplit.Count))
            .WithInts("nodes_truenodeids", bTrue)
            .WithInts("nodes_trueleafs", bTrueLeaf)
            .WithInts("nodes_falsenodeids", bFalse)
            .WithInts("nodes_falseleafs", bFalseLeaf)
            .WithInts("leaf_targetids", lTarget)
            .WithTensor("leaf_weights", OnnxTensors.Float("leaf_weights", lWeight.ToArray(), lWeight.Count));
        if (anyMissing) compact.WithInts("nodes_missing_value_tracks_true", bMissing);
        return (compact, baseValues, null);
    }

    /// <summary>
    /// Renumbers the leaf table most used first, so that the common (quantized) leaf values get one-byte indexes.
    /// A root whose two child indexes become equal (read as a leaf by ONNX Runtime) gets its leaf child a fresh entry.
    /// </summary>
    private static void OrderLeavesByUse(List<long> roots, List<long> bTrue, List<long> bTrueLeaf, List<long> bFalse, List<long> bFalseLeaf, List<long> lTarget, List<float> lWeight)
    {
        var uses = new int[lTarget.Count];
        for (int i = 0; i < bTrue.Count; i++)
        {
            if (bTrueLeaf[i] != 0) uses[bTrue[i]]++;
            if (bFalseLeaf[i] != 0) uses[bFalse[i]]++;
        }
        var order = Enumerable.Range(0, uses.Length).OrderByDescending(i => uses[i]).ThenBy(i => i).ToArray();
        var newIndex = new long[order.Length];
        for (int p = 0; p < order.Length; p++) newIndex[order[p]] = p;
        long Remap(List<long> ids, List<long> isLeaf, int i) => isLeaf[i] != 0 ? newIndex[ids[i]] : ids[i];
        for (int i = 0; i < bTrue.Count; i++)
        {
            bTrue[i] = Remap(bTrue, bTrueLeaf, i);
            bFalse[i] = Remap(bFalse, bFalseLeaf, i);
        }
        var targets = order.Select(i => lTarget[i]).ToList();
        var weights = order.Select(i => lWeight[i]).ToList();
        lTarget.Clear(); lTarget.AddRange(targets);
        lWeight.Clear(); lWeight.AddRange(weights);
        foreach (int r in roots.Select(r => (int)r))
            while (bTrue[r] == bFalse[r])
            {
                // One child is a leaf (branch indexes are distinct): a copy of it at the end of the table.
                var (ids, leaf) = bTrueLeaf[r] != 0 ? (bTrue, bTrue[r]) : (bFalse, bFalse[r]);
                lTarget.Add(lTarget[(int)leaf]); lWeight.Add(lWeight[(int)leaf]);
                ids[r] = lTarget.Count - 1;
            }
    }

    private static NodeProto ToRegressor(NodeProto node)
    {
        long[] Ints(string name) => OnnxGraphEditor.Attribute(node, name)?.Ints.ToArray() ?? Array.Empty<long>();
        float[] Floats(string name) => OnnxGraphEditor.Attribute(node, name)?.T is { } t ? OnnxTensors.ReadFloats(t) : Array.Empty<float>();
        var roots = Ints("tree_roots");
        var feature = Ints("nodes_featureids");
        var trueIds = Ints("nodes_truenodeids"); var trueLeaf = Ints("nodes_trueleafs");
        var falseIds = Ints("nodes_falsenodeids"); var falseLeaf = Ints("nodes_falseleafs");
        var missing = Ints("nodes_missing_value_tracks_true");
        var splits = Floats("nodes_splits");
        var modeTensor = OnnxGraphEditor.Attribute(node, "nodes_modes")?.T;
        var modes = modeTensor == null ? new byte[feature.Length] : modeTensor.RawData.Length > 0 ? modeTensor.RawData.ToByteArray() : modeTensor.Int32Data.Select(i => (byte)i).ToArray();
        var leafTarget = Ints("leaf_targetids");
        var leafWeight = Floats("leaf_weights");
        if (OnnxGraphEditor.Attribute(node, "membership_values") != null || modes.Any(m => m >= Modes.Length))
            throw new UnsupportedModelException($"TreeEnsemble '{node.Name}' uses BRANCH_MEMBER splits, which cannot be edited.");

        var nTree = new List<long>(); var nNode = new List<long>(); var nFeat = new List<long>(); var nMode = new List<ByteString>();
        var nVal = new List<float>(); var nTrue = new List<long>(); var nFalse = new List<long>(); var nMiss = new List<long>();
        var tTree = new List<long>(); var tNode = new List<long>(); var tId = new List<long>(); var tW = new List<float>();
        var leafMode = ByteString.CopyFromUtf8("LEAF");
        var modeStrings = Modes.Select(ByteString.CopyFromUtf8).ToArray();
        for (int tree = 0; tree < roots.Length; tree++)
        {
            long next = 0;
            long AddLeaf(long leaf)
            {
                long id = next++;
                nTree.Add(tree); nNode.Add(id); nFeat.Add(0); nMode.Add(leafMode); nVal.Add(0f); nTrue.Add(0); nFalse.Add(0); nMiss.Add(0);
                tTree.Add(tree); tNode.Add(id); tId.Add(leafTarget[leaf]); tW.Add(leafWeight[leaf]);
                return id;
            }
            // Iterative pre-order; a slot is patched with its children's ids once they are known.
            long AddBranch(long root)
            {
                var stack = new Stack<(long Index, bool IsLeaf, int Parent, bool IsTrue)>();
                stack.Push((root, false, -1, false));
                long rootId = -1;
                while (stack.Count > 0)
                {
                    var (i, isLeaf, parent, isTrue) = stack.Pop();
                    long id;
                    if (isLeaf) id = AddLeaf(i);
                    else
                    {
                        id = next++;
                        int slot = nTree.Count;
                        nTree.Add(tree); nNode.Add(id); nFeat.Add(feature[i]); nMode.Add(modeStrings[modes[i]]); nVal.Add(splits[i]);
                        nTrue.Add(-1); nFalse.Add(-1); nMiss.Add(missing.Length > 0 ? missing[i] : 0);
                        stack.Push((falseIds[i], falseLeaf[i] != 0, slot, false));
                        stack.Push((trueIds[i], trueLeaf[i] != 0, slot, true));
                    }
                    if (parent < 0) rootId = id;
                    else if (isTrue) nTrue[parent] = id;
                    else nFalse[parent] = id;
                }
                return rootId;
            }
            long r = roots[tree];
            if (trueIds[r] == falseIds[r]) AddLeaf(r); // how ONNX Runtime reads such a root
            else if (trueLeaf[r] != 0 && falseLeaf[r] != 0 && leafTarget[trueIds[r]] == leafTarget[falseIds[r]]
                && leafWeight[trueIds[r]].Equals(leafWeight[falseIds[r]])) AddLeaf(trueIds[r]); // Compact's one-leaf tree
            else AddBranch(r);
        }
        var regressor = OnnxGraphEditor.Node("TreeEnsembleRegressor", node.Input, node.Output, node.Name, MlDomain)
            .WithInts("nodes_treeids", nTree).WithInts("nodes_nodeids", nNode).WithInts("nodes_featureids", nFeat);
        var m = new AttributeProto { Name = "nodes_modes", Type = AttributeProto.Types.AttributeType.Strings };
        m.Strings.Add(nMode);
        regressor.Attribute.Add(m);
        AddFloats(regressor, "nodes_values", nVal);
        regressor.WithInts("nodes_truenodeids", nTrue).WithInts("nodes_falsenodeids", nFalse).WithInts("nodes_missing_value_tracks_true", nMiss)
            .WithInts("target_treeids", tTree).WithInts("target_nodeids", tNode).WithInts("target_ids", tId);
        AddFloats(regressor, "target_weights", tW);
        regressor.WithInt("n_targets", OnnxGraphEditor.Attribute(node, "n_targets")?.I ?? 1);
        AddString(regressor, "aggregate_function", Aggregates[OnnxGraphEditor.Attribute(node, "aggregate_function")?.I ?? 1]);
        AddString(regressor, "post_transform", PostTransforms[OnnxGraphEditor.Attribute(node, "post_transform")?.I ?? 0]);
        return regressor;
    }

    private static void AddFloats(NodeProto n, string name, IEnumerable<float> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.Add(values);
        n.Attribute.Add(a);
    }

    private static void AddString(NodeProto n, string name, string value)
        => n.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });
}
