using System.Numerics.Tensors;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// After a pruning mask is chosen, updates a layer's remaining weights so that its output on calibration inputs
/// is reproduced as closely as least squares allows (the Optimal-Brain-Surgeon / SparseGPT idea for a fixed
/// mask), and returns the bias change that keeps the mean output (bias correction).
/// </summary>
internal static class LayerReconstruction
{
    /// <summary>Largest input width whose Gram matrix is formed (inputs² doubles).</summary>
    public const int MaxInputs = 4096;

    /// <param name="weights">Row-major [inputs, outputs] (MatMul layout); pruned entries are zero; updated in place.</param>
    /// <param name="original">The weights before pruning, same layout.</param>
    /// <param name="inputCount">The layer's input width.</param>
    /// <param name="outputCount">The layer's output width.</param>
    /// <param name="inputs">Calibration rows of the layer's input.</param>
    /// <returns>Per output: the amount to add to the bias.</returns>
    public static double[] Refit(float[] weights, float[] original, int inputCount, int outputCount, float[][] inputs)
    {
        int m = inputs.Length;
        // Covariance of the inputs: the reconstruction error of output k is (w - v)ᵀ C (w - v).
        var columns = ColumnMatrix.Of(inputs, m, Enumerable.Range(0, inputCount).ToArray(), center: true, out var mean);
        var cov = ColumnMatrix.Gram(columns, m);
        TensorPrimitives.Divide<double>(cov, m, cov);

        var biasShift = new double[outputCount];
        var originalColumn = new double[inputCount];
        for (int k = 0; k < outputCount; k++)
        {
            var kept = Enumerable.Range(0, inputCount).Where(j => weights[j * outputCount + k] != 0).ToArray();
            if (kept.Length == 0 || kept.Length == inputCount) continue;
            for (int j = 0; j < inputCount; j++) originalColumn[j] = original[j * outputCount + k];
            // Solve C_SS v = C_S· w for the kept inputs S (the dropped inputs' effect is projected onto them), by
            // conjugate gradients from v = w_S: a few O(|S|²) steps instead of an O(|S|³) factorisation per output.
            var rhs = new double[kept.Length];
            for (int p = 0; p < kept.Length; p++) rhs[p] = TensorPrimitives.Dot<double>(cov.AsSpan(kept[p] * inputCount, inputCount), originalColumn);
            var v = ConjugateGradient(cov, inputCount, kept, rhs, kept.Select(j => originalColumn[j]).ToArray());
            double before = 0, after = 0;
            for (int j = 0; j < inputCount; j++) before += mean[j] * original[j * outputCount + k];
            for (int p = 0; p < kept.Length; p++)
            {
                weights[kept[p] * outputCount + k] = (float)v[p];
                after += mean[kept[p]] * v[p];
            }
            biasShift[k] = before - after;
        }
        return biasShift;
    }

    /// <summary>Solves (C_SS + ridge·I) v = b by conjugate gradients, C_SS the kept rows/columns of the covariance (flat, n×n).</summary>
    private static double[] ConjugateGradient(double[] cov, int n, int[] kept, double[] b, double[] start, int iterations = 30)
    {
        int s = kept.Length;
        // The kept block, copied once so each product is s contiguous dot products.
        var block = new double[s * s];
        for (int p = 0; p < s; p++)
        {
            int row = kept[p] * n;
            for (int q = 0; q < s; q++) block[p * s + q] = cov[row + kept[q]];
        }
        double ridge = 1e-2 * kept.Average(j => cov[j * n + j]) + 1e-12;
        double[] Multiply(double[] x)
        {
            var y = new double[s];
            for (int p = 0; p < s; p++) y[p] = ridge * x[p] + TensorPrimitives.Dot<double>(block.AsSpan(p * s, s), x);
            return y;
        }
        var v = start.ToArray();
        var ax = Multiply(v);
        var r = b.Select((bi, i) => bi - ax[i]).ToArray();
        var d = r.ToArray();
        double rr = r.Sum(x => x * x), tolerance = 1e-10 * Math.Max(b.Sum(x => x * x), 1e-30);
        for (int it = 0; it < iterations && rr > tolerance; it++)
        {
            var ad = Multiply(d);
            double dad = 0;
            for (int i = 0; i < s; i++) dad += d[i] * ad[i];
            if (dad <= 0) break;
            double alpha = rr / dad, next = 0;
            for (int i = 0; i < s; i++) { v[i] += alpha * d[i]; r[i] -= alpha * ad[i]; next += r[i] * r[i]; }
            double beta = next / rr;
            rr = next;
            for (int i = 0; i < s; i++) d[i] = r[i] + beta * d[i];
        }
        return v;
    }
}
