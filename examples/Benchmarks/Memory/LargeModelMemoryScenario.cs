using System.Diagnostics;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.OnnxRuntime;

namespace Benchmarks.Memory;

/// <summary>
/// Peak memory of quantizing large networks through the public API (<c>ml.Compression().Quantize(path, options).Fit(data)</c>):
/// synthetic MLPs of 256 MB and 512 MB held inline, and one over 2 GB with its weights in external data files beside
/// the model. Each Fit's peak working set is the kernel's VmHWM, reset just before it (see <see cref="MemoryScope"/>).
/// </summary>
internal static class LargeModelMemoryScenario
{
    /// <summary>One model size: layers of width×hidden MatMuls.</summary>
    public sealed record Size(string Name, int Layers, int Width, int Hidden, bool ExternalData);

    public static readonly Size Inline256 = new("256 MB", 4, 2048, 8192, false), Inline512 = new("512 MB", 8, 2048, 8192, false);

    /// <summary>Six 8192×13824 MatMuls (453 MB each, 2.72 GB), every weight in its own file beside the model.</summary>
    public static readonly Size OverTwoGb = new("2.7 GB, external data", 6, 8192, 13824, true);

    /// <summary>
    /// The same mechanism small enough for any machine: two 2048×8192 MatMuls (128 MB) read from external data files,
    /// the result written with external data too (<c>SaveOnnx(path, externalData: true)</c>) and loaded from its folder.
    /// </summary>
    public static readonly Size ExternalSmall = new("128 MB, external data", 2, 2048, 8192, true);

    private const int DataRows = 32;

    public static ScenarioResult Run(Settings settings, IReadOnlyList<Size> sizes, string name)
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlcompression-large-" + Guid.NewGuid().ToString("N"));
        var variants = sizes.SelectMany(s => new[] { $"{s.Name} weight-only INT8", $"{s.Name} static INT8" }).ToArray();
        var result = new ScenarioResult
        {
            Name = name,
            Description = $"Synthetic MLPs (MatMul initializers with Relu between) quantized through ml.Compression().Quantize(path, options).Fit(data) on {DataRows} random rows; " +
                "the peak working set (VmHWM) is reset before each Fit, which includes the report's measurements and the ONNX Runtime load check of the written graph; " +
                "the second peak goes on through what an app does next: score the rows with the result (Transform) and save it with ml.Model.Save.",
            Variants = variants,
        };
        var peak = new double?[variants.Length];
        var peakWithSave = new double?[variants.Length];
        var start = new double?[variants.Length];
        var seconds = new double?[variants.Length];
        var modelMb = new double?[variants.Length];
        var outputMb = new double?[variants.Length];
        var maxError = new double?[variants.Length];
        try
        {
            for (int s = 0; s < sizes.Count; s++)
            {
                var size = sizes[s];
                var modelFolder = Path.Combine(folder, $"model{s}");
                Directory.CreateDirectory(modelFolder);
                var path = Path.Combine(modelFolder, "model.onnx");
                LargeModels.Write(path, size.Layers, size.Width, size.Hidden, size.ExternalData);
                GC.Collect(); // the generator's weight arrays, before the child processes need the memory
                long bytes = Directory.GetFiles(modelFolder).Sum(f => new FileInfo(f).Length);
                foreach (var (mode, v) in new[] { (QuantizationMode.WeightOnly, 2 * s), (QuantizationMode.Static, 2 * s + 1) })
                {
                    modelMb[v] = bytes / 1048576.0;
                    var output = Path.Combine(folder, "quantized.onnx");
                    var child = RunChild(path, mode, size.Width, output, size.ExternalData);
                    (peak[v], start[v], seconds[v], outputMb[v], peakWithSave[v]) = (child.PeakMB, child.StartMB, child.Seconds, child.OutputMB, child.PeakWithSaveMB);
                    Console.WriteLine($"      {variants[v]}: peak {peak[v]:F0} MB (process at {start[v]:F0} MB before Fit), {seconds[v]:F1} s, output {outputMb[v]:F0} MB; " +
                        $"peak {peakWithSave[v]:F0} MB with Transform and Model.Save");
                    maxError[v] = RelativeError(path, output, size.Width);
                    Console.WriteLine($"      {variants[v]}: output error {maxError[v]:G3} of the largest float output");
                    foreach (var f in Directory.GetFiles(folder, "quantized.onnx*")) File.Delete(f);
                }
                Directory.Delete(modelFolder, recursive: true);
            }
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        result.Add("model on disk", "MB", false, "F0", modelMb);
        result.Add("peak working set during Fit", "MB", false, "F0", peak);
        result.Add("peak ÷ model size", "×", false, "F2", peak.Select((p, i) => p / modelMb[i]).ToArray());
        result.Add("peak working set, Fit + Transform + Model.Save", "MB", false, "F0", peakWithSave);
        result.Add("that peak ÷ model size", "×", false, "F2", peakWithSave.Select((p, i) => p / modelMb[i]).ToArray());
        result.Add("working set before Fit (runtime, ML.NET, data)", "MB", false, "F0", start);
        result.Add("Fit time", "s", false, "F1", seconds);
        result.Add("quantized graph", "MB", false, "F0", outputMb);
        result.Add("output error, largest abs(q − f) ÷ largest abs(f)", "ratio", false, "G3", maxError);
        result.Notes.Add("Each Fit runs in a fresh process of this app (so no earlier garbage counts); its peak includes the runtime, ML.NET and the data (the row before Fit).");
        result.Notes.Add("CPU: AMD EPYC (AVX2), 2 cores shared with other jobs; times are single runs.");
        return result;
    }

