namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// L1-regularised least squares by coordinate descent along a decreasing penalty path, stopped when the number of
/// non-zero weights reaches a budget, then refitted without penalty on the chosen columns ("relaxed lasso").
/// Used to re-weight the trees of an ensemble (ISLE / RuleFit post-processing): most trees get weight zero.
/// </summary>
internal static class LassoPath
{
    /// <param name="columns">Predictors, [column][row].</param>
    /// <param name="target">Response per row.</param>
    /// <param name="budget">Largest number of non-zero weights wanted.</param>
    /// <returns>Weights per column (zero for dropped columns) and the intercept, in the original units.</returns>
    public static (double[] weights, double intercept) Fit(float[][] columns, double[] target, int budget)
    {
        int p = columns.Length, m = target.Length;
        var mean = new double[p];
        var scale = new double[p];
        var z = new double[p][];
        for (int j = 0; j < p; j++)
        {
            double mu = 0;
            foreach (var v in columns[j]) mu += v;
            mu /= m;
            double ss = 0;
            foreach (var v in columns[j]) ss += (v - mu) * (v - mu);
            mean[j] = mu;
            scale[j] = Math.Sqrt(ss / m);
            z[j] = new double[m];
            if (scale[j] > 0)
                for (int i = 0; i < m; i++) z[j][i] = (columns[j][i] - mu) / scale[j];
        }
        var constant = scale.Select(v => v == 0).ToArray(); // a constant tree only shifts the intercept
        double yMean = target.Average();
        var residual = target.Select(y => y - yMean).ToArray();
        var w = new double[p];

        double lambdaMax = 0;
        for (int j = 0; j < p; j++) lambdaMax = Math.Max(lambdaMax, Math.Abs(Dot(z[j], residual)) / m);
        var active = new HashSet<int>();
        if (lambdaMax > 0)
        {
            const int steps = 60;
            double ratio = Math.Pow(1e-4, 1.0 / steps);
            double lambda = lambdaMax;
            for (int step = 0; step <= steps; step++, lambda *= ratio)
            {
                Descend(z, residual, w, lambda, m, constant);
                int nonZero = w.Count(x => x != 0);
                if (nonZero >= budget) break;
            }
            // The path can overshoot the budget at its last step: keep the largest standardized weights.
            active = Enumerable.Range(0, p).Where(j => w[j] != 0).OrderByDescending(j => Math.Abs(w[j])).Take(budget).ToHashSet();
        }
        // Top up with the trees most correlated with the target when the penalty path selected fewer.
        if (active.Count < budget)
            foreach (var j in Enumerable.Range(0, p).Where(j => scale[j] > 0 && !active.Contains(j))
                         .OrderByDescending(j => Math.Abs(Dot(z[j], target)) ).Take(budget - active.Count))
                active.Add(j);

        var chosen = active.OrderBy(j => j).ToArray();
        var beta = LeastSquares(chosen.Select(j => z[j]).ToArray(), target.Select(y => y - yMean).ToArray());
        var weights = new double[p];
        double intercept = yMean;
        for (int k = 0; k < chosen.Length; k++)
        {
            int j = chosen[k];
            weights[j] = beta[k] / scale[j];
            intercept -= weights[j] * mean[j];
        }
        return (weights, intercept);
    }

    /// <summary>Coordinate descent with an active set: full sweeps only to find new non-zeros.</summary>
    private static void Descend(double[][] z, double[] residual, double[] w, double lambda, int m, bool[] constant)
    {
        for (int round = 0; round < 50; round++)
        {
            if (Sweep(Enumerable.Range(0, z.Length), z, residual, w, lambda, m, constant) < 1e-6) return;
            var active = Enumerable.Range(0, z.Length).Where(j => w[j] != 0).ToArray();
            for (int sweep = 0; sweep < 200; sweep++)
                if (Sweep(active, z, residual, w, lambda, m, constant) < 1e-6) break;
        }
    }

    private static double Sweep(IEnumerable<int> columns, double[][] z, double[] residual, double[] w, double lambda, int m, bool[] constant)
    {
        double largest = 0;
        foreach (var j in columns)
        {
            if (constant[j]) continue;
            var zj = z[j];
            double rho = Dot(zj, residual) / m + w[j]; // standardized columns: z·z/m = 1
            double updated = Math.Sign(rho) * Math.Max(Math.Abs(rho) - lambda, 0);
            double delta = updated - w[j];
            if (delta == 0) continue;
            for (int i = 0; i < residual.Length; i++) residual[i] -= delta * zj[i];
            w[j] = updated;
            largest = Math.Max(largest, Math.Abs(delta));
        }
        return largest;
    }

    /// <summary>Ordinary least squares through normal equations (with a tiny ridge for stability).</summary>
    private static double[] LeastSquares(double[][] columns, double[] y)
    {
        int k = columns.Length;
        var a = new double[k, k];
        var b = new double[k];
        for (int i = 0; i < k; i++)
        {
            b[i] = Dot(columns[i], y);
            for (int j = 0; j <= i; j++) a[i, j] = a[j, i] = Dot(columns[i], columns[j]);
        }
        return SymmetricSolver.Solve(a, b);
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
