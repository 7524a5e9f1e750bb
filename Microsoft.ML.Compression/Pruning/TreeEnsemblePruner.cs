using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// Shrinks tree ensembles (each ONNX TreeEnsembleRegressor node separately, so one-versus-all multiclass models
/// keep every class). Default: lasso re-weighting of the per-tree outputs to reproduce the full ensemble's
/// score on the data (ISLE post-processing, fitted to the ensemble itself so no labels are needed), then an
/// unpenalized refit of the kept trees' weights. Alternative: drop the trees whose output varies least.
/// </summary>
internal static class TreeEnsemblePruner
{
    public static string Prune(List<NodeProto> nodes, PruningOptions options, float[][] sample)
    {
        int before = 0, after = 0;
        double worstRmse = 0;
        bool lasso = options.Trees.Selection == TreeSelection.LassoReweighting;
        bool leaves = options.Trees.LeafPruningTolerance > 0 || options.Trees.RefitLeaves;
        var leafResults = new List<TreeLeafPruner.Result>();
        int multiTarget = 0;
        bool droppedTrees = false;
        foreach (var node in nodes)
        {
            var ensemble = new TreeEnsembleNode(node);
            int n = ensemble.Trees.Count;
            int keep = Math.Max(1, n - (int)Math.Floor(options.TargetSparsity * n));
            before += n;
            after += keep;
            bool leafPrune = leaves && ensemble.Targets == 1;
            if (leaves && !leafPrune) multiTarget++;
            if (keep == n && !leafPrune) continue;
            // The full ensemble's score, which leaf refitting reproduces.
            var reference = leafPrune && options.Trees.RefitLeaves ? TreeLeafPruner.Scores(ensemble, sample) : null;
            if (keep < n)
            {
                droppedTrees = true;
                if (lasso && ensemble.Targets == 1) worstRmse = Math.Max(worstRmse, Reweight(ensemble, keep, sample));
                else DropLeastVarying(ensemble, keep, sample);
            }
            if (leafPrune)
            {
                // Without a refit the tolerance is measured against the tree-pruned ensemble's own spread.
                reference ??= TreeLeafPruner.Scores(ensemble, sample);
                var result = TreeLeafPruner.Prune(ensemble, sample, reference, options.Trees.LeafPruningTolerance, options.Trees.RefitLeaves);
                leafResults.Add(result);
            }
            ensemble.WriteBack();
        }
        var trees = !droppedTrees && leafResults.Count > 0 ? $"tree ensemble: TargetSparsity dropped none of the {before} trees."
            : lasso
            ? $"tree ensemble pruning by lasso re-weighting: kept {after} of {before} trees, re-weighted to reproduce the full ensemble's score on the data (largest score RMSE {worstRmse:G3})."
            : $"tree ensemble pruning: kept {after} of {before} trees (those whose output varies most on the data); the dropped trees' mean output was folded into the base value.";
        return trees + LeafSummary(leafResults, options, multiTarget);
    }

    private static string LeafSummary(List<TreeLeafPruner.Result> results, PruningOptions options, int multiTarget)
    {
        if (results.Count == 0)
            return multiTarget > 0 ? $" Leaf pruning skipped: {multiTarget} ensemble(s) have several targets in one node." : "";
        int before = results.Sum(r => r.NodesBefore), after = results.Sum(r => r.NodesAfter);
        int leaves = results.Sum(r => r.LeavesBefore), unvisited = results.Sum(r => r.UnvisitedLeaves);
        var text = options.Trees.LeafPruningTolerance > 0
            ? $" Leaf pruning (tolerance {options.Trees.LeafPruningTolerance:G3} of the score's SD): nodes {before:N0} -> {after:N0}"
              + $" ({unvisited:N0} of {leaves:N0} leaves reached by no calibration row, kept; {results.Sum(r => r.TreesFolded)} tree(s) reduced to a constant, folded into the base value;"
              + $" RMS score change {results.Max(r => r.ScoreChangeRms):G3})."
            : $" Nodes: {before:N0}.";
        if (options.Trees.RefitLeaves)
            text += $" Leaves refitted to the full ensemble's score: RMSE on the data {results.Max(r => r.RmseBefore):G3} -> {results.Max(r => r.RmseAfter):G3}.";
        return text;
    }

    /// <returns>RMSE between the pruned and the full ensemble's score on the sample.</returns>
    private static double Reweight(TreeEnsembleNode ensemble, int keep, float[][] sample)
    {
        int n = ensemble.Trees.Count;
        var outputs = ensemble.OutputsOnRows(sample);
        // AVERAGE divides the tree sum by the number of trees present; SUM does not.
        double divisor = ensemble.IsAverage ? n : 1;
        var target = new double[sample.Length];
        for (int t = 0; t < n; t++)
            for (int r = 0; r < sample.Length; r++) target[r] += outputs[t][r] / divisor;

        var (weights, intercept) = LassoPath.Fit(outputs, target, keep);
        var kept = Enumerable.Range(0, n).Where(t => weights[t] != 0).ToList();
        if (kept.Count == 0) kept.Add(0); // ONNX needs at least one tree; weight 0 keeps the fitted constant
        double rmse = 0;
        for (int r = 0; r < sample.Length; r++)
        {
            double y = intercept;
            foreach (var t in kept) y += weights[t] * outputs[t][r];
            rmse += (y - target[r]) * (y - target[r]);
        }
        var keptTrees = kept.Select(t => ensemble.Trees[t]).ToList();
        var weightOf = kept.ToDictionary(t => ensemble.Trees[t], t => (float)(weights[t] * (ensemble.IsAverage ? kept.Count : 1)));
        ensemble.Keep(keptTrees, tree => weightOf[tree], new[] { (float)intercept });
        return Math.Sqrt(rmse / sample.Length);
    }

    private static void DropLeastVarying(TreeEnsembleNode ensemble, int keep, float[][] sample)
    {
        int n = ensemble.Trees.Count;
        var spread = new double[n];
        var means = new double[n][];
        var output = new float[ensemble.Targets];
        for (int t = 0; t < n; t++)
        {
            var sum = new double[ensemble.Targets];
            var sumSq = new double[ensemble.Targets];
            foreach (var row in sample)
            {
                Array.Clear(output);
                ensemble.Evaluate(ensemble.Trees[t], row, output);
                for (int k = 0; k < output.Length; k++) { sum[k] += output[k]; sumSq[k] += (double)output[k] * output[k]; }
            }
            means[t] = sum.Select(s => s / sample.Length).ToArray();
            spread[t] = Enumerable.Range(0, ensemble.Targets).Sum(k => Math.Max(0, sumSq[k] / sample.Length - means[t][k] * means[t][k]));
        }
        var ranked = Enumerable.Range(0, n).OrderByDescending(t => spread[t]).ToList();
        var keptIdx = ranked.Take(keep).ToHashSet();
        var shift = new float[ensemble.Targets];
        foreach (var t in ranked.Skip(keep))
            for (int k = 0; k < shift.Length; k++) shift[k] += (float)means[t][k];
        float leafScale = 1f;
        if (ensemble.IsAverage)
        {
            // AVERAGE divides by the trees present: rescale so the kept trees still weigh 1/n each.
            leafScale = (float)keep / n;
            for (int k = 0; k < shift.Length; k++) shift[k] /= n;
        }
        ensemble.Keep(ensemble.Trees.Where((_, i) => keptIdx.Contains(i)).ToList(), _ => leafScale, shift);
    }
}
