namespace Microsoft.ML.Compression.Trees;

/// <summary>
/// The size of one native tree ensemble: its trees, its leaves (what the saved bytes grow with) and its per-row
/// scoring cost, the sum over its trees of the mean depth of their leaves (the comparisons a row makes on its way to a
/// leaf, leaves counted alike: ML.NET walks every tree for every row).
/// </summary>
internal readonly record struct EnsembleSize(int Trees, int Leaves, double Cost)
{
    public static EnsembleSize Of(NativeTreeEnsemble ensemble)
        => new(ensemble.Trees.Count, ensemble.Trees.Sum(t => t.NumLeaves), ensemble.Trees.Sum(MeanLeafDepth));

    /// <summary>The mean depth of a tree's leaves (the root's children are at depth 1); 0 for a tree that is one leaf.</summary>
    public static double MeanLeafDepth(NativeTree tree)
    {
        if (tree.NumLeaves < 2 || tree.Lte.Length == 0) return 0;
        long total = 0;
        int leaves = 0;
        var stack = new Stack<(int Node, int Depth)>();
        stack.Push((0, 0));
        while (stack.Count > 0)
        {
            var (node, depth) = stack.Pop();
            foreach (int child in new[] { tree.Lte[node], tree.Gt[node] })
            {
                if (child < 0) { total += depth + 1; leaves++; }
                else if (child < tree.Lte.Length && depth < tree.NumLeaves) stack.Push((child, depth + 1)); // depth bound: a malformed tree cannot loop
            }
        }
        return leaves > 0 ? total / (double)leaves : 0;
    }
}
