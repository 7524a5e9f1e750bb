// GpuBenchmarks: latency of the library's compressed ONNX graphs on ONNX Runtime's CUDA provider (and its CPU
// provider, for comparison), measured side by side in one run. Input: a folder written by
//   dotnet run --project examples/Benchmarks -c Release -- --only transformer,fashion_cnn --onnx-out onnx-variants
// with one sub-folder per scenario: NN-<variant>.onnx (00-fp32 first) and, for the small fixtures, inputs.f32/json.
//   dotnet run --project examples/GpuBenchmarks -c Release -- onnx-variants [--batches 1,32,256] [--seconds 2] [--device 0]
using System.CommandLine;
using GpuBenchmarks;

var folderArgument = new Argument<DirectoryInfo>("folder") { Description = "The folder written by examples/Benchmarks --onnx-out." };
var batchesOption = new Option<string>("--batches") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,32,256" };
var secondsOption = new Option<double>("--seconds") { Description = "Seconds of timed calls per model, batch size and provider (in turns).", DefaultValueFactory = _ => 2.0 };
var deviceOption = new Option<int>("--device") { Description = "CUDA device id.", DefaultValueFactory = _ => 0 };
var cpuOnlyOption = new Option<bool>("--cpu-only") { Description = "Skip the CUDA provider (to check the files and the inputs on a machine without a GPU)." };
var outOption = new Option<string>("--out") { Description = "Markdown file for the results.", DefaultValueFactory = _ => "gpu-results.md" };
var root = new RootCommand("Latency of compressed ONNX graphs on ONNX Runtime's CUDA and CPU providers.")
{
    folderArgument, batchesOption, secondsOption, deviceOption, cpuOnlyOption, outOption,
};
root.SetAction(parse =>
{
    var folder = parse.GetValue(folderArgument)!;
    if (!folder.Exists)
    {
        Console.Error.WriteLine($"error: {folder.FullName} does not exist; write it first with examples/Benchmarks --onnx-out {folder.FullName}.");
        return 2;
    }
    var batches = parse.GetValue(batchesOption)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
    var providers = new List<Provider> { Provider.Cpu };
    if (!parse.GetValue(cpuOnlyOption))
    {
        var cuda = Provider.Cuda(parse.GetValue(deviceOption));
        // Check once, before any timing: a missing CUDA/cuDNN library fails here with ONNX Runtime's own message.
        var problem = cuda.Check();
        if (problem != null)
        {
            Console.Error.WriteLine($"error: ONNX Runtime's CUDA provider cannot start on this machine: {problem}\n"
                + "It needs an NVIDIA GPU with the CUDA 13 and cuDNN 9 libraries on the library path; run with --cpu-only to check the files without one.");
            return 3;
        }
        providers.Add(cuda);
    }
    var scenarios = folder.GetDirectories().Where(d => d.GetFiles("*.onnx").Length > 0).OrderBy(d => d.Name).ToArray();
    if (scenarios.Length == 0)
    {
        Console.Error.WriteLine($"error: no <scenario>/*.onnx under {folder.FullName}.");
        return 2;
    }
    var report = new List<string> { $"# ONNX Runtime latency by provider ({string.Join(", ", providers.Select(p => p.Name))})", "",
        $"Median µs per Run call, {parse.GetValue(secondsOption)} s of calls per cell, models timed in turns; ratio = variant ÷ FP32 on the same provider and batch.", "" };
    foreach (var scenario in scenarios)
    {
        Console.WriteLine($"== {scenario.Name}");
        report.AddRange(ScenarioTiming.Run(scenario, providers, batches, parse.GetValue(secondsOption)));
    }
    File.WriteAllLines(parse.GetValue(outOption)!, report);
    Console.WriteLine(string.Join(Environment.NewLine, report));
    Console.WriteLine($"Wrote {Path.GetFullPath(parse.GetValue(outOption)!)}");
    return 0;
});
return root.Parse(args).Invoke();
