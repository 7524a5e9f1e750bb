using System.Diagnostics;
using System.Runtime.InteropServices;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Fuzzing;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace Benchmarks.Fuzzing;

/// <summary>
/// The long fuzz run (<c>--only fuzz</c>): thousands of mutated ONNX files given by path to Quantize (weight-only and
/// static), Prune and Distill, and mutated saved zips given to LoadModel, with the test suite's mutations
/// (tools/Fuzzing/Mutations.cs). Each case runs under a 60 s watchdog. The model folder sits next to a sentinel
/// outside it, a named pipe that a watcher thread holds open for writing: any open of it by the library (a read
/// through <c>../</c>, an absolute path or a symbolic link) completes that open and is counted. Every result is
/// scored, and its graph loaded in ONNX Runtime; one that does not load counts as an invalid graph returned.
/// </summary>
internal static class FuzzScenario
{
    private const int Seed = 20261207, OnnxTrials = 5000, ZipTrials = 1000;
    private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(60);

    private sealed class Counts
    {
        public int Success, Typed, Untyped, Hangs, InvalidGraphs;
        public readonly SortedDictionary<string, int> ByType = new();
        public readonly List<string> Failures = new();
    }

    public static ScenarioResult Run(Settings settings)
    {
        var root = Path.Combine(Path.GetTempPath(), "mlcompression-fuzz-" + Guid.NewGuid().ToString("N"));
        var models = Path.Combine(root, "models");
        Directory.CreateDirectory(models);
        var sentinel = Path.Combine(root, "sentinel.bin");
        using var watcher = SentinelWatcher.Start(sentinel);
        // Inside the folder: a legitimate data file, and links that lead out of it to the sentinel.
        File.WriteAllBytes(Path.Combine(models, "w.bin"), new byte[4096]);
        File.CreateSymbolicLink(Path.Combine(models, "link.bin"), sentinel);
        Directory.CreateSymbolicLink(Path.Combine(models, "up"), root);
        var locations = Mutations.DefaultLocations.Concat(new[] { "../sentinel.bin", "link.bin", "up/sentinel.bin", sentinel, "./../models/../sentinel.bin" }).ToArray();

        var ml = new MLContext(seed: 1);
        var spamData = ml.Data.LoadFromTextFile(Settings.DataPath("spam.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 57) },
        });
        var data = ml.Data.Cache(ml.Data.TakeRows(ml.Data.ShuffleRows(spamData, seed: 1), 64));
        var spamPath = Settings.DataPath(Path.Combine("models", "spam_mlp.onnx"));
        var spam = File.ReadAllBytes(spamPath);
        byte[] spamZip;
        using (var model = ml.Compression().Quantize(spamPath).Fit(data))
        using (var zip = new MemoryStream())
        {
            ml.Model.Save(model, data.Schema, zip);
            spamZip = zip.ToArray();
        }
        IEstimator<ITransformer> Student() => ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label")
            .Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 3, numberOfLeaves: 4, minimumExampleCountPerLeaf: 2));

        var clock = Stopwatch.StartNew();
        var onnx = new Counts();
        var random = new Random(Seed);
        var modelPath = Path.Combine(models, "model.onnx");
        for (int i = 0; i < OnnxTrials; i++)
        {
            var (bytes, what) = Mutations.MutatedOnnx(random, spam, locations);
            int stage = i % 10 == 9 ? 3 : i % 3;
            // A case that hung keeps its file: each case gets its own name.
            var path = onnx.Hangs == 0 ? modelPath : Path.Combine(models, $"model{i}.onnx");
            File.WriteAllBytes(path, bytes);
            Trial(onnx, $"#{i} {what} → {new[] { "Quantize", "static Quantize", "Prune", "Distill" }[stage]}", () => stage switch
            {
                0 => ml.Compression().Quantize(path).Fit(data),
                1 => ml.Compression().Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 32 } }).Fit(data),
                2 => ml.Compression().Prune(path, new PruningOptions { TargetSparsity = 0.5 }).Fit(data),
                _ => ml.Compression().Distill(path, Student(), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).Fit(data),
            }, data);
            if ((i + 1) % 500 == 0) Console.WriteLine($"      {i + 1} ONNX cases, {clock.Elapsed.TotalSeconds:F0} s: {Describe(onnx)}, outside reads {watcher.Opens}");
        }
        double onnxSeconds = clock.Elapsed.TotalSeconds;
        int onnxOutside = watcher.Opens;

        var zips = new Counts();
        random = new Random(Seed + 1);
        for (int i = 0; i < ZipTrials; i++)
        {
            var (bytes, what) = Mutations.MutatedZip(random, spamZip);
            Trial(zips, $"#{i} {what}", () => ml.Compression().LoadModel(new MemoryStream(bytes), out _), data);
            if ((i + 1) % 250 == 0) Console.WriteLine($"      {i + 1} zip cases, {clock.Elapsed.TotalSeconds - onnxSeconds:F0} s: {Describe(zips)}");
        }
        double zipSeconds = clock.Elapsed.TotalSeconds - onnxSeconds;
        int zipOutside = watcher.Opens - onnxOutside;
        watcher.Dispose();
        Directory.Delete(root, recursive: true);

        var result = new ScenarioResult
        {
            Name = "Fuzz: mutated ONNX files and saved zips",
            Description = $"{OnnxTrials} mutated spam_mlp ONNX files given by path to Quantize, static Quantize, Prune and Distill, and {ZipTrials} mutated saved zips given to " +
                $"LoadModel (seed {Seed}); every result scored and its graph loaded in ONNX Runtime; a 60 s watchdog per case; an external-data sentinel outside the model folder.",
            Variants = new[] { "ONNX files", "zips" },
        };
        result.Add("cases", "", true, "F0", OnnxTrials, ZipTrials);
        result.Add("success (result scored, graph loads)", "", true, "F0", onnx.Success, zips.Success);
        result.Add("typed errors (CompressionException)", "", true, "F0", onnx.Typed, zips.Typed);
        result.Add("untyped exceptions", "", false, "F0", onnx.Untyped, zips.Untyped);
        result.Add("hangs (> 60 s)", "", false, "F0", onnx.Hangs, zips.Hangs);
        result.Add("reads outside the model folder", "", false, "F0", onnxOutside, zipOutside);
        result.Add("invalid graphs returned", "", false, "F0", onnx.InvalidGraphs, zips.InvalidGraphs);
        result.Add("time", "s", false, "F0", onnxSeconds, zipSeconds);
        result.Notes.Add($"ONNX outcomes: {string.Join(", ", onnx.ByType.Select(c => $"{c.Key} {c.Value}"))}.");
        result.Notes.Add($"Zip outcomes: {string.Join(", ", zips.ByType.Select(c => $"{c.Key} {c.Value}"))}.");
        foreach (var f in onnx.Failures.Concat(zips.Failures).Take(40)) result.Notes.Add(f);
        result.Notes.Add("CPU: AMD EPYC (AVX2), 2 cores shared with other jobs.");
        Console.WriteLine($"      ONNX: {Describe(onnx)}, outside reads {onnxOutside}; zips: {Describe(zips)}, outside reads {zipOutside}");
        return result;
    }

    private static string Describe(Counts c) => $"success {c.Success}, typed {c.Typed}, untyped {c.Untyped}, hangs {c.Hangs}, invalid graphs {c.InvalidGraphs}";

    /// <summary>Runs one case under the watchdog and counts its outcome; a result is scored and its graph loaded.</summary>
    private static void Trial(Counts counts, string name, Func<CompressedModel> fit, IDataView data)
    {
        var task = Task.Run(() =>
        {
            using var model = fit();
            var scored = model.Transform(data);
            using (var cursor = scored.GetRowCursor(scored.Schema)) while (cursor.MoveNext()) { }
            if (model.OnnxModel is { } graph)
            {
                try
                {
                    using var session = new InferenceSession(graph);
                }
                catch (OnnxRuntimeException e)
                {
                    return $"INVALID GRAPH {e.Message.Split('\n')[0]}";
                }
            }
            return "ok";
        });
        string outcome;
        try
        {
            if (!task.Wait(Watchdog))
            {
                counts.Hangs++;
                counts.Failures.Add($"HANG {name}");
                Console.WriteLine($"      HANG {name}");
                return; // the thread is left behind; the case's file is not reused
            }
            outcome = task.Result;
        }
        catch (AggregateException a) when (a.InnerException is CompressionException e)
        {
            outcome = e.GetType().Name;
        }
        catch (AggregateException a)
        {
            var e = a.InnerException!;
            outcome = "UNTYPED " + e.GetType().Name;
            var at = (e.StackTrace ?? "").Split('\n').FirstOrDefault(l => l.Contains("Microsoft.ML.Compression."))?.Trim();
            counts.Failures.Add($"UNTYPED {name}: {e.GetType().Name}: {e.Message.Split('\n')[0]} [{at}]");
            Console.WriteLine($"      {counts.Failures[^1]}");
        }
        if (outcome == "ok") counts.Success++;
        else if (outcome.StartsWith("INVALID GRAPH"))
        {
            counts.InvalidGraphs++;
            counts.Failures.Add($"{name}: {outcome}");
        }
        else if (outcome.StartsWith("UNTYPED")) counts.Untyped++;
        else counts.Typed++;
        var key = outcome.StartsWith("INVALID GRAPH") ? "invalid graph" : outcome;
        counts.ByType[key] = counts.ByType.GetValueOrDefault(key) + 1;
    }

    /// <summary>
    /// A named pipe with a thread that keeps opening it for writing: that open returns only when someone opens the
    /// pipe to read, so every completed open is a read attempt of the sentinel.
    /// </summary>
    private sealed class SentinelWatcher : IDisposable
    {
        private readonly string _path;
        private readonly Thread _thread;
        private volatile bool _stop;
        private int _opens;

        public int Opens => Volatile.Read(ref _opens);

        private SentinelWatcher(string path)
        {
            _path = path;
            _thread = new Thread(Watch) { IsBackground = true, Name = "fuzz sentinel" };
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int mkfifo(string path, uint mode);

        public static SentinelWatcher Start(string path)
        {
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
                throw new PlatformNotSupportedException("The fuzz run's sentinel is a named pipe: run it on Linux or macOS.");
            if (mkfifo(path, Convert.ToUInt32("644", 8)) != 0)
                throw new IOException($"mkfifo {path} failed (errno {Marshal.GetLastWin32Error()}).");
            var watcher = new SentinelWatcher(path);
            watcher._thread.Start();
            return watcher;
        }

        private void Watch()
        {
            while (!_stop)
            {
                try
                {
                    using var pipe = new FileStream(_path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
                    if (_stop) return;
                    Interlocked.Increment(ref _opens);
                    Console.WriteLine("      SENTINEL OPENED: a case read outside the model folder");
                    pipe.Write(new byte[64]);
                }
                catch (IOException)
                {
                    // the reader closed early (a broken pipe): the open was still counted
                }
            }
        }

        public void Dispose()
        {
            if (_stop) return;
            _stop = true;
            // Unblock the watcher's pending open with a reader of our own.
            using (var unblock = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1)) { }
            _thread.Join(TimeSpan.FromSeconds(5));
        }
    }
}
