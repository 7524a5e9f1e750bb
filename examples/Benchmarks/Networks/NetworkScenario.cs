using System.Diagnostics;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace Benchmarks.Networks;

/// <summary>(b) An ONNX network: FP32 vs weight-only INT8 vs FP16, each made by the library, side by side.</summary>
public static class NetworkScenario
{
    public static ScenarioResult Run(Settings s, string model, string testFile, string fitFile, int featureCount, Func<string, int> classOf, string dataNote)
    {
        var ml = new MLContext(seed: 1);
        string modelPath = Settings.DataPath(Path.Combine("models", model + ".onnx"));
        var test = NetworkData.Load(ml, Settings.DataPath(testFile), featureCount, classOf);
        var fit = fitFile == testFile ? test : NetworkData.Load(ml, Settings.DataPath(fitFile), featureCount, classOf);

        var sw = Stopwatch.StartNew();
        using var int8 = ml.Compression().Quantize(modelPath, new QuantizationOptions { Precision = Precision.Int8 })
            .WithProgress(new ConsoleProgress($"{model} INT8")).Fit(fit.View);
        using var fp16 = ml.Compression().Quantize(modelPath, new QuantizationOptions { Precision = Precision.Float16 })
            .WithProgress(new ConsoleProgress($"{model} FP16")).Fit(fit.View);
        double compressSeconds = sw.Elapsed.TotalSeconds;
        var fp32 = ml.Transforms.ApplyOnnxModel(modelPath).Fit(fit.View);
        try
        {
            var variants = new (string Name, ITransformer Model, byte[] Onnx)[]
            {
                ("FP32", fp32, File.ReadAllBytes(modelPath)),
                ("INT8", int8, int8.OnnxModel!),
                ("FP16", fp16, fp16.OnnxModel!),
            };
            var result = new ScenarioResult
            {
                Name = $"ONNX network: {model}",
                Description = $"`data/models/{model}.onnx` ({featureCount} inputs). FP32 is the file run by ML.NET's OnnxTransformer; INT8 (per channel, weight-only, DequantizeLinear) "
                    + $"and FP16 (Constant + Cast) come from `ml.Compression().Quantize(path, options).Fit(data)`. Accuracy on {testFile} ({test.Labels.Length} rows). {dataNote} Quantizing both took {compressSeconds:F1} s.",
                Variants = variants.Select(v => v.Name).ToArray(),
            };

            result.Add("accuracy", "share", true, "F4", variants.Select(v => (double?)test.Accuracy(v.Model)).ToArray());
            result.Add("ONNX size", "bytes", false, "F0", variants.Select(v => (double?)v.Onnx.Length).ToArray());

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

            // ONNX Runtime directly: batch 1/32/256, one thread and the default thread count.
            foreach (int threads in new[] { 1, 0 })
                foreach (int batch in s.OrtBatchSizes)
                {
                    var times = variants.Select(v => (double?)OrtLatency.MedianMicroseconds(s, v.Onnx, test.Features, batch, threads)).ToArray();
                    result.Add($"ORT InferenceSession, batch {batch}, {(threads == 1 ? "1 thread" : "default threads")}", "µs/batch", false, batch == 1 ? "F1" : "F0", times);
                }
            return result;
        }
        finally
        {
            (fp32 as IDisposable)?.Dispose();
        }
    }
}
