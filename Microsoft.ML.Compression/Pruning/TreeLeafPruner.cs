using Microsoft.ML.Compression.Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// Data-aware leaf/node pruning of the trees an ensemble kept (after their lasso weights are in the leaves):
/// cost-complexity style, weakest link first, bottom-up. A branch whose two children are leaves becomes one leaf
/// worth the mean of the two, weighted by how many calibration rows reach each; its cost is how much that moves the
/// ensemble's score on those rows (squared, summed, on top of the collapses already made). The cheapest collapse
/// is made while the RMS change of the score stays within the tolerance; a collapsed parent of a leaf can then be
/// collapsed in turn, and a tree reduced to one leaf is folded into the base value. Leaves that no calibration row
/// reaches are never merged away (see <see cref="TreeState.IsCandidate"/>). Optionally the leaves are then
/// refitted: each one's value corrected by the mean residual of the full ensemble's score on the rows reaching it.
/// </summary>
internal static class TreeLeafPruner
{
    /// <summary>Rows of shrinkage in a refitted leaf's correction (Σ residual / (rows + this)), so that leaves
    /// reached by few rows move less.</summary>
    private const double RefitShrinkRows = 5;
    private const int RefitSweeps = 3;

    public sealed record Result(int NodesBefore, int NodesAfter, int LeavesBefore, int UnvisitedLeaves, int TreesFolded,
        double ScoreChangeRms, double RmseBefore, double RmseAfter);

    /// <summary>The ensemble's score (target 0, base value included) on each row.</summary>
    public static double[] Scores(TreeEnsembleNode ensemble, float[][] rows)
    {
        double divisor = ensemble.IsAverage ? ensemble.Trees.Count : 1;
        var outputs = ensemble.OutputsOnRows(rows);
        var score = new double[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            double sum = 0;
            foreach (var tree in outputs) sum += tree[r];
            score[r] = sum / divisor + ensemble.BaseValues[0];
        }
        return score;
    }

    /// <param name="ensemble">A single-target ensemble, edited in place (not written back).</param>
    /// <param name="sample">Calibration rows.</param>
    /// <param name="reference">The full (unpruned) ensemble's score on each row: what the refit reproduces.</param>
    /// <param name="tolerance">Largest RMS change of the score on <paramref name="sample"/>, as a fraction of the
    /// standard deviation of <paramref name="reference"/>.</param>
    /// <param name="refit">Refit the leaf values to <paramref name="reference"/> afterwards.</param>
    public static Result Prune(TreeEnsembleNode ensemble, float[][] sample, double[] reference, double tolerance, bool refit)
    {
        int nodesBefore = ensemble.NodeCount, leavesBefore = ensemble.LeafCount;
        int m = sample.Length;
        double divisor = ensemble.IsAverage ? ensemble.Trees.Count : 1;
        var states = ensemble.Trees.Select(t => new TreeState(ensemble, t, sample)).ToList();
        int unvisited = states.Sum(s => s.LeafRows.Values.Count(rows => rows.Count == 0));

        double mean = reference.Average();
        double sd = Math.Sqrt(reference.Sum(y => (y - mean) * (y - mean)) / m);
        double budget = m * Math.Pow(tolerance * sd, 2); // the allowed sum of squared score changes
        var change = new double[m]; // score after collapses - score before, per row
        double spent = 0;

        var queue = new PriorityQueue<(TreeState State, long Node), double>();
        if (tolerance > 0)
            foreach (var s in states)
                foreach (var c in s.Candidates()) queue.Enqueue((s, c), s.Cost(c, change, divisor));
        while (queue.TryDequeue(out var item, out var stale))
        {
            var (s, node) = item;
            double cost = s.Cost(node, change, divisor);
            // Costs move as other collapses change the rows' scores: re-queue one that got dearer than the next.
            if (cost > stale && queue.TryPeek(out _, out var next) && cost > next) { queue.Enqueue(item, cost); continue; }
            if (spent + cost > budget) break;
            spent += cost;
            long? parent = s.Collapse(node, change, divisor);
            if (parent is long p && s.IsCandidate(p)) queue.Enqueue((s, p), s.Cost(p, change, divisor));
        }

        // A tree reduced to one leaf adds a constant: into the base value (AVERAGE divides by the tree count, so
        // its trees all stay).
        int folded = 0;
        if (!ensemble.IsAverage)
        {
            var constant = states.Where(s => ensemble.IsLeaf(s.Tree, ensemble.RootId(s.Tree))).ToList();
            if (constant.Count == states.Count) constant.RemoveAt(0); // ONNX needs a tree
            var shift = new[] { constant.Sum(s => ensemble.LeafValue(s.Tree, ensemble.RootId(s.Tree))) };
            if (constant.Count > 0)
            {
                var gone = constant.Select(s => s.Tree).ToHashSet();
                ensemble.Keep(ensemble.Trees.Where(t => !gone.Contains(t)).ToList(), _ => 1f, shift);
                states.RemoveAll(constant.Contains);
                folded = constant.Count;
            }
        }

        var score = Scores(ensemble, sample);
        double rmseBefore = Rmse(score, reference);
        if (refit) Refit(ensemble, states, sample, reference, score, divisor);
        double rmseAfter = refit ? Rmse(Scores(ensemble, sample), reference) : rmseBefore;
        return new Result(nodesBefore, ensemble.NodeCount, leavesBefore, unvisited, folded,
            Math.Sqrt(spent / m), rmseBefore, rmseAfter);
    }