    /// <summary>The first argument of this app's child process that runs one Fit (see <see cref="Child"/>).</summary>
    public const string ChildCommand = "--large-model-fit";

    private sealed record ChildResult(double PeakMB, double StartMB, double Seconds, double OutputMB, double PeakWithSaveMB);

    private static ChildResult RunChild(string model, QuantizationMode mode, int width, string output, bool externalData)
    {
        var app = Environment.ProcessPath!;
        var start = new ProcessStartInfo(app) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(app) == "dotnet") start.ArgumentList.Add(typeof(LargeModelMemoryScenario).Assembly.Location);
        foreach (var a in new[] { ChildCommand, model, mode.ToString(), width.ToString(), output, externalData.ToString() }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string? line, last = null;
        while ((line = process.StandardOutput.ReadLine()) != null)
        {
            if (!line.StartsWith("RESULT ")) Console.WriteLine(line);
            last = line;
        }
        process.WaitForExit();
        if (process.ExitCode != 0 || last == null || !last.StartsWith("RESULT "))
            throw new InvalidOperationException($"The Fit of {model} ({mode}) failed in its child process (exit code {process.ExitCode}); its error is above.");
        var f = last.Split(' ').Skip(1).Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new ChildResult(f[0], f[1], f[2], f[3], f[4]);
    }

    /// <summary>
    /// The child process: one Fit of <c>model mode width output externalData</c>, the quantized graph written to output, and a
    /// last line "RESULT peakMB startMB seconds outputMB peakWithSaveMB" (the last: the peak since Fit began, after scoring
    /// the rows with the result and saving it with <c>ml.Model.Save</c>, as an app that compresses, checks and ships does).
    /// </summary>
    public static int Child(string[] args)
    {
        var (model, mode, width, output, externalData) = (args[0], Enum.Parse<QuantizationMode>(args[1]), int.Parse(args[2]), args[3], bool.Parse(args[4]));
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(LargeModels.Rows(ml, DataRows, width));
        data.Preview(1);
        var memory = MemoryScope.Start();
        double before = CurrentWorkingSetMB();
        var clock = Stopwatch.StartNew();
        using var compressed = ml.Compression().Quantize(model, new QuantizationOptions { Precision = Precision.Int8, Network = { Mode = mode, MaxCalibrationRows = DataRows } }).Fit(data);
        double seconds = clock.Elapsed.TotalSeconds;
        double peak = memory.Stop().PeakWorkingSetMB;
        // A model read from external data is written with external data too (forced), and checked from its folder.
        var written = compressed.SaveOnnx(output, externalData);
        Console.WriteLine($"      wrote {string.Join(", ", written.Select(f => $"{Path.GetFileName(f)} ({new FileInfo(f).Length / 1048576.0:F1} MB)"))}");
        double withSave = ScoreAndSave(ml, compressed, data, output + ".zip");
        var c = System.Globalization.CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"RESULT {peak} {before} {seconds} {(compressed.Report.Final.OnnxBytes ?? 0) / 1048576.0} {withSave}"));
        return 0;
    }

    /// <summary>Scores every row with <paramref name="compressed"/> and saves it as a zip; the peak working set since the scope began (not reset).</summary>
    private static double ScoreAndSave(MLContext ml, CompressedModel compressed, IDataView data, string zip)
    {
        var scored = compressed.Transform(data);
        using (var cursor = scored.GetRowCursor(scored.Schema))
        {
            var score = cursor.GetGetter<Microsoft.ML.Data.VBuffer<float>>(scored.Schema[LargeModels.Output]);
            var buffer = default(Microsoft.ML.Data.VBuffer<float>);
            while (cursor.MoveNext()) score(ref buffer);
        }
        try
        {
            ml.Model.Save(compressed, data.Schema, zip);
            Console.WriteLine($"      saved the model zip ({new FileInfo(zip).Length / 1048576.0:F1} MB)");
        }
        finally { File.Delete(zip); }
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.PeakWorkingSet64 / 1048576.0;
    }

    private static double CurrentWorkingSetMB()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64 / 1048576.0;
    }

    /// <summary>
    /// The quantized graph run by ONNX Runtime against the float model (loaded from its file, external data and all)
    /// on 4 rows: the largest output difference relative to the largest float output.
    /// </summary>
    private static double RelativeError(string floatPath, string quantized, int width)
    {
        var random = new Random(3);
        var input = new float[4 * width];
        for (int i = 0; i < input.Length; i++) input[i] = random.NextSingle() * 2 - 1;
        float[] Run(InferenceSession session)
        {
            using var tensor = OrtValue.CreateTensorValueFromMemory(input, new long[] { 4, width });
            using var outputs = session.Run(new RunOptions(), new[] { LargeModels.Input }, new[] { tensor }, new[] { LargeModels.Output });
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        float[] f, q;
        using (var session = new InferenceSession(floatPath)) f = Run(session);
        using (var session = new InferenceSession(quantized)) q = Run(session); // a path: external data is read from its folder
        double worst = 0, scale = 0;
        for (int i = 0; i < f.Length; i++) { worst = Math.Max(worst, Math.Abs(q[i] - f[i])); scale = Math.Max(scale, Math.Abs(f[i])); }
        return worst / scale;
    }
}
