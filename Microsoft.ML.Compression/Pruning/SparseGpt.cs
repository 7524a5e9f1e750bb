using System.Numerics.Tensors;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// One-shot pruning of a fully connected layer with second-order updates, after SparseGPT (Frantar &amp; Alistarh,
/// 2023): inputs are visited in order; each pruned weight's error is spread onto the not yet visited weights of
/// the same output through the inverse Hessian of the layer's reconstruction loss (H = XᵀX of the calibration
/// inputs), and the mask of each block of inputs is chosen on the weights as already updated, by the OBS
/// saliency w² / [H⁻¹]ⱼⱼ. Choosing the mask on the updated weights is what keeps accuracy at high per-layer sparsity
/// (a fixed |w| × spread mask loses far more); the kept weights are then refitted exactly by
/// <see cref="LayerReconstruction"/>.
/// </summary>
internal static class SparseGpt
{
    /// <summary>Widest layer input handled: the inverse Hessian costs inputs³ (about a second at 1,024 inputs).</summary>
    public const int MaxInputs = 1024;

    /// <summary>Inputs whose mask is chosen together (the paper's adaptive mask selection block).</summary>
    private const int MaskBlock = 128;

    /// <summary>Dampening added to H's diagonal, relative to its mean: calibration sets are often smaller than the layer is wide.</summary>
    private const double Dampening = 1e-2;

    /// <param name="weights">Row-major [inputs, outputs] (MatMul layout), unpruned; pruned and updated in place.</param>
    /// <param name="inputs">The layer's input width.</param>
    /// <param name="outputs">The layer's output width.</param>
    /// <param name="rows">Calibration rows of the layer's input (what the layer sees in the partly pruned network).</param>
    /// <param name="sparsity">Fraction of weights to zero (unstructured); ignored when <paramref name="m"/> &gt; 0.</param>
    /// <param name="n">With <paramref name="m"/> &gt; 0: keep n of every m consecutive inputs of each output.</param>
    /// <param name="m">Group size of n:m semi-structured pruning; 0 for unstructured.</param>
    /// <param name="withBias">Whether the layer has a bias that can absorb part of the error.</param>
    /// <returns>Per output: the amount to add to the layer's bias (the bias takes part as one more, never pruned, input).</returns>
    public static double[] Prune(float[] weights, int inputs, int outputs, float[][] rows, double sparsity, int n, int m, bool withBias)
    {
        // The bias is input number `inputs`, constant 1 and last, so every pruning error can flow into it.
        int k = inputs + 1;
        var w = new double[k * outputs];
        for (int i = 0; i < inputs * outputs; i++) w[i] = weights[i];
        var upper = InverseHessianFactor(rows, inputs, withBias, out var dead);
        for (int i = 0; i < inputs; i++)
            if (dead[i]) Array.Clear(w, i * outputs, outputs); // an input that never varies from 0 carries nothing

        var pruned = new bool[k * outputs];
        var error = new double[outputs];
        for (int block = 0; block < inputs; block += MaskBlock)
        {
            int end = Math.Min(block + MaskBlock, inputs);
            if (m == 0) ChooseBlockMask(w, upper, pruned, block, end, outputs, sparsity);
            for (int i = block; i < end; i++)
            {
                if (m > 0 && (i - block) % m == 0) ChooseNmMask(w, upper, pruned, i, Math.Min(i + m, end), outputs, n);
                double d = upper[i, i];
                bool any = false;
                for (int o = 0; o < outputs; o++)
                {
                    int at = i * outputs + o;
                    error[o] = pruned[at] ? w[at] / d : 0;
                    if (pruned[at]) { w[at] = 0; any = true; }
                }
                if (!any) continue;
                // w_j -= err · U[i, j] for every later input j (and the bias).
                for (int j = i + 1; j < k; j++)
                {
                    double u = upper[i, j];
                    if (u == 0) continue;
                    var row = w.AsSpan(j * outputs, outputs);
                    TensorPrimitives.MultiplyAdd<double>(error, -u, row, row);
                }
            }
        }
        for (int i = 0; i < inputs * outputs; i++) weights[i] = pruned[i] || w[i] == 0 ? 0f : (float)w[i];
        var bias = new double[outputs];
        for (int o = 0; o < outputs; o++) bias[o] = w[inputs * outputs + o];
        return bias;
    }