    /// <summary>
    /// Backfitting, a few sweeps over the trees: each leaf's value moves by the (shrunk) mean residual of the rows
    /// reaching it, i.e. the least-squares correction of that tree given the others. The mean residual goes into
    /// the base value first.
    /// </summary>
    private static void Refit(TreeEnsembleNode ensemble, List<TreeState> states, float[][] sample, double[] reference, double[] score, double divisor)
    {
        var residual = reference.Select((y, r) => y - score[r]).ToArray();
        double shift = residual.Average();
        ensemble.BaseValues[0] += (float)shift;
        for (int r = 0; r < residual.Length; r++) residual[r] -= shift;
        for (int sweep = 0; sweep < RefitSweeps; sweep++)
            foreach (var s in states)
                foreach (var (leaf, rows) in s.LeafRows)
                {
                    if (rows.Count == 0) continue;
                    double sum = 0;
                    foreach (var r in rows) sum += residual[r];
                    double delta = sum / (rows.Count + RefitShrinkRows);
                    // A leaf adds value / divisor to the score (AVERAGE), and ONNX holds float leaves.
                    float value = ensemble.LeafValue(s.Tree, leaf);
                    float updated = (float)(value + delta * divisor);
                    ensemble.SetLeafValue(s.Tree, leaf, updated);
                    double applied = (updated - (double)value) / divisor;
                    foreach (var r in rows) residual[r] -= applied;
                }
    }

    private static double Rmse(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.Sqrt(sum / Math.Max(1, a.Length));
    }

    /// <summary>One tree's leaves with the calibration rows reaching each, and each node's parent.</summary>
    private sealed class TreeState
    {
        private readonly TreeEnsembleNode _ensemble;
        private readonly Dictionary<long, long> _parent = new();
        public TreeEnsembleNode.Tree Tree { get; }
        public Dictionary<long, List<int>> LeafRows { get; } = new();

        public TreeState(TreeEnsembleNode ensemble, TreeEnsembleNode.Tree tree, float[][] sample)
        {
            _ensemble = ensemble;
            Tree = tree;
            var stack = new Stack<long>();
            stack.Push(ensemble.RootId(tree));
            while (stack.Count > 0)
            {
                long id = stack.Pop();
                if (ensemble.IsLeaf(tree, id)) { LeafRows[id] = new List<int>(); continue; }
                var (t, f) = ensemble.Children(tree, id);
                _parent[t] = id;
                _parent[f] = id;
                stack.Push(t);
                stack.Push(f);
            }
            for (int r = 0; r < sample.Length; r++) LeafRows[ensemble.LeafReached(tree, sample[r])].Add(r);
        }

        public IEnumerable<long> Candidates() => _parent.Values.Distinct().Where(IsCandidate).ToList();

        /// <summary>
        /// A branch with two leaf children, each reached by at least one calibration row. A leaf no row reaches would
        /// be collapsed for free (the merged value is its sibling's), but the rows that do reach it later lose its
        /// value: on spam (FastTree 500 → 100 trees, 200 calibration rows, 23% of the leaves unvisited) collapsing
        /// only those cost 0.003 of test AUC. So they stay.
        /// </summary>
        public bool IsCandidate(long node)
        {
            if (_ensemble.IsLeaf(Tree, node)) return false;
            var (t, f) = _ensemble.Children(Tree, node);
            return LeafRows.TryGetValue(t, out var rt) && LeafRows.TryGetValue(f, out var rf) && rt.Count > 0 && rf.Count > 0;
        }

        /// <summary>The value the merged leaf gets: the mean of its children weighted by the rows reaching each.</summary>
        private double Merged(long node)
        {
            var (t, f) = _ensemble.Children(Tree, node);
            int nt = LeafRows[t].Count, nf = LeafRows[f].Count;
            return (nt * (double)_ensemble.LeafValue(Tree, t) + nf * (double)_ensemble.LeafValue(Tree, f)) / (nt + nf);
        }

        /// <summary>Increase of Σ (score change)² over the calibration rows if <paramref name="node"/> is collapsed.</summary>
        public double Cost(long node, double[] change, double divisor)
        {
            double merged = Merged(node);
            var (t, f) = _ensemble.Children(Tree, node);
            double cost = 0;
            foreach (var leaf in new[] { t, f })
            {
                double step = (merged - _ensemble.LeafValue(Tree, leaf)) / divisor;
                foreach (var r in LeafRows[leaf]) cost += step * (2 * change[r] + step);
            }
            return cost;
        }

        /// <returns>The parent of the new leaf, if any.</returns>
        public long? Collapse(long node, double[] change, double divisor)
        {
            double merged = Merged(node);
            var (t, f) = _ensemble.Children(Tree, node);
            var rows = new List<int>(LeafRows[t].Count + LeafRows[f].Count);
            foreach (var leaf in new[] { t, f })
            {
                double step = ((float)merged - (double)_ensemble.LeafValue(Tree, leaf)) / divisor;
                foreach (var r in LeafRows[leaf]) change[r] += step;
                rows.AddRange(LeafRows[leaf]);
                LeafRows.Remove(leaf);
                _parent.Remove(leaf);
            }
            _ensemble.Collapse(Tree, node, (float)merged);
            LeafRows[node] = rows;
            return _parent.TryGetValue(node, out var p) ? p : null;
        }
    }
}
