using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Trees;

/// <summary>
/// An ONNX-ML TreeEnsembleRegressor node (how ML.NET exports FastTree, LightGBM and FastForest) read into trees
/// that can be evaluated on data, dropped, and written back.
/// </summary>
internal sealed partial class TreeEnsembleNode
{
    public sealed class Tree
    {
        public long Id;
        public List<int> Nodes = new(); // indexes into the node arrays
        public Dictionary<long, int> ByNodeId = new();
        public Dictionary<long, List<(long target, float weight)>> Leaves = new();
    }

    private readonly NodeProto _node;
    private readonly long[] _treeIds, _nodeIds, _featureIds, _trueIds, _falseIds, _missingTrue;
    private readonly string[] _modes;
    private readonly float[] _values;
    public List<Tree> Trees { get; }
    public int Targets { get; }
    public float[] BaseValues { get; private set; }
    public bool IsAverage { get; }

    public TreeEnsembleNode(NodeProto node)
    {
        _node = node;
        long[] Ints(string name) => OnnxGraphEditor.Attribute(node, name)?.Ints.ToArray() ?? Array.Empty<long>();
        _treeIds = Ints("nodes_treeids");
        _nodeIds = Ints("nodes_nodeids");
        _featureIds = Ints("nodes_featureids");
        _trueIds = Ints("nodes_truenodeids");
        _falseIds = Ints("nodes_falsenodeids");
        _missingTrue = Ints("nodes_missing_value_tracks_true");
        _modes = OnnxGraphEditor.Attribute(node, "nodes_modes")?.Strings.Select(s => s.ToStringUtf8()).ToArray() ?? Array.Empty<string>();
        _values = OnnxGraphEditor.Attribute(node, "nodes_values")?.Floats.ToArray()
            ?? throw new UnsupportedModelException($"TreeEnsembleRegressor '{node.Name}' stores its thresholds as tensors, which is not supported yet.");
        Targets = (int)(OnnxGraphEditor.Attribute(node, "n_targets")?.I ?? 1);
        BaseValues = OnnxGraphEditor.Attribute(node, "base_values")?.Floats.ToArray() ?? new float[Targets];
        if (BaseValues.Length == 0) BaseValues = new float[Targets];
        IsAverage = OnnxGraphEditor.Attribute(node, "aggregate_function")?.S.ToStringUtf8() == "AVERAGE";

        var byId = new Dictionary<long, Tree>();
        for (int i = 0; i < _treeIds.Length; i++)
        {
            if (!byId.TryGetValue(_treeIds[i], out var tree)) byId[_treeIds[i]] = tree = new Tree { Id = _treeIds[i] };
            tree.ByNodeId[_nodeIds[i]] = i;
            tree.Nodes.Add(i);
        }
        var tTree = Ints("target_treeids");
        var tNode = Ints("target_nodeids");
        var tId = Ints("target_ids");
        var tW = OnnxGraphEditor.Attribute(node, "target_weights")?.Floats.ToArray() ?? Array.Empty<float>();
        for (int i = 0; i < tTree.Length; i++)
        {
            var tree = byId[tTree[i]];
            if (!tree.Leaves.TryGetValue(tNode[i], out var list)) tree.Leaves[tNode[i]] = list = new();
            list.Add((tId[i], tW[i]));
        }
        Trees = byId.Values.OrderBy(t => t.Id).ToList();
    }

    public static IEnumerable<NodeProto> FindAll(GraphProto g) => g.Node.Where(n => n.OpType == "TreeEnsembleRegressor");

    /// <summary>Output of one tree for one row, per target, as ONNX Runtime computes it (before aggregation).</summary>
    public void Evaluate(Tree tree, float[] x, float[] outputPerTarget)
    {
        if (tree.Leaves.TryGetValue(LeafReached(tree, x), out var leaf))
            foreach (var (target, w) in leaf) outputPerTarget[target] += w;
    }

    /// <summary>Node id of the leaf that <paramref name="x"/> reaches in <paramref name="tree"/>.</summary>
    public long LeafReached(Tree tree, float[] x)
    {
        long id = tree.Nodes.Count == 0 ? 0 : _nodeIds[tree.Nodes[0]];
        for (int guard = 0; guard < 100_000; guard++)
        {
            int i = tree.ByNodeId[id];
            string mode = _modes[i];
            if (mode == "LEAF") return id;
            float v = x[_featureIds[i]], t = _values[i];
            bool go = float.IsNaN(v) ? _missingTrue.Length > i && _missingTrue[i] == 1 : mode switch
            {
                "BRANCH_LEQ" => v <= t,
                "BRANCH_LT" => v < t,
                "BRANCH_GTE" => v >= t,
                "BRANCH_GT" => v > t,
                "BRANCH_EQ" => v == t,
                "BRANCH_NEQ" => v != t,
                _ => throw new UnsupportedModelException($"Tree node mode {mode} is not supported."),
            };
            id = go ? _trueIds[i] : _falseIds[i];
        }
        throw new InvalidModelException($"Tree {tree.Id} of '{_node.Name}' loops: the ensemble is corrupt.");
    }

