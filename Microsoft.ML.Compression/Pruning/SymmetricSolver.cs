using System.Numerics.Tensors;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// Solves a·x = b for a symmetric positive (semi-)definite a by Cholesky factorisation. The work is done on flat
/// row-major arrays with vectorized dot products and row updates (a refit of a 1,536-input layer factors a
/// 1,300-wide system for 384 outputs; on two-dimensional arrays with scalar loops that took seconds per layer).
/// </summary>
internal static class SymmetricSolver
{
    /// <param name="a">k×k symmetric matrix; not modified.</param>
    /// <param name="b">Right-hand side of length k.</param>
    /// <param name="ridge">Added to the diagonal, relative to its mean, so near-singular systems stay solvable.</param>
    public static double[] Solve(double[,] a, double[] b, double ridge = 1e-6)
    {
        int k = a.GetLength(0);
        var flat = new double[k * k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j <= i; j++) flat[i * k + j] = a[i, j];
        var x = (double[])b.Clone();
        SolveFactoredInPlace(Factor(flat, k, ridge), k, x, 1);
        return x;
    }

    /// <summary>
    /// The Cholesky factor of a flat row-major k×k symmetric matrix (only its lower triangle is read): L, flat and
    /// row-major, lower triangle, with a + ridge·mean(diag)·I = L·Lᵀ.
    /// </summary>
    public static double[] Factor(double[] a, int k, double ridge = 1e-6)
    {
        double meanDiagonal = 0;
        for (int i = 0; i < k; i++) meanDiagonal += a[i * k + i];
        meanDiagonal = k > 0 ? Math.Max(meanDiagonal / k, 1e-12) : 1;
        var l = new double[k * k];
        for (int i = 0; i < k; i++)
        {
            var rowI = l.AsSpan(i * k, k);
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i * k + j] + (i == j ? ridge * meanDiagonal : 0);
                sum -= TensorPrimitives.Dot<double>(rowI[..j], l.AsSpan(j * k, j));
                rowI[j] = i == j ? Math.Sqrt(Math.Max(sum, 1e-12 * meanDiagonal)) : sum / l[j * k + j];
            }
        }
        return l;
    }

    /// <summary>
    /// Solves L·Lᵀ·X = B in place for all columns of B at once (B: k rows of <paramref name="columns"/> values, flat
    /// row-major), with a factor from <see cref="Factor"/>: each step updates a whole row.
    /// </summary>
    public static void SolveFactoredInPlace(double[] l, int k, double[] b, int columns)
    {
        for (int i = 0; i < k; i++)
        {
            var rowI = b.AsSpan(i * columns, columns);
            for (int t = 0; t < i; t++)
            {
                double factor = l[i * k + t];
                if (factor != 0) TensorPrimitives.MultiplyAdd<double>(b.AsSpan(t * columns, columns), -factor, rowI, rowI);
            }
            TensorPrimitives.Divide<double>(rowI, l[i * k + i], rowI);
        }
        for (int i = k - 1; i >= 0; i--)
        {
            var rowI = b.AsSpan(i * columns, columns);
            for (int t = i + 1; t < k; t++)
            {
                double factor = l[t * k + i];
                if (factor != 0) TensorPrimitives.MultiplyAdd<double>(b.AsSpan(t * columns, columns), -factor, rowI, rowI);
            }
            TensorPrimitives.Divide<double>(rowI, l[i * k + i], rowI);
        }
    }
}
