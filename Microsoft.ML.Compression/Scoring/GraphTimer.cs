using System.Diagnostics;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Times graphs on one batch of the rows their inputs see (RequireSpeedup compares a float graph with its quantized
/// variants): the batch is read once, in each input's own item type, and every graph timed runs on the same tensors.
/// </summary>
internal sealed class GraphTimer : IDisposable
{
    private readonly string[] _names;
    private readonly OrtValue[] _values;

    /// <summary>Rows in the timed batch.</summary>
    public int Rows { get; }

    /// <summary>Reads up to <paramref name="maxRows"/> rows for the non-initializer inputs of <paramref name="model"/>.</summary>
    public GraphTimer(ModelProto model, GraphEditContext context, int maxRows)
    {
        var g = model.Graph;
        var initializers = new HashSet<string>(g.Initializer.Select(t => t.Name));
        var inputs = g.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        var values = new List<OrtValue>();
        // Read in each input's own item type (int64 token ids stay int64); the blocks are fresh for this one read.
        using var batches = new FeatureBatches(context.GraphInputData, inputs.Select(i => i.Name).ToArray());
        int n = batches.Read(maxRows, out var blocks);
        for (int i = 0; n > 0 && i < inputs.Count; i++)
        {
            var dims = inputs[i].Type?.TensorType?.Shape?.Dim.Select(d => d.DimValue > 0 ? d.DimValue : -1).ToArray() ?? new long[] { -1, -1 };
            int width = batches.Widths[i];
            values.Add(OrtTensors.Over(blocks[i], n * width, TensorCapture.Shape(dims, n, width)));
        }
        if (n == 0) throw new DataMismatchException("The calibration data has no rows to time the network on.");
        _names = inputs.Select(i => i.Name).ToArray();
        _values = values.ToArray();
        Rows = n;
    }

    /// <summary>Median milliseconds per run of <paramref name="model"/> on the batch, one thread, all graph optimizations (as ML.NET's OnnxTransformer runs it).</summary>
    public double MedianMs(ModelProto model)
    {
        using var options = new SessionOptions
        {
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1, InterOpNumThreads = 1,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        InferenceSession session;
        using (var file = GraphFile.Write(model)) session = new InferenceSession(file.Path, options);
        using var owned = session;
        using var run = new RunOptions();
        var outputs = session.OutputNames.ToArray();
        for (int i = 0; i < 2; i++) session.Run(run, _names, _values, outputs).Dispose();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || times.Count < 25 && total.Elapsed.TotalSeconds < 1)
        {
            var sw = Stopwatch.StartNew();
            session.Run(run, _names, _values, outputs).Dispose();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    public void Dispose()
    {
        foreach (var v in _values) v.Dispose();
    }
}