    /// <summary>Snaps every leaf value with <paramref name="round"/> (thresholds stay exact: rounding them would change decisions).</summary>
    public void RoundLeaves(Func<float, float> round)
    {
        foreach (var tree in Trees)
            foreach (var leaf in tree.Leaves.Values)
                for (int i = 0; i < leaf.Count; i++) leaf[i] = (leaf[i].target, round(leaf[i].weight));
    }

    public IEnumerable<float> LeafValues => Trees.SelectMany(t => t.Leaves.Values.SelectMany(l => l.Select(e => e.weight)));

    /// <summary>
    /// Keeps only <paramref name="kept"/> trees, multiplies each one's leaves by <paramref name="leafScale"/> of it,
    /// and adds <paramref name="baseShift"/> to the base values.
    /// </summary>
    public void Keep(IReadOnlyList<Tree> kept, Func<Tree, float> leafScale, float[] baseShift)
    {
        for (int k = 0; k < Targets; k++) BaseValues[k] += baseShift[k];
        foreach (var tree in kept)
        {
            float scale = leafScale(tree);
            if (scale == 1f) continue;
            foreach (var leaf in tree.Leaves.Values)
                for (int i = 0; i < leaf.Count; i++) leaf[i] = (leaf[i].target, leaf[i].weight * scale);
        }
        var keep = kept.ToHashSet();
        Trees.RemoveAll(t => !keep.Contains(t));
    }

    /// <summary>Each tree's output on each row, for target <paramref name="target"/>: [tree][row].</summary>
    public float[][] OutputsOnRows(float[][] rows, int target = 0)
    {
        var result = new float[Trees.Count][];
        var output = new float[Targets];
        for (int t = 0; t < Trees.Count; t++)
        {
            var column = result[t] = new float[rows.Length];
            for (int r = 0; r < rows.Length; r++)
            {
                Array.Clear(output);
                Evaluate(Trees[t], rows[r], output);
                column[r] = output[target];
            }
        }
        return result;
    }

    /// <summary>Writes the trees back into the node's attributes, renumbering trees 0..n-1.</summary>
    public void WriteBack()
    {
        var nTree = new List<long>(); var nNode = new List<long>(); var nFeat = new List<long>(); var nMode = new List<ByteString>();
        var nVal = new List<float>(); var nTrue = new List<long>(); var nFalse = new List<long>(); var nMiss = new List<long>();
        var tTree = new List<long>(); var tNode = new List<long>(); var tId = new List<long>(); var tW = new List<float>();
        for (int newId = 0; newId < Trees.Count; newId++)
        {
            var tree = Trees[newId];
            foreach (var i in tree.Nodes)
            {
                nTree.Add(newId); nNode.Add(_nodeIds[i]); nFeat.Add(_featureIds[i]); nMode.Add(ByteString.CopyFromUtf8(_modes[i]));
                nVal.Add(_values[i]); nTrue.Add(_trueIds[i]); nFalse.Add(_falseIds[i]);
                nMiss.Add(_missingTrue.Length > i ? _missingTrue[i] : 0);
            }
            foreach (var (nodeId, leaf) in tree.Leaves.OrderBy(kv => kv.Key))
                foreach (var (target, w) in leaf) { tTree.Add(newId); tNode.Add(nodeId); tId.Add(target); tW.Add(w); }
        }
        void SetInts(string name, List<long> v) { var a = Attr(name, AttributeProto.Types.AttributeType.Ints); a.Ints.Clear(); a.Ints.Add(v); }
        void SetFloats(string name, IEnumerable<float> v) { var a = Attr(name, AttributeProto.Types.AttributeType.Floats); a.Floats.Clear(); a.Floats.Add(v); }
        SetInts("nodes_treeids", nTree); SetInts("nodes_nodeids", nNode); SetInts("nodes_featureids", nFeat);
        var modes = Attr("nodes_modes", AttributeProto.Types.AttributeType.Strings); modes.Strings.Clear(); modes.Strings.Add(nMode);
        SetFloats("nodes_values", nVal); SetInts("nodes_truenodeids", nTrue); SetInts("nodes_falsenodeids", nFalse);
        SetInts("nodes_missing_value_tracks_true", nMiss);
        SetInts("target_treeids", tTree); SetInts("target_nodeids", tNode); SetInts("target_ids", tId); SetFloats("target_weights", tW);
        SetFloats("base_values", BaseValues);
        var hit = OnnxGraphEditor.Attribute(_node, "nodes_hitrates");
        if (hit != null) _node.Attribute.Remove(hit);
    }

    private AttributeProto Attr(string name, AttributeProto.Types.AttributeType type)
    {
        var a = OnnxGraphEditor.Attribute(_node, name);
        if (a == null) { a = new AttributeProto { Name = name, Type = type }; _node.Attribute.Add(a); }
        return a;
    }
}
