using Benchmarks.Common;
using Microsoft.ML.OnnxRuntime;

namespace Benchmarks.Networks;

/// <summary>Latency of one InferenceSession.Run call on ONNX Runtime directly (no ML.NET in between).</summary>
public static class OrtLatency
{
    /// <summary>
    /// Median microseconds per Run call with a batch of <paramref name="batch"/> rows taken from
    /// <paramref name="rows"/>; <paramref name="threads"/> = 0 keeps ONNX Runtime's default intra-op thread count.
    /// </summary>
    public static double MedianMicroseconds(Settings s, byte[] onnx, float[][] rows, int batch, int threads)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads > 0) { options.IntraOpNumThreads = threads; options.InterOpNumThreads = 1; }
        using var session = new InferenceSession(onnx, options);
        string input = session.InputNames[0];
        var outputs = session.OutputNames.ToArray();
        int features = rows[0].Length;

        var buffer = new float[batch * features];
        for (int i = 0; i < batch; i++) rows[i % rows.Length].CopyTo(buffer, i * features);
        using var value = OrtValue.CreateTensorValueFromMemory(buffer, new long[] { batch, features });
        using var runOptions = new RunOptions();
        var inputNames = new[] { input };
        var inputValues = new[] { value };

        return Timing.MedianMicroseconds(s, () =>
        {
            using var result = session.Run(runOptions, inputNames, inputValues, outputs);
        });
    }
}
