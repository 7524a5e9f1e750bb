using System.Diagnostics;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace Benchmarks.Networks;

/// <summary>A compressed variant of a network: its column name and how the library makes it from the model file.</summary>
public sealed record NetworkVariant(string Name, string Description, Func<MLContext, string, IDataView, CompressedModel> Make);

/// <summary>(b) An ONNX network: FP32 vs compressed variants made by the library, side by side.</summary>
public static class NetworkScenario
{
    /// <summary>Every quantization mode with its default options: what quantization alone buys.</summary>
    public static readonly NetworkVariant[] Quantized =
    {
        new("INT8", "INT8 (per channel, weight-only, restored by Cast + Mul when ONNX Runtime loads the graph)", (ml, path, fit) => ml.Compression().Quantize(path, new QuantizationOptions { Precision = Precision.Int8 })
            .WithProgress(new ConsoleProgress("INT8")).Fit(fit)),
        new("FP16", "FP16 (Constant + Cast)", (ml, path, fit) => ml.Compression().Quantize(path, new QuantizationOptions { Precision = Precision.Float16 })
            .WithProgress(new ConsoleProgress("FP16")).Fit(fit)),
        new("INT4", "INT4 (blocks of 32, MatMulNBits; Conv INT8)", (ml, path, fit) => ml.Compression().Quantize(path, new QuantizationOptions { Precision = Precision.Int4 })
            .WithProgress(new ConsoleProgress("INT4")).Fit(fit)),
        new("dynamic INT8", "dynamic INT8 (layers under the multiply-add thresholds keep float arithmetic)", (ml, path, fit) => ml.Compression().Quantize(path, new QuantizationOptions { Mode = QuantizationMode.Dynamic })
            .WithProgress(new ConsoleProgress("dynamic")).Fit(fit)),
        new("static INT8", "static INT8 (QDQ, 256 calibration rows; layers under the multiply-add thresholds keep float arithmetic)", (ml, path, fit) => ml.Compression().Quantize(path, new QuantizationOptions { Mode = QuantizationMode.Static })
            .WithProgress(new ConsoleProgress("static")).Fit(fit)),
    };

