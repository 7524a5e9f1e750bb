namespace Microsoft.ML.Compression.Trees;

/// <summary>
/// The shape of each tree (root, children, leaves) and the one edit leaf pruning needs: a branch node turned into a
/// leaf, its subtree removed.
/// </summary>
internal sealed partial class TreeEnsembleNode
{
    /// <summary>Nodes of all trees, leaves included (one entry each in the TreeEnsembleRegressor's node arrays).</summary>
    public int NodeCount => Trees.Sum(t => t.Nodes.Count);

    /// <summary>Leaves of all trees.</summary>
    public int LeafCount => Trees.Sum(t => t.Nodes.Count(i => _modes[i] == "LEAF"));

    /// <summary>ONNX Runtime starts each tree at its first node.</summary>
    public long RootId(Tree tree) => _nodeIds[tree.Nodes[0]];

    public bool IsLeaf(Tree tree, long nodeId) => _modes[tree.ByNodeId[nodeId]] == "LEAF";

    /// <summary>Node ids of a branch's two children.</summary>
    public (long True, long False) Children(Tree tree, long nodeId)
    {
        int i = tree.ByNodeId[nodeId];
        return (_trueIds[i], _falseIds[i]);
    }

    /// <summary>A single-target leaf's value (0 when the leaf has no entry, as ONNX Runtime reads it).</summary>
    public float LeafValue(Tree tree, long nodeId)
        => tree.Leaves.TryGetValue(nodeId, out var leaf) ? leaf.Where(e => e.target == 0).Sum(e => e.weight) : 0f;

    public void SetLeafValue(Tree tree, long nodeId, float value) => tree.Leaves[nodeId] = new() { (0, value) };

    /// <summary>
    /// Turns branch <paramref name="nodeId"/> into a leaf of value <paramref name="value"/> (single target) and removes
    /// every node below it. The tree's node order is kept, so its root stays first.
    /// </summary>
    public void Collapse(Tree tree, long nodeId, float value)
    {
        int at = tree.ByNodeId[nodeId];
        var removed = new HashSet<int>();
        var stack = new Stack<long>();
        var (t, f) = Children(tree, nodeId);
        stack.Push(t);
        stack.Push(f);
        while (stack.Count > 0)
        {
            long id = stack.Pop();
            int i = tree.ByNodeId[id];
            if (!removed.Add(i)) throw new InvalidModelException($"Tree {tree.Id} of '{_node.Name}' is not a tree (node {id} reached twice).");
            if (_modes[i] != "LEAF") { stack.Push(_trueIds[i]); stack.Push(_falseIds[i]); }
            tree.ByNodeId.Remove(id);
            tree.Leaves.Remove(id);
        }
        tree.Nodes.RemoveAll(removed.Contains);
        _modes[at] = "LEAF";
        _featureIds[at] = 0;
        _values[at] = 0f;
        _trueIds[at] = 0;
        _falseIds[at] = 0;
        if (_missingTrue.Length > at) _missingTrue[at] = 0;
        SetLeafValue(tree, nodeId, value);
    }
}