    /// <summary>Zeroes the <paramref name="sparsity"/> fraction of the block's weights with the smallest w²/U[i,i]².</summary>
    private static void ChooseBlockMask(double[] w, double[,] upper, bool[] pruned, int start, int end, int outputs, double sparsity)
    {
        int count = (end - start) * outputs, cut = (int)Math.Floor(sparsity * count);
        if (cut == 0) return;
        var saliency = new double[count];
        var index = new int[count];
        for (int i = start, p = 0; i < end; i++)
        {
            double d = upper[i, i] * upper[i, i];
            for (int o = 0; o < outputs; o++, p++) { saliency[p] = w[i * outputs + o] * w[i * outputs + o] / d; index[p] = i * outputs + o; }
        }
        Array.Sort(saliency, index);
        for (int p = 0; p < cut; p++) pruned[index[p]] = true;
    }

    /// <summary>For each output, prunes all but the <paramref name="n"/> most salient of inputs [start, end).</summary>
    private static void ChooseNmMask(double[] w, double[,] upper, bool[] pruned, int start, int end, int outputs, int n)
    {
        var group = new (double saliency, int at)[end - start];
        for (int o = 0; o < outputs; o++)
        {
            for (int i = start; i < end; i++)
            {
                int at = i * outputs + o;
                group[i - start] = (w[at] * w[at] / (upper[i, i] * upper[i, i]), at);
            }
            foreach (var (_, at) in group.OrderByDescending(g => g.saliency).Skip(n)) pruned[at] = true;
        }
    }

    /// <summary>
    /// U with H⁻¹ = UᵀU (upper Cholesky factor of the inverse), H = XᵀX/rows over the inputs and a constant 1, dampened.
    /// Row i of U holds what pruning input i does to the later inputs: the OBS update in sequential form.
    /// </summary>
    private static double[,] InverseHessianFactor(float[][] rows, int inputs, bool withBias, out bool[] dead)
    {
        int k = inputs + 1;
        // The bias input, constant 1 (or 0 without a bias), as one more column.
        var columns = ColumnMatrix.Of(rows, rows.Length, Enumerable.Range(0, inputs).ToArray(), center: false, out _)
            .Append(Enumerable.Repeat(withBias ? 1.0 : 0.0, rows.Length).ToArray()).ToArray();
        var h = ColumnMatrix.Gram(columns, rows.Length);
        dead = new bool[inputs];
        double mean = 0;
        for (int a = 0; a < k; a++) mean += h[a * k + a] / rows.Length;
        mean /= k;
        TensorPrimitives.Divide<double>(h, rows.Length, h);
        for (int a = 0; a < k; a++)
        {
            if (h[a * k + a] == 0) { if (a < inputs) dead[a] = true; h[a * k + a] = mean; } // also the bias when there is none
            h[a * k + a] += Dampening * mean;
        }
        // H⁻¹: the identity solved for all its columns at once with H's Cholesky factor.
        var inverse = new double[k * k];
        for (int a = 0; a < k; a++) inverse[a * k + a] = 1;
        SymmetricSolver.SolveFactoredInPlace(SymmetricSolver.Factor(h, k, 0), k, inverse, k);
        // Lower Cholesky factor L of H⁻¹ (H⁻¹ = L·Lᵀ) is Uᵀ.
        var lower = SymmetricSolver.Factor(inverse, k, 0);
        var upper = new double[k, k];
        for (int a = 0; a < k; a++)
            for (int b = 0; b <= a; b++) upper[b, a] = lower[a * k + b];
        return upper;
    }
}
