namespace Microsoft.ML.Compression.Pruning.Vocabulary;

/// <summary>A row of a wide, mostly zero feature vector: the slots that are not zero and their values.</summary>
internal readonly record struct SparseRow(int[] Indices, float[] Values);

/// <summary>
/// Refits a linear layer's kept weights and its bias so that its output on new (sparse) input rows reproduces target
/// outputs by least squares, with a ridge towards the starting weights: the same reconstruction as
/// <see cref="LayerReconstruction"/>, but with preconditioned conjugate gradients on the rows themselves, O(non-zeros)
/// per step, because text inputs are far too wide for the Gram matrix that <see cref="LayerReconstruction"/> forms.
/// </summary>
internal static class SparseRefit
{
    /// <param name="rows">Input rows, width <paramref name="width"/>.</param>
    /// <param name="width">Slots per row (the kept features).</param>
    /// <param name="targets">Per row, the output to reproduce (one value per output).</param>
    /// <param name="start">Starting weights, [width, outputs] (MatMul layout); also where the ridge pulls.</param>
    /// <param name="outputs">Outputs of the layer (1 for binary and regression, the classes for multiclass).</param>
    /// <param name="ridge">Ridge strength relative to the mean squared column norm.</param>
    /// <param name="iterations">At most this many conjugate-gradient steps per output.</param>
    /// <returns>The weights ([width, outputs]) and the bias (per output).</returns>
    public static (float[] Weights, float[] Bias) Fit(IReadOnlyList<SparseRow> rows, int width, double[][] targets, float[] start, int outputs,
        double ridge = 1e-2, int iterations = 200)
    {
        int n = rows.Count;
        var columnSquares = new double[width];
        foreach (var r in rows)
            for (int k = 0; k < r.Indices.Length; k++) columnSquares[r.Indices[k]] += (double)r.Values[k] * r.Values[k];
        double lambda = ridge * columnSquares.Average() + 1e-12;
        // Jacobi preconditioner: the columns' scales differ by orders of magnitude (rare vs common n-grams).
        var diagonal = new double[width + 1];
        for (int j = 0; j < width; j++) diagonal[j] = columnSquares[j] + lambda;
        diagonal[width] = Math.Max(1, n);

        var weights = new float[width * outputs];
        var bias = new float[outputs];
        for (int o = 0; o < outputs; o++)
        {
            var prior = new double[width];
            for (int j = 0; j < width; j++) prior[j] = start[j * outputs + o];
            // Unknowns u = [v (width), c]: minimise |Z v + c - s|² + λ|v - prior|²; normal equations A u = b.
            var b = new double[width + 1];
            for (int i = 0; i < n; i++)
            {
                double s = targets[i][o];
                var r = rows[i];
                for (int k = 0; k < r.Indices.Length; k++) b[r.Indices[k]] += r.Values[k] * s;
                b[width] += s;
            }
            for (int j = 0; j < width; j++) b[j] += lambda * prior[j];
            var u = new double[width + 1];
            Array.Copy(prior, u, width);
            double meanResidual = 0;
            for (int i = 0; i < n; i++) meanResidual += targets[i][o] - Dot(rows[i], u);
            u[width] = n > 0 ? meanResidual / n : 0;

            var au = Multiply(rows, u, width, lambda);
            var residual = new double[width + 1];
            for (int j = 0; j <= width; j++) residual[j] = b[j] - au[j];
            var z = new double[width + 1];
            for (int j = 0; j <= width; j++) z[j] = residual[j] / diagonal[j];
            var p = (double[])z.Clone();
            double rz = DotDense(residual, z);
            double stop = 1e-10 * Math.Max(1e-30, DotDense(b, b));
            for (int it = 0; it < iterations && DotDense(residual, residual) > stop; it++)
            {
                var ap = Multiply(rows, p, width, lambda);
                double alpha = rz / Math.Max(1e-300, DotDense(p, ap));
                for (int j = 0; j <= width; j++) { u[j] += alpha * p[j]; residual[j] -= alpha * ap[j]; }
                for (int j = 0; j <= width; j++) z[j] = residual[j] / diagonal[j];
                double rzNext = DotDense(residual, z);
                double beta = rzNext / Math.Max(1e-300, rz);
                rz = rzNext;
                for (int j = 0; j <= width; j++) p[j] = z[j] + beta * p[j];
            }
            for (int j = 0; j < width; j++) weights[j * outputs + o] = (float)u[j];
            bias[o] = (float)u[width];
        }
        return (weights, bias);
    }

    /// <summary>A u for u = [v, c] and A = [ZᵀZ + λI, Zᵀ1; 1ᵀZ, n]: two passes over the non-zeros.</summary>
    private static double[] Multiply(IReadOnlyList<SparseRow> rows, double[] u, int width, double lambda)
    {
        var result = new double[width + 1];
        foreach (var r in rows)
        {
            double y = Dot(r, u);
            for (int k = 0; k < r.Indices.Length; k++) result[r.Indices[k]] += r.Values[k] * y;
            result[width] += y;
        }
        for (int j = 0; j < width; j++) result[j] += lambda * u[j];
        return result;
    }

    /// <summary>z·v + c for u = [v, c].</summary>
    private static double Dot(SparseRow r, double[] u)
    {
        double y = u[^1];
        for (int k = 0; k < r.Indices.Length; k++) y += r.Values[k] * u[r.Indices[k]];
        return y;
    }

    private static double DotDense(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
