using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace GpuBenchmarks;

/// <summary>Times every graph of one scenario folder at each batch size on each provider, in turns.</summary>
public static class ScenarioTiming
{
    public static IEnumerable<string> Run(DirectoryInfo scenario, IReadOnlyList<Provider> providers, int[] batches, double seconds)
    {
        var files = scenario.GetFiles("*.onnx").OrderBy(f => f.Name).ToArray();
        var names = files.Select(f => Path.GetFileNameWithoutExtension(f.Name)[3..]).ToArray();
        var rows = ReadInputs(scenario);
        var lines = new List<string> { $"## {scenario.Name}", "",
            rows == null ? "Inputs: random values of the graph's input shape (no inputs.f32 written for this scenario)." : $"Inputs: {rows.Length} test rows of {rows[0].Length} values, repeated to fill a batch.", "",
            "| provider | batch | " + string.Join(" | ", names) + " | " + string.Join(" | ", names.Skip(1).Select(n => n + " ÷ fp32")) + " |",
            "|---|---:|" + string.Concat(Enumerable.Repeat("---:|", 2 * names.Length - 1)) };
        foreach (var provider in providers)
        {
            var sessions = new List<InferenceSession>();
            try
            {
                foreach (var file in files)
                {
                    using var options = provider.Options();
                    sessions.Add(new InferenceSession(file.FullName, options));
                }
                foreach (var batch in batches)
                {
                    var inputs = sessions.Select(s => Input(s, rows, batch)).ToArray();
                    try
                    {
                        var medians = InTurns(sessions, inputs, seconds);
                        Console.WriteLine($"  {provider.Name} batch {batch}: {string.Join(", ", names.Zip(medians, (n, m) => $"{n} {m:F1} µs"))}");
                        lines.Add($"| {provider.Name} | {batch} | " + string.Join(" | ", medians.Select(m => m.ToString("F1")))
                            + " | " + string.Join(" | ", medians.Skip(1).Select(m => (m / medians[0]).ToString("F2") + "×")) + " |");
                    }
                    finally
                    {
                        foreach (var input in inputs) input.Dispose();
                    }
                }
            }
            finally
            {
                foreach (var session in sessions) session.Dispose();
            }
        }
        lines.Add("");
        return lines;
    }

    /// <summary>Median µs per Run of each session: one call of each per round after 3 warm-up calls, for the given seconds (at least 5 rounds).</summary>
    private static double[] InTurns(IReadOnlyList<InferenceSession> sessions, IReadOnlyList<OrtValue> inputs, double seconds)
    {
        using var runOptions = new RunOptions();
        void Call(int k)
        {
            using var result = sessions[k].Run(runOptions, new[] { sessions[k].InputNames[0] }, new[] { inputs[k] }, sessions[k].OutputNames.ToArray());
        }
        for (int k = 0; k < sessions.Count; k++) for (int i = 0; i < 3; i++) Call(k);
        var times = sessions.Select(_ => new List<double>()).ToArray();
        var clock = Stopwatch.StartNew();
        while (times[0].Count < 5 || clock.Elapsed.TotalSeconds < seconds * sessions.Count)
            for (int k = 0; k < sessions.Count; k++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Call(k);
                times[k].Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            }
        return times.Select(t => { var s = t.OrderBy(v => v).ToArray(); return s[s.Length / 2]; }).ToArray();
    }

    /// <summary>
    /// A batch for the session's first input: its declared shape with the first dimension set to <paramref name="batch"/>,
    /// filled from the test rows (repeated) or, without them, with random values (seeded).
    /// </summary>
    private static OrtValue Input(InferenceSession session, float[][]? rows, int batch)
    {
        var meta = session.InputMetadata[session.InputNames[0]];
        if (meta.ElementDataType != TensorElementType.Float)
            throw new NotSupportedException($"input '{session.InputNames[0]}' is {meta.ElementDataType}; only float inputs are supported.");
        var shape = meta.Dimensions.Select((d, i) => i == 0 ? batch : (long)d).ToArray();
        if (shape.Skip(1).Any(d => d <= 0))
            throw new NotSupportedException($"input '{session.InputNames[0]}' has a symbolic dimension besides the batch: [{string.Join(", ", meta.Dimensions)}].");
        long width = shape.Skip(1).Aggregate(1L, (a, d) => a * d);
        var buffer = new float[batch * width];
        if (rows != null)
        {
            if (rows[0].Length != width)
                throw new InvalidDataException($"inputs.f32 rows have {rows[0].Length} values but input '{session.InputNames[0]}' takes {width} per row.");
            for (int r = 0; r < batch; r++) rows[r % rows.Length].CopyTo(buffer, r * width);
        }
        else
        {
            var random = new Random(1);
            for (long i = 0; i < buffer.LongLength; i++) buffer[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return OrtValue.CreateTensorValueFromMemory(buffer, shape);
    }

    private static float[][]? ReadInputs(DirectoryInfo scenario)
    {
        var json = Path.Combine(scenario.FullName, "inputs.json");
        if (!File.Exists(json)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        int count = doc.RootElement.GetProperty("rows").GetInt32(), width = doc.RootElement.GetProperty("width").GetInt32();
        var bytes = File.ReadAllBytes(Path.Combine(scenario.FullName, "inputs.f32"));
        if (bytes.Length != (long)count * width * sizeof(float))
            throw new InvalidDataException($"{scenario.Name}/inputs.f32 has {bytes.Length} bytes; inputs.json says {count} × {width} floats.");
        var rows = new float[count][];
        for (int r = 0; r < count; r++)
        {
            rows[r] = new float[width];
            Buffer.BlockCopy(bytes, r * width * sizeof(float), rows[r], 0, width * sizeof(float));
        }
        return rows;
    }
}
