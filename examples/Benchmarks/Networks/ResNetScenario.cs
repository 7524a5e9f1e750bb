using System.Diagnostics;
using Benchmarks.Common;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace Benchmarks.Networks;

/// <summary>
/// (c) A real pretrained network: the ResNet18 of the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (CNTK
/// export, opset 8, fixed batch 1, 22 Conv + 22 BatchNormalization), static INT8 against FP32 on Fashion-MNIST
/// images upscaled to 224×224. Not in --quick: the file is 63 MB and each image costs about 1.8 GFLOP.
/// </summary>
public static class ResNetScenario
{
    private const int Side = 224, Pixels = 3 * Side * Side, CalibrationImages = 256;

    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        string dir = Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        var original = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "ResNet18Onnx", "ResNet18.onnx")));
        var prep = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "ResNetPrepOnnx", "ResNetPreprocess.onnx")));
        // The featurizer's preprocessing graph: Split RGB → Concat BGR → Sub MeanImage, on 0–255 pixel values.
        var meanTensor = prep.Graph.Initializer.Single(t => t.Name == "MeanImage");
        var mean = MemoryMarshalFloats(meanTensor);
        string opset = string.Join(", ", original.OpsetImport.Select(o => $"{(string.IsNullOrEmpty(o.Domain) ? "ai.onnx" : o.Domain)} {o.Version}"));
        string ops = string.Join(", ", original.Graph.Node.GroupBy(n => n.OpType).Select(g => $"{g.Key} ×{g.Count()}"));

        // The file declares batch 1 on its input and output: make the batch dimension symbolic so batches of 32 run.
        var dynamic = original.Clone();
        foreach (var v in dynamic.Graph.Input.Concat(dynamic.Graph.Output))
        {
            var dim = v.Type.TensorType.Shape.Dim[0];
            dim.DimValue = 0;
            dim.DimParam = "batch";
        }
        dynamic.Graph.ValueInfo.Clear();
        string inputName = dynamic.Graph.Input.Single(i => !dynamic.Graph.Initializer.Any(t => t.Name == i.Name)).Name;
        string path = Path.Combine(Path.GetTempPath(), $"resnet18_dynamic_{Environment.ProcessId}.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(dynamic));
        try
        {
            var calib = NetworkData.Load(ml, Settings.DataPath("fashion_mnist_calib_512.csv"), 784, int.Parse);
            var test = NetworkData.Load(ml, Settings.DataPath("fashion_mnist_test_1000.csv"), 784, int.Parse);

            var calibRows = calib.Features.Take(CalibrationImages).Select(r => Image(r, mean)).ToArray();
            var schema = SchemaDefinition.Create(typeof(ImageRow));
            var column = schema[nameof(ImageRow.Image)];
            column.ColumnType = new VectorDataViewType(NumberDataViewType.Single, Pixels);
            column.ColumnName = inputName;
            var calibView = ml.Data.LoadFromEnumerable(calibRows.Select(r => new ImageRow { Image = r }), schema);

            GC.Collect();
            var memory = MemoryScope.Start();
            var loadBefore = LoadAverage();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            using var int8 = StageProgress.Run("ResNet18 INT8", progress => ml.Compression()
                .Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = CalibrationImages } }).WithProgress(progress).Fit(calibView));
            double quantizeSeconds = sw.Elapsed.TotalSeconds;
            // CPU time too: on a shared machine the wall clock says more about the other processes than about this one.
            double quantizeCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var quantizeMemory = memory.Stop();
            calibRows = null;
            var fp32Bytes = File.ReadAllBytes(path);
            var int8Bytes = int8.OnnxModel!;
            // For examples/GpuBenchmarks: the graphs only (their input, upscaled images, is not written; timing on random values of the same shape is the same work).
            OnnxExport.Model("resnet18", 0, "FP32", fp32Bytes);
            OnnxExport.Model("resnet18", 1, "static INT8", int8Bytes);
            Console.WriteLine(int8.Report);

            using var fp32Session = Session(fp32Bytes, 0);
            using var int8Session = Session(int8Bytes, 0);
            var trainFeatures = Featurize(fp32Session, calib.Features, mean);
            var testFp32 = Featurize(fp32Session, test.Features, mean);
            var testInt8 = Featurize(int8Session, test.Features, mean);
            double cosine = testFp32.Zip(testInt8).Average(p => Cosine(p.First, p.Second));

            // A classifier trained on FP32 features of the 512 calibration images, then fed FP32 or INT8 test features.
            var classifier = ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 100))
                .Fit(FeatureView(ml, trainFeatures, calib.Labels));
            double Accuracy(float[][] features)
                => ml.MulticlassClassification.Evaluate(classifier.Transform(FeatureView(ml, features, test.Labels))).MicroAccuracy;

            var result = new ScenarioResult
            {
                Name = "ONNX network: ResNet18 (pretrained, NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1)",
                Description = $"The package's `ResNet18.onnx` ({fp32Bytes.Length:N0} bytes; {opset}; IR {original.IrVersion}; {ops}), with its batch dimension made symbolic. "
                    + "Input: Fashion-MNIST images upscaled bilinearly from 28×28 to 224×224, the gray value copied to 3 channels, minus the package's MeanImage "
                    + "(its ResNetPreprocess.onnx does RGB→BGR and that subtraction on 0–255 values). INT8: `Quantize(path, new QuantizationOptions { Network = { Mode = Static } })` "
                    + $"fitted on the first {CalibrationImages} images of fashion_mnist_calib_512.csv: opset raised to 13, BatchNormalization folded into the Conv layers, "
                    + "QDQ with ONNX Runtime's QLinearConv fusion, weights in the default PairBounded format (int8, each channel's two largest levels "
                    + "summing to at most 128, so the uint8×int8 kernels cannot saturate). "
                    + $"Quantizing took {quantizeSeconds:F1} s wall, {quantizeCpuSeconds:F1} s CPU on {Environment.ProcessorCount} cores{LoadNote(loadBefore)} "
                    + $"(peak working set {quantizeMemory.PeakWorkingSetMB:F0} MB during it). "
                    + "Features: the 512-d output of the last pooling layer on fashion_mnist_test_1000.csv. Classifier: ML.NET SdcaMaximumEntropy trained on the FP32 "
                    + "features of the 512 calibration images, then fed FP32 or INT8 features of the 1000 test images.",
                Variants = new[] { "FP32", "static INT8" },
            };
            result.Notes.Add($"Quantize stage: {int8.Report.Final.Description}");
            var errors = int8.Report.Final.TensorErrors ?? Array.Empty<TensorError>();
            result.Notes.Add($"SQNR on the calibration rows (graph output as ONNX Runtime runs the fused INT8 kernels, other tensors with QDQ evaluated as written): "
                + string.Join(", ", errors.Select(e => $"{e.Name} {e.SqnrDb:F1} dB")));
            result.Add("mean cosine of 512-d features to FP32", "cosine", true, "F4", 1.0, cosine);
            result.Add("classifier accuracy (trained on FP32 features)", "share", true, "F4", Accuracy(testFp32), Accuracy(testInt8));
            result.Add("ONNX size", "bytes", false, "F0", fp32Bytes.Length, int8Bytes.Length);
            result.Add("time to quantize (wall clock)", "s", false, "F1", null, quantizeSeconds);
            result.Add("CPU time to quantize (all threads)", "s", false, "F1", null, quantizeCpuSeconds);
            result.Add("peak working set while quantizing", "MB", false, "F0", null, quantizeMemory.PeakWorkingSetMB);
            var sample = test.Features.Take(32).Select(r => Image(r, mean)).ToArray();
            foreach (int batch in new[] { 1, 32 })
            {
                var (fp32Ms, int8Ms) = InterleavedLatency(s, fp32Bytes, int8Bytes, sample, batch);
                result.Add($"ORT InferenceSession, batch {batch}, 1 thread", "ms/batch", false, "F1", fp32Ms, int8Ms);
            }
            return result;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The 1-minute load average (Linux), or null: other processes competing for the cores stretch the wall clock.</summary>
    private static double? LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }

    private static string LoadNote(double? load) => load is double l ? $" (1-minute load average {l:F1} when it started)" : "";

    private sealed class ImageRow
    {
        public float[] Image { get; set; } = Array.Empty<float>();
    }

    private sealed class FeatureRow
    {
        public float Label { get; set; }
        [VectorType(512)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    private static IDataView FeatureView(MLContext ml, float[][] features, int[] labels)
        => ml.Data.LoadFromEnumerable(features.Select((f, i) => new FeatureRow { Label = labels[i], Features = f }));

    private static float[] MemoryMarshalFloats(Onnx.TensorProto t)
        => t.FloatData.Count > 0 ? t.FloatData.ToArray() : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();

    /// <summary>28×28 gray (0–255) → 3×224×224, bilinear, minus the mean image (channel order does not matter: gray).</summary>
    private static float[] Image(float[] gray, float[] mean)
    {
        var image = new float[Pixels];
        for (int y = 0; y < Side; y++)
        {
            double sy = Math.Clamp((y + 0.5) * 28.0 / Side - 0.5, 0, 27);
            int y0 = (int)sy, y1 = Math.Min(27, y0 + 1);
            double fy = sy - y0;
            for (int x = 0; x < Side; x++)
            {
                double sx = Math.Clamp((x + 0.5) * 28.0 / Side - 0.5, 0, 27);
                int x0 = (int)sx, x1 = Math.Min(27, x0 + 1);
                double fx = sx - x0;
                double v = (1 - fy) * ((1 - fx) * gray[y0 * 28 + x0] + fx * gray[y0 * 28 + x1]) + fy * ((1 - fx) * gray[y1 * 28 + x0] + fx * gray[y1 * 28 + x1]);
                for (int c = 0; c < 3; c++)
                {
                    int i = c * Side * Side + y * Side + x;
                    image[i] = (float)v - mean[i % mean.Length];
                }
            }
        }
        return image;
    }

    private static InferenceSession Session(byte[] onnx, int threads)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        if (threads > 0) { options.IntraOpNumThreads = threads; options.InterOpNumThreads = 1; }
        return new InferenceSession(onnx, options);
    }

    private static float[] Run(InferenceSession session, float[] flat, int batch)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(flat, new long[] { batch, 3, Side, Side });
        using var run = new RunOptions();
        using var output = session.Run(run, new[] { session.InputNames[0] }, new[] { value }, new[] { session.OutputNames[0] });
        return output[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static float[][] Featurize(InferenceSession session, float[][] grayRows, float[] mean)
    {
        const int batch = 16;
        var result = new List<float[]>();
        for (int start = 0; start < grayRows.Length; start += batch)
        {
            int count = Math.Min(batch, grayRows.Length - start);
            var flat = new float[count * Pixels];
            for (int r = 0; r < count; r++) Image(grayRows[start + r], mean).CopyTo(flat, r * Pixels);
            var features = Run(session, flat, count);
            int width = features.Length / count;
            for (int r = 0; r < count; r++) result.Add(features[(r * width)..((r + 1) * width)]);
        }
        return result.ToArray();
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb + 1e-30);
    }

    /// <summary>
    /// Median milliseconds per Run of the FP32 and the INT8 session, one thread each, timed in alternation (FP32 call,
    /// INT8 call, …) so that a change in the machine's load during the measurement falls on both alike: on a shared
    /// machine, timing one model after the other once made INT8 look 1.6× slower than FP32 at batch 32.
    /// </summary>
    private static (double Fp32Ms, double Int8Ms) InterleavedLatency(Settings s, byte[] fp32, byte[] int8, float[][] images, int batch)
    {
        using var a = Session(fp32, 1);
        using var b = Session(int8, 1);
        var flat = new float[batch * Pixels];
        for (int r = 0; r < batch; r++) images[r % images.Length].CopyTo(flat, r * Pixels);
        for (int i = 0; i < 2; i++) { Run(a, flat, batch); Run(b, flat, batch); }
        var ta = new List<double>();
        var tb = new List<double>();
        var total = Stopwatch.StartNew();
        // At least 5 pairs, more while they take under Runs × SecondsPerRun each (batch 1: dozens, batch 32: 5).
        while (ta.Count < 5 || total.Elapsed.TotalSeconds < 2 * s.Runs * s.SecondsPerRun)
        {
            var sw = Stopwatch.StartNew();
            Run(a, flat, batch);
            ta.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            Run(b, flat, batch);
            tb.Add(sw.Elapsed.TotalMilliseconds);
        }
        return (Timing.Median(ta), Timing.Median(tb));
    }
}
