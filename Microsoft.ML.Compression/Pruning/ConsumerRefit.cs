using System.Numerics.Tensors;
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
        var weightColumns = new double[outputs][];
        for (int o = 0; o < outputs; o++)
        {
            weightColumns[o] = new double[inputsOriginal];
            for (int i = 0; i < inputsOriginal; i++) weightColumns[o][i] = W(i, o);
        }
        var meanOrig = new double[inputsOriginal];
        for (int r = 0; r < n; r++)
            for (int i = 0; i < inputsOriginal; i++) meanOrig[i] += originalInputs[r][i];
        for (int i = 0; i < inputsOriginal; i++) meanOrig[i] /= n;
        var targets = new double[outputs][];
        for (int o = 0; o < outputs; o++) targets[o] = new double[n];
        var centered = new double[inputsOriginal];
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < inputsOriginal; i++) centered[i] = originalInputs[r][i] - meanOrig[i];
            for (int o = 0; o < outputs; o++) targets[o][r] = TensorPrimitives.Dot<double>(centered, weightColumns[o]);
        }
        var predictors = ColumnMatrix.Of(currentInputs, n, keptInputs, center: true, out var meanKept);
        var gram = ColumnMatrix.Gram(predictors, n);
        var solution = ColumnMatrix.Cross(predictors, targets, n); // the right-hand sides, then (solved in place) the refitted weights

        var factor = SymmetricSolver.Factor(gram, s, ridge: 1e-3);
        SymmetricSolver.SolveFactoredInPlace(factor, s, solution, outputs);
        var updated = new float[s * outputs];
        var biasShift = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double before = TensorPrimitives.Dot<double>(meanOrig, weightColumns[o]), after = 0;
            for (int p = 0; p < s; p++)
            {
                double v = solution[p * outputs + o];
                after += meanKept[p] * v;
                if (transB) updated[o * s + p] = (float)v; else updated[p * outputs + o] = (float)v;
            }
            biasShift[o] = before - after;
        }
        var current = OnnxGraphEditor.Initializer(g, consumer.Input[1])!;
        g.Initializer[g.Initializer.IndexOf(current)] = OnnxTensors.Float(current.Name, updated, current.Dims.ToArray());
        GraphPruner.AddToBias(g, consumer, biasShift);
    }
}