    /// <summary>Pruning with calibration data: structured (smaller, faster graph), 2:4, and 80 % unstructured + static INT8.</summary>
    public static readonly NetworkVariant[] Pruned =
    {
        new("structured 50%", "half of the hidden neurons removed (structured, next layer refitted)", (ml, path, fit) => ml.Compression()
            .Prune(path, new PruningOptions { Granularity = PruningGranularity.Structured, TargetSparsity = 0.5 }).WithProgress(new ConsoleProgress("structured")).Fit(fit)),
        new("2:4", "2:4 semi-structured with reconstruction", (ml, path, fit) => ml.Compression()
            .Prune(path, new PruningOptions { Granularity = PruningGranularity.SemiStructured }).WithProgress(new ConsoleProgress("2:4")).Fit(fit)),
        new("80% + INT8", "80 % unstructured with reconstruction, then static INT8", (ml, path, fit) => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.8 }).Append(ml.Compression().Quantize(new QuantizationOptions { Mode = QuantizationMode.Static }))
            .WithProgress(new ConsoleProgress("80%+INT8")).Fit(fit)),
    };

    public static ScenarioResult Run(Settings s, string model, string testFile, string fitFile, int featureCount, Func<string, int> classOf, string dataNote)
        => Run(s, model, testFile, fitFile, featureCount, classOf, dataNote, Quantized, $"ONNX network: {model}");

    public static ScenarioResult Run(Settings s, string model, string testFile, string fitFile, int featureCount, Func<string, int> classOf, string dataNote,
        IReadOnlyList<NetworkVariant> compressed, string title, int[]? ortBatchSizes = null)
    {
        var ml = new MLContext(seed: 1);
        string modelPath = Settings.DataPath(Path.Combine("models", model + ".onnx"));
        var test = NetworkData.Load(ml, Settings.DataPath(testFile), featureCount, classOf);
        var fit = fitFile == testFile ? test : NetworkData.Load(ml, Settings.DataPath(fitFile), featureCount, classOf);

        var sw = Stopwatch.StartNew();
        var made = compressed.Select(v => (v.Name, Model: v.Make(ml, modelPath, fit.View))).ToList();
        double compressSeconds = sw.Elapsed.TotalSeconds;
        var fp32 = ml.Transforms.ApplyOnnxModel(modelPath).Fit(fit.View);
        try
        {
            var variants = new (string Name, ITransformer Model, byte[] Onnx)[] { ("FP32", fp32, File.ReadAllBytes(modelPath)) }
                .Concat(made.Select(m => (Name: m.Name, Model: (ITransformer)m.Model, Onnx: m.Model.OnnxModel!))).ToArray();
            var result = new ScenarioResult
            {
                Name = title,
                Description = $"`data/models/{model}.onnx` ({featureCount} inputs). FP32 is the file run by ML.NET's OnnxTransformer; "
                    + string.Join("; ", compressed.Select(v => $"{v.Name}: {v.Description}")) + $" (made by `ml.Compression()` and fitted on the data). "
                    + $"Accuracy on {testFile} ({test.Labels.Length} rows). {dataNote} Compressing took {compressSeconds:F1} s.",
                Variants = variants.Select(v => v.Name).ToArray(),
            };

            result.Add("accuracy", "share", true, "F4", variants.Select(v => (double?)test.Accuracy(v.Model)).ToArray());
            result.Add("ONNX size", "bytes", false, "F0", variants.Select(v => (double?)v.Onnx.Length).ToArray());
            result.Add("saved zip", "bytes", false, "F0", variants.Select(v => (double?)ZipBytes(ml, v.Model, fit.View)).ToArray());

            // Batch 1 through ML.NET: a PredictionEngine, one row at a time.
            var schema = SchemaDefinition.Create(typeof(NetworkInput));
            schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
            var inputs = test.Features.Select(f => new NetworkInput { Features = f }).ToArray();
            var engineTimes = new List<double?>();
            var engineBytes = new List<double?>();
            foreach (var v in variants)
            {
                using var engine = ml.Model.CreatePredictionEngine<NetworkInput, NetworkOutput>(v.Model, inputSchemaDefinition: schema);
                var output = new NetworkOutput();
                int next = 0;
                void One() { engine.Predict(inputs[next], ref output); next = (next + 1) % inputs.Length; }
                engineTimes.Add(Timing.MedianMicroseconds(s, One));
                engineBytes.Add(MemoryScope.AllocatedBytesPerCall(One));
            }
            result.Add("ML.NET PredictionEngine, batch 1", "µs/row", false, "F1", engineTimes.ToArray());
            result.Add("ML.NET PredictionEngine managed allocations", "bytes/row", false, "F0", engineBytes.ToArray());

            // ONNX Runtime directly: batch 1/32/256, one thread and the default thread count; the variants timed in turns.
            foreach (int threads in new[] { 1, 0 })
                foreach (int batch in ortBatchSizes ?? s.OrtBatchSizes)
                {
                    var (wall, cpu) = OrtLatency.MedianMicrosecondsInTurns(s, variants.Select(v => v.Onnx).ToArray(), test.Features, batch, threads);
                    result.Add($"ORT InferenceSession, batch {batch}, {(threads == 1 ? "1 thread" : "default threads")}", "µs/batch", false, batch == 1 ? "F1" : "F0",
                        wall.Select(t => (double?)t).ToArray());
                    if (cpu != null)
                        result.Add($"ORT InferenceSession, batch {batch}, 1 thread, CPU time of the calling thread", "µs/batch", false, batch == 1 ? "F1" : "F0",
                            cpu.Select(t => (double?)t).ToArray());
                }
            return result;
        }
        finally
        {
            (fp32 as IDisposable)?.Dispose();
            foreach (var m in made) m.Model.Dispose();
        }
    }

    private static long ZipBytes(MLContext ml, ITransformer model, IDataView data)
    {
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        return stream.Length;
    }
}
