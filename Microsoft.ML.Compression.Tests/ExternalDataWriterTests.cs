using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Graphs written with their weights as external data: the writer ONNX Runtime's sessions load from (GraphFile),
/// and <see cref="CompressedModel.SaveOnnx"/>, which uses it for outputs over 2 GB or when asked. What is written
/// must load in ONNX Runtime, compute what the graph in memory computes, refer only to the file written beside it,
/// and leave the model it was given unchanged.
/// </summary>
[TestClass]
public sealed class ExternalDataWriterTests
{
    private static string SpamMlp => TestData.Network("spam_mlp");

    private sealed class Folder : IDisposable
    {
        public string Root { get; } = Path.Combine(Path.GetTempPath(), "mlcompression-writer-" + Guid.NewGuid().ToString("N"));
        public Folder() => Directory.CreateDirectory(Root);
        public string this[string relative] => Path.Combine(Root, relative);
        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    /// <summary>The graph's first output on fixed rows of 57 features.</summary>
    private static float[] Run(InferenceSession session)
    {
        var random = new Random(5);
        var rows = new float[8 * 57];
        for (int i = 0; i < rows.Length; i++) rows[i] = random.NextSingle() * 3;
        var input = session.InputMetadata.Keys.First();
        using var tensor = OrtValue.CreateTensorValueFromMemory(rows, new long[] { 8, 57 });
        using var outputs = session.Run(new RunOptions(), new[] { input }, new[] { tensor }, new[] { session.OutputMetadata.Keys.First() });
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static ModelProto Spam() => ModelProto.Parser.ParseFrom(File.ReadAllBytes(SpamMlp));

    [TestMethod]
    public void WeightsWrittenExternallyLoadInOnnxRuntimeAndComputeTheSame()
    {
        using var folder = new Folder();
        var model = Spam();
        var before = model.ToByteArray();
        var path = folder["model.onnx"];
        OnnxModelIO.WriteWithExternalData(model, path, "model.onnx.data", minExternalBytes: 1024);

        CollectionAssert.AreEqual(before, model.ToByteArray(), "the model given to the writer changed");
        CollectionAssert.AreEquivalent(new[] { "model.onnx", "model.onnx.data" }, Directory.GetFiles(folder.Root).Select(Path.GetFileName).ToArray());
        var written = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var external = written.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
        Assert.AreEqual(model.Graph.Initializer.Count(t => t.RawData.Length >= 1024), external.Count);
        Assert.IsTrue(external.Count > 0);
        foreach (var t in external)
        {
            Assert.AreEqual("model.onnx.data", t.ExternalData.Single(e => e.Key == "location").Value);
            Assert.AreEqual(0, long.Parse(t.ExternalData.Single(e => e.Key == "offset").Value) % 4096, "offsets are page-aligned so ONNX Runtime can map them");
        }

        using var fromMemory = new InferenceSession(before);
        using var fromFile = new InferenceSession(path);
        CollectionAssert.AreEqual(Run(fromMemory), Run(fromFile));
        // The library reads it back (its own external-data reader) to the same weights.
        var read = OnnxModelIO.Load(path);
        foreach (var t in model.Graph.Initializer)
            CollectionAssert.AreEqual(t.RawData.ToByteArray(), read.Graph.Initializer.Single(r => r.Name == t.Name).RawData.ToByteArray(), t.Name);
    }

    [TestMethod]
    public void SerializedBytesIsTheProtobufSize()
    {
        var model = Spam();
        long size = OnnxModelIO.SerializedBytes(model);
        Assert.IsTrue(size >= model.CalculateSize() && size <= model.CalculateSize() + 4, $"{size} vs {model.CalculateSize()}");
    }

    [TestMethod]
    public void GraphFileIsGoneWhenDisposed()
    {
        string folder;
        using (var file = GraphFile.Write(Spam()))
        {
            folder = Path.GetDirectoryName(file.Path)!;
            Assert.IsTrue(File.Exists(file.Path));
            using var session = new InferenceSession(file.Path);
            Assert.AreEqual(2, Directory.GetFiles(folder).Length); // the graph and its weights
        }
        Assert.IsFalse(Directory.Exists(folder));
    }

    [TestMethod]
    public void ADataFileNameThatIsAPathIsRefusedBeforeAnythingIsWritten()
    {
        using var folder = new Folder();
        Assert.ThrowsExactly<ArgumentException>(() => OnnxModelIO.WriteWithExternalData(Spam(), folder["model.onnx"], "../outside.data", 1024));
        Assert.ThrowsExactly<ArgumentException>(() => OnnxModelIO.WriteWithExternalData(Spam(), folder["model.onnx"], "..", 1024));
        Assert.AreEqual(0, Directory.GetFileSystemEntries(folder.Root).Length);
    }

    [TestCategory("Slow")] // two Fits of spam_mlp (each measures the report)
    [TestMethod]
    public void SaveOnnxWritesExternalDataWhenAskedAndTheGraphLoadsFromTheFolder()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Head(ml, TestData.Spam(ml), 64);
        using var folder = new Folder();
        using var quantized = ml.Compression().Quantize(SpamMlp, new QuantizationOptions { Precision = Precision.Float16 }).Fit(data);

        var inline = quantized.SaveOnnx(folder["inline.onnx"]);
        CollectionAssert.AreEqual(new[] { folder["inline.onnx"] }, inline.ToArray());
        Assert.IsFalse(File.Exists(folder["inline.onnx.data"]));
        CollectionAssert.AreEqual(quantized.OnnxModel, File.ReadAllBytes(folder["inline.onnx"]));

        // Initializers of 1 KB or more go to the data file (the FP16 model above keeps its weights in Constant nodes).
        using var int8 = ml.Compression().Quantize(SpamMlp, new QuantizationOptions { Network = { KeepDequantizeLinear = true } }).Fit(data);
        var paths = int8.SaveOnnx(folder["int8.onnx"], externalData: true);
        CollectionAssert.AreEqual(new[] { folder["int8.onnx"], folder["int8.onnx.data"] }, paths.ToArray());
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(folder["int8.onnx"]));
        var locations = graph.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External)
            .Select(t => t.ExternalData.Single(e => e.Key == "location").Value).Distinct().ToArray();
        CollectionAssert.AreEqual(new[] { "int8.onnx.data" }, locations, "the graph refers to the file written beside it, and to no other");
        using var fromFile = new InferenceSession(folder["int8.onnx"]);
        using var fromMemory = new InferenceSession(int8.OnnxModel!);
        CollectionAssert.AreEqual(Run(fromMemory), Run(fromFile));
    }
}
