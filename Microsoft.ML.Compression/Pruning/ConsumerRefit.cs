using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// After structured pruning removed some inputs of a MatMul/Gemm layer (or input channels of a Conv, seen over its
/// input patches), refits that layer's remaining weights by
/// least squares so its output on calibration data matches the original model's output of that layer, and
/// corrects its bias for the shift in the mean.
/// </summary>
internal static class ConsumerRefit
{
    /// <param name="g">The graph whose weights are updated.</param>
    /// <param name="consumer">The MatMul/Gemm node whose inputs were pruned.</param>
    /// <param name="originalWeight">Its weight before any pruning (original model).</param>
    /// <param name="originalInputs">Its input rows in the original model.</param>
    /// <param name="currentInputs">Its input rows in the current model, before this pruning, restricted below to <paramref name="keptInputs"/>.</param>
    /// <param name="keptInputs">Input indices that remain, in order.</param>
    public static void Refit(GraphProto g, NodeProto consumer, TensorProto originalWeight, float[][] originalInputs, float[][] currentInputs, int[] keptInputs)
    {
        // Gemm with transB and Conv ([O, C, kh, kw], over its input patches) store [outputs, inputs].
        bool transB = consumer.OpType == "Conv" || consumer.OpType == "Gemm" && (OnnxGraphEditor.Attribute(consumer, "transB")?.I ?? 0) == 1;
        var w = OnnxTensors.ReadFloats(originalWeight);
        int outputs = (int)(transB ? originalWeight.Dims[0] : originalWeight.Dims[1]);
        int inputsOriginal = w.Length / outputs;
        double W(int i, int o) => transB ? w[o * inputsOriginal + i] : w[i * outputs + o];
        int n = Math.Min(originalInputs.Length, currentInputs.Length);
        int s = keptInputs.Length;

        // Target: the original layer's output (without bias), centered; predictors: the kept current inputs, centered.
        var meanOrig = new double[inputsOriginal];
        var meanKept = new double[s];
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < inputsOriginal; i++) meanOrig[i] += originalInputs[r][i];
            for (int p = 0; p < s; p++) meanKept[p] += currentInputs[r][keptInputs[p]];
        }
        for (int i = 0; i < inputsOriginal; i++) meanOrig[i] /= n;
        for (int p = 0; p < s; p++) meanKept[p] /= n;

        var gram = new double[s, s];
        var rhs = new double[s, outputs];
        var z = new double[s];
        var y = new double[outputs];
        for (int r = 0; r < n; r++)
        {
            for (int p = 0; p < s; p++) z[p] = currentInputs[r][keptInputs[p]] - meanKept[p];
            Array.Clear(y);
            for (int i = 0; i < inputsOriginal; i++)
            {
                double x = originalInputs[r][i] - meanOrig[i];
                if (x == 0) continue;
                for (int o = 0; o < outputs; o++) y[o] += x * W(i, o);
            }
            for (int p = 0; p < s; p++)
            {
                double zp = z[p];
                if (zp == 0) continue;
                for (int q = 0; q <= p; q++) gram[p, q] += zp * z[q];
                for (int o = 0; o < outputs; o++) rhs[p, o] += zp * y[o];
            }
        }
        for (int p = 0; p < s; p++)
            for (int q = 0; q < p; q++) gram[q, p] = gram[p, q];

        var factor = SymmetricSolver.Factor(gram, ridge: 1e-3);
        var updated = new float[s * outputs];
        var biasShift = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            var b = new double[s];
            for (int p = 0; p < s; p++) b[p] = rhs[p, o];
            var v = SymmetricSolver.SolveFactored(factor, b);
            double before = 0, after = 0;
            for (int i = 0; i < inputsOriginal; i++) before += meanOrig[i] * W(i, o);
            for (int p = 0; p < s; p++)
            {
                after += meanKept[p] * v[p];
                if (transB) updated[o * s + p] = (float)v[p]; else updated[p * outputs + o] = (float)v[p];
            }
            biasShift[o] = before - after;
        }
        var current = OnnxGraphEditor.Initializer(g, consumer.Input[1])!;
        g.Initializer[g.Initializer.IndexOf(current)] = OnnxTensors.Float(current.Name, updated, current.Dims.ToArray());
        GraphPruner.AddToBias(g, consumer, biasShift);
    }
}
