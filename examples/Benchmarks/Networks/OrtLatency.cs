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

    /// <summary>
    /// Median microseconds per Run call of each model, timed in turns (one call of each model per round, for
    /// <see cref="Settings.Runs"/> × <see cref="Settings.SecondsPerRun"/> seconds, at least 5 rounds), so that a
    /// change in the machine's load hits every model alike and the ratios stay meaningful on a shared machine.
    /// </summary>
    /// <remarks>Also returns the median CPU time of the calling thread per call (null unless one intra-op thread and
    /// <see cref="ThreadCpuTime.Available"/>): ONNX Runtime then computes on the calling thread.</remarks>
    public static (double[] Wall, double[]? Cpu) MedianMicrosecondsInTurns(Settings s, IReadOnlyList<byte[]> models, float[][] rows, int batch, int threads, int warmup = 3)
    {
        var sessions = new List<InferenceSession>();
        using var runOptions = new RunOptions();
        int features = rows[0].Length;
        var buffer = new float[batch * features];
        for (int i = 0; i < batch; i++) rows[i % rows.Length].CopyTo(buffer, i * features);
        using var value = OrtValue.CreateTensorValueFromMemory(buffer, new long[] { batch, features });
        try
        {
            foreach (var onnx in models)
            {
                using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
                if (threads > 0) { options.IntraOpNumThreads = threads; options.InterOpNumThreads = 1; }
                sessions.Add(new InferenceSession(onnx, options));
            }
            void Call(InferenceSession session)
            {
                using var result = session.Run(runOptions, new[] { session.InputNames[0] }, new[] { value }, session.OutputNames.ToArray());
            }
            foreach (var session in sessions) for (int i = 0; i < warmup; i++) Call(session);
            bool cpu = threads == 1 && ThreadCpuTime.Available;
            var times = sessions.Select(_ => new List<double>()).ToArray();
            var cpuTimes = sessions.Select(_ => new List<double>()).ToArray();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (times[0].Count < 5 || clock.Elapsed.TotalSeconds < s.Runs * s.SecondsPerRun)
                for (int k = 0; k < sessions.Count; k++)
                {
                    double c0 = cpu ? ThreadCpuTime.Microseconds() : 0;
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    Call(sessions[k]);
                    times[k].Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                    if (cpu) cpuTimes[k].Add(ThreadCpuTime.Microseconds() - c0);
                }
            return (times.Select(Timing.Median).ToArray(), cpu ? cpuTimes.Select(Timing.Median).ToArray() : null);
        }
        finally
        {
            foreach (var session in sessions) session.Dispose();
        }
    }
}
