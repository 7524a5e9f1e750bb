namespace Microsoft.ML.Compression.Pruning;

/// <summary>Solves a·x = b for a symmetric positive (semi-)definite a by Cholesky factorisation.</summary>
internal static class SymmetricSolver
{
    /// <param name="a">k×k symmetric matrix; not modified.</param>
    /// <param name="b">Right-hand side of length k.</param>
    /// <param name="ridge">Added to the diagonal, relative to its mean, so near-singular systems stay solvable.</param>
    public static double[] Solve(double[,] a, double[] b, double ridge = 1e-6) => SolveFactored(Factor(a, ridge), b);

    /// <summary>The Cholesky factor L (a + ridge·mean(diag)·I = L·Lᵀ), to solve many right-hand sides.</summary>
    public static double[,] Factor(double[,] a, double ridge = 1e-6)
    {
        int k = a.GetLength(0);
        double meanDiagonal = 0;
        for (int i = 0; i < k; i++) meanDiagonal += a[i, i];
        meanDiagonal = k > 0 ? Math.Max(meanDiagonal / k, 1e-12) : 1;
        var l = new double[k, k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i, j] + (i == j ? ridge * meanDiagonal : 0);
                for (int t = 0; t < j; t++) sum -= l[i, t] * l[j, t];
                l[i, j] = i == j ? Math.Sqrt(Math.Max(sum, 1e-12 * meanDiagonal)) : sum / l[j, j];
            }
        return l;
    }

    /// <summary>Solves L·Lᵀ·x = b with a factor from <see cref="Factor"/>.</summary>
    public static double[] SolveFactored(double[,] l, double[] b)
    {
        int k = b.Length;
        var x = new double[k];
        for (int i = 0; i < k; i++)
        {
            double sum = b[i];
            for (int t = 0; t < i; t++) sum -= l[i, t] * x[t];
            x[i] = sum / l[i, i];
        }
        for (int i = k - 1; i >= 0; i--)
        {
            double sum = x[i];
            for (int t = i + 1; t < k; t++) sum -= l[t, i] * x[t];
            x[i] = sum / l[i, i];
        }
        return x;
    }
}
