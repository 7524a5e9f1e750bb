using System.Diagnostics;
using Benchmarks.Common;
using Examples.Shared;
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
        new("INT8", "INT8 (per channel, weight-only, restored by Cast + Mul when ONNX Runtime loads the graph)", (ml, path, fit) => StageProgress.Run("INT8", progress => ml.Compression()
            .Quantize(path, new QuantizationOptions { Precision = Precision.Int8 }).WithProgress(progress).Fit(fit))),
        new("FP16", "FP16 (Constant + Cast)", (ml, path, fit) => StageProgress.Run("FP16", progress => ml.Compression()
            .Quantize(path, new QuantizationOptions { Precision = Precision.Float16 }).WithProgress(progress).Fit(fit))),
        new("INT4", "INT4 (blocks of 64, MatMulNBits; Conv INT8)", (ml, path, fit) => StageProgress.Run("INT4", progress => ml.Compression()
            .Quantize(path, new QuantizationOptions { Precision = Precision.Int4 }).WithProgress(progress).Fit(fit))),
        new("dynamic INT8", "dynamic INT8 (layers under the multiply-add thresholds keep float arithmetic)", (ml, path, fit) => StageProgress.Run("dynamic", progress => ml.Compression()
            .Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } }).WithProgress(progress).Fit(fit))),
        new("static INT8", "static INT8 (QDQ, 256 calibration rows; layers under the multiply-add thresholds keep float arithmetic)", (ml, path, fit) => StageProgress.Run("static", progress => ml.Compression()
            .Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).WithProgress(progress).Fit(fit))),
    };

    /// <summary>Pruning with calibration data: structured (smaller, faster graph), 2:4, 80/90 % unstructured beside plain magnitude, and 85 % + static INT8.</summary>
    public static readonly NetworkVariant[] Pruned =
    {
        new("structured 50%", "half of the hidden neurons removed (structured, next layer refitted)", (ml, path, fit) => StageProgress.Run("structured", progress => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } }).WithProgress(progress).Fit(fit))),
        new("2:4", "2:4 semi-structured with reconstruction", (ml, path, fit) => StageProgress.Run("2:4", progress => ml.Compression()
            .Prune(path, new PruningOptions { Network = { Granularity = PruningGranularity.SemiStructured } }).WithProgress(progress).Fit(fit))),
        new("80% magnitude", "80 % unstructured, plain magnitude (no data, no reconstruction)", (ml, path, fit) => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.8, Reconstruct = false }).Fit(fit)),
        new("80%", "80 % unstructured (global threshold), SparseGPT-style mask and least-squares reconstruction", (ml, path, fit) => StageProgress.Run("80%", progress => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.8 }).WithProgress(progress).Fit(fit))),
        new("90%", "90 % unstructured (global threshold) with reconstruction", (ml, path, fit) => StageProgress.Run("90%", progress => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.9 }).WithProgress(progress).Fit(fit))),
        new("85% + INT8", "85 % unstructured with reconstruction, then static INT8", (ml, path, fit) => StageProgress.Run("85%+INT8", progress => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.85 }).Append(ml.Compression().Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }))
            .WithProgress(progress).Fit(fit))),
    };

    /// <summary>Dynamic INT8 with each MatMulInteger weight format, beside the CPU-chosen default (QuantizationOptions.Network.DynamicWeightFormat).</summary>
    public static readonly NetworkVariant[] DynamicFormats =
    {
        new("dynamic uint8 weights", "dynamic INT8, weights uint8 around 128 (u8×u8 kernels)", (ml, path, fit) => ml.Compression()
            .Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBitUnsigned } }).Fit(fit)),
        new("dynamic int8 weights", "dynamic INT8, weights int8 (u8×s8 kernels)", (ml, path, fit) => ml.Compression()
            .Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBit } }).Fit(fit)),
        new("dynamic pair-bounded int8 weights", "dynamic INT8, weights int8 with each channel's two largest levels summing to at most 128 (u8×s8 kernels that cannot saturate)", (ml, path, fit) => ml.Compression()
            .Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.PairBounded } }).Fit(fit)),
        new("dynamic default", "dynamic INT8 with the default options (weight format chosen by the CPU's VNNI support)", (ml, path, fit) => ml.Compression()
            .Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } }).Fit(fit)),
    };

    /// <summary>The CNN: 30 % of the Conv channels removed (structured), and 80 % unstructured (Conv layers refitted over their patches).</summary>
    public static readonly NetworkVariant[] PrunedCnn =
    {
        new("structured 30%", "30 % of the channels and hidden neurons removed (structured; the next Conv refitted over its input patches, the Gemm layers refitted)", (ml, path, fit) => StageProgress.Run("structured", progress => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.3, Network = { Granularity = PruningGranularity.Structured } }).WithProgress(progress).Fit(fit))),
        new("80% magnitude", "80 % unstructured, plain magnitude", (ml, path, fit) => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.8, Reconstruct = false }).Fit(fit)),
        new("80%", "80 % unstructured (global threshold) with reconstruction", (ml, path, fit) => StageProgress.Run("80%", progress => ml.Compression()
            .Prune(path, new PruningOptions { TargetSparsity = 0.8 }).WithProgress(progress).Fit(fit))),
    };

    public static ScenarioResult Run(Settings s, string model, string testFile, string fitFile, int featureCount, Func<string, int> classOf, string dataNote)
        => Run(s, model, testFile, fitFile, featureCount, classOf, dataNote, Quantized, $"ONNX network: {model}");

    /// <param name="sensitivitySparsities">When given, also sweeps the pruning sensitivity of every layer at these sparsities (test accuracy).</param>
    public static ScenarioResult Run(Settings s, string model, string testFile, string fitFile, int featureCount, Func<string, int> classOf, string dataNote,
        IReadOnlyList<NetworkVariant> compressed, string title, double[]? sensitivitySparsities = null, int[]? ortBatchSizes = null)
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
            for (int k = 0; k < variants.Length; k++) OnnxExport.Model(title, k, variants[k].Name, variants[k].Onnx);
            OnnxExport.Inputs(title, test.Features);
            var result = new ScenarioResult
            {
                Name = title,
                Description = $"`data/models/{model}.onnx` ({featureCount} inputs). FP32 is the file run by ML.NET's OnnxTransformer; "
                    + string.Join("; ", compressed.Select(v => $"{v.Name}: {v.Description}")) + $" (made by `ml.Compression()` and fitted on the data). "
                    + $"Accuracy on {testFile} ({test.Labels.Length} rows). {dataNote} Compressing took {compressSeconds:F1} s.",
                Variants = variants.Select(v => v.Name).ToArray(),
            };

            // Where quantization loses precision: the per-tensor SQNR that the Quantize stage measured.
            foreach (var (name, m) in made)
                if (m.Report.Stages.LastOrDefault(st => st.TensorErrors is { Count: > 0 })?.TensorErrors is { } errors)
                    result.TensorErrors[name] = errors;
            if (sensitivitySparsities != null)
            {
                // Which layers tolerate pruning: each layer alone at each sparsity (with reconstruction), test accuracy.
                sw.Restart();
                result.Sensitivity = ml.Compression().PruningSensitivity(modelPath, fit.View, test.Accuracy, sensitivitySparsities);
                result.SensitivityMetric = "test accuracy";
                result.Notes.Add($"Pruning sensitivity: {result.Sensitivity.Count} layers × {sensitivitySparsities.Length} sparsities in {sw.Elapsed.TotalSeconds:F1} s.");
            }

            result.Add("accuracy", "share", true, "F4", variants.Select(v => (double?)test.Accuracy(v.Model)).ToArray());
            result.Add("ONNX size", "bytes", false, "F0", variants.Select(v => (double?)v.Onnx.Length).ToArray());
            result.Add("saved zip", "bytes", false, "F0", variants.Select(v => (double?)ZipBytes(ml, v.Model, fit.View)).ToArray());

            // Batch 1 through ML.NET: a PredictionEngine, one row at a time. First every variant through ML.NET's
            // OnnxTransformer (the FP32 file as ApplyOnnxModel, a compressed model as its standard Transformers chain),
            // which compares the models alone; then the CompressedModel itself, whose engine calls ONNX Runtime directly.
            var schema = SchemaDefinition.Create(typeof(NetworkInput));
            schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
            var inputs = test.Features.Select(f => new NetworkInput { Features = f }).ToArray();
            (double Micros, double Bytes) Engine(ITransformer model)
            {
                using var engine = ml.Model.CreateSharedPredictionEngine<NetworkInput, NetworkOutput>(model, schema);
                var output = new NetworkOutput();
                int next = 0;
                void One() { engine.Predict(inputs[next], ref output); next = (next + 1) % inputs.Length; }
                return (Timing.MedianMicroseconds(s, One), MemoryScope.AllocatedBytesPerCall(One));
            }
            var viaOnnxTransformer = variants.Select(v => Engine(v.Model is CompressedModel c ? c.Transformers : v.Model)).ToArray();
            var direct = variants.Select(v => v.Model is CompressedModel ? Engine(v.Model) : ((double, double)?)null).ToArray();
            result.Add("ML.NET PredictionEngine via OnnxTransformer, batch 1", "µs/row", false, "F1", viaOnnxTransformer.Select(e => (double?)e.Micros).ToArray());
            result.Add("ML.NET PredictionEngine via OnnxTransformer, managed allocations", "bytes/row", false, "F0", viaOnnxTransformer.Select(e => (double?)e.Bytes).ToArray());
            result.Add("PredictionEngine of the CompressedModel (ONNX Runtime called directly), batch 1", "µs/row", false, "F1", direct.Select(e => e?.Item1).ToArray());
            result.Add("PredictionEngine of the CompressedModel, managed allocations", "bytes/row", false, "F0", direct.Select(e => e?.Item2).ToArray());

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
