using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Compression.MlNet;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// A large network's result builds its ML.NET chain (an OnnxTransformer: an ONNX Runtime session of the whole graph)
/// only when something needs it (<see cref="CompressedModel.Deferred"/>): until then it answers for schemas through a
/// weightless stand-in and scores through the batch scorer. It must score, save and clean up as a model built with
/// its chain does. Shown on a small network, made deferred as a Fit makes a large one.
/// </summary>
[TestClass]
public sealed class DeferredChainTests
{
    public sealed class SpamRow
    {
        public string Label { get; set; } = "";
        [VectorType(57)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class NetworkOutput
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [TestMethod]
    [TestCategory("Slow")] // seconds: ONNX Runtime sessions of spam_mlp, a save and a load
    public void ADeferredModelScoresAndSavesAsTheBuiltOneAndBuildsItsChainOnlyWhenNeeded()
    {
        InPrivateTempFolder(folder =>
        {
            var ml = new MLContext(seed: 1) { TempFilePath = folder };
            var data = TestData.Head(ml, TestData.Spam(ml), 64);
            using (var built = QuantizedSpamMlp(ml, data))
            {
                Assert.IsTrue(built.ChainBuilt, "a small network's chain is built at Fit");
                var network = (NetworkState)built.State!;
                var deferred = CompressedModel.Deferred(ml, network, data, built.Report)!;
                try
                {
                    Assert.IsFalse(deferred.ChainBuilt);
                    CollectionAssert.AreEqual(Columns(built.GetOutputSchema(data.Schema)), Columns(deferred.GetOutputSchema(data.Schema)));
                    CollectionAssert.AreEqual(TestData.Logits(built, data).SelectMany(r => r).ToArray(), TestData.Logits(deferred, data).SelectMany(r => r).ToArray());
                    var row = ml.Data.CreateEnumerable<SpamRow>(data, reuseRowObject: false).First();
                    var shared = new PredictionEngineOptions { OwnsTransformer = false };
                    using (var engine = ml.Model.CreatePredictionEngine<SpamRow, NetworkOutput>(deferred, shared))
                    using (var expected = ml.Model.CreatePredictionEngine<SpamRow, NetworkOutput>(built, shared))
                        CollectionAssert.AreEqual(expected.Predict(row).Score, engine.Predict(row).Score);
                    Assert.IsFalse(deferred.ChainBuilt, "schemas, Transform and PredictionEngines run without the chain");

                    var expectedZip = Saved(ml, built, data);
                    var zip = SaveZip(ml, deferred, data);
                    var actualZip = Entries(zip);
                    CollectionAssert.AreEqual(expectedZip.Select(e => e.Name).ToArray(), actualZip.Select(e => e.Name).ToArray());
                    for (int i = 0; i < expectedZip.Length; i++)
                        CollectionAssert.AreEqual(expectedZip[i].Content, actualZip[i].Content, $"{expectedZip[i].Name}: what the built chain saves");
                    var loaded = ml.Model.Load(new MemoryStream(zip), out _);
                    CollectionAssert.AreEqual(TestData.Logits(built, data).SelectMany(r => r).ToArray(), TestData.Logits(loaded, data).SelectMany(r => r).ToArray(), "ML.NET loads the saved zip");
                    (loaded as IDisposable)?.Dispose();

                    Assert.IsFalse(deferred.ChainBuilt, "a save builds the chain for itself and lets it go");
                    CollectionAssert.AreEqual(TestData.Logits(built, data).SelectMany(r => r).ToArray(), TestData.Logits(deferred, data).SelectMany(r => r).ToArray(), "scores after a save");
                    Assert.IsInstanceOfType<OnnxTransformer>(deferred.Transformers.LastTransformer);
                    Assert.IsTrue(deferred.ChainBuilt);
                }
                finally { deferred.Dispose(); }
                Assert.ThrowsExactly<ObjectDisposedException>(() => deferred.Transform(data));
            }
            Assert.AreEqual(0, Directory.GetFiles(folder).Length, "no temporary file outlives the models");
        });
    }
    [TestMethod]
    [TestCategory("Slow")] // seconds: ONNX Runtime sessions of spam_mlp, a save and a load
    public void ADeferredModelDisposedBeforeItsChainIsBuiltLeavesNoFile()
    {
        InPrivateTempFolder(folder =>
        {
            var ml = new MLContext(seed: 1) { TempFilePath = folder };
            var data = TestData.Head(ml, TestData.Spam(ml), 16);
            using (var built = QuantizedSpamMlp(ml, data))
            using (var deferred = CompressedModel.Deferred(ml, (NetworkState)built.State!, data, built.Report)!)
                TestData.Logits(deferred, data);
            Assert.AreEqual(0, Directory.GetFiles(folder).Length);
        });
    }

    [TestMethod]
    [TestCategory("Slow")] // seconds: a 64 MB network quantized, saved, loaded twice
    public void ALargeSavedNetworkLoadsWithoutItsChainAndScoresAndSavesAsTheFullLoad()
    {
        InPrivateTempFolder(folder =>
        {
            var ml = new MLContext(seed: 1) { TempFilePath = folder };
            var data = TestData.Head(ml, TestData.Spam(ml), 32);
            var modelFolder = Directory.CreateDirectory(Path.Combine(folder, "model")).FullName;
            byte[] zip;
            string reportJson;
            using (var compressed = ml.Compression().Quantize(WriteLargeModel(modelFolder), new QuantizationOptions { Precision = Precision.Int8 }).Fit(data))
            {
                Assert.IsFalse(compressed.ChainBuilt, "a large result is deferred at Fit");
                zip = SaveZip(ml, compressed, data);
                reportJson = compressed.Report.ToJson();
            }
            using (var loaded = ml.Compression().LoadModel(new MemoryStream(zip), out var inputSchema))
            {
                Assert.IsFalse(loaded.ChainBuilt, "LoadModel of a large graph loads a stand-in chain");
                Assert.AreEqual(reportJson, loaded.Report.ToJson());
                var plain = ml.Model.Load(new MemoryStream(zip), out var plainSchema);
                try
                {
                    CollectionAssert.AreEqual(Columns(plainSchema), Columns(inputSchema));
                    CollectionAssert.AreEqual(Columns(plain.GetOutputSchema(data.Schema)), Columns(loaded.GetOutputSchema(data.Schema)));
                    CollectionAssert.AreEqual(TestData.Logits(plain, data).SelectMany(r => r).ToArray(), TestData.Logits(loaded, data).SelectMany(r => r).ToArray());
                }
                finally { (plain as IDisposable)?.Dispose(); }
                var expected = Entries(zip);
                var saved = Entries(SaveZip(ml, loaded, data));
                CollectionAssert.AreEqual(expected.Select(e => e.Name).ToArray(), saved.Select(e => e.Name).ToArray());
                for (int i = 0; i < expected.Length; i++)
                    CollectionAssert.AreEqual(expected[i].Content, saved[i].Content, $"{expected[i].Name}: what the loaded zip holds");
                Assert.IsFalse(loaded.ChainBuilt, "scoring and saving need no chain");
                Assert.IsInstanceOfType<OnnxTransformer>(loaded.Transformers.LastTransformer);
                Assert.IsTrue(loaded.ChainBuilt);
            }
            Directory.Delete(modelFolder, recursive: true);
            Assert.AreEqual(0, Directory.GetFiles(folder).Length, "no temporary file outlives the models");
        });
    }

    /// <summary>spam_mlp with a 2048×8192 float initializer more (64 MB of random values, unused by the graph's nodes): a large network.</summary>
    private static string WriteLargeModel(string folder)
    {
        var model = Onnx.OnnxModelIO.Load(TestData.Network("spam_mlp"));
        var values = new float[2048 * 8192];
        var random = new Random(5);
        for (int i = 0; i < values.Length; i++) values[i] = random.NextSingle() - 0.5f;
        var ballast = new global::Onnx.TensorProto { Name = "ballast", DataType = (int)global::Onnx.TensorProto.Types.DataType.Float, Dims = { 2048, 8192 } };
        ballast.RawData = Google.Protobuf.ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        model.Graph.Initializer.Add(ballast);
        var path = Path.Combine(folder, "large.onnx");
        using (var file = File.Create(path)) Google.Protobuf.MessageExtensions.WriteTo(model, file);
        return path;
    }

    private static string[] Columns(DataViewSchema schema) => schema.Select(c => $"{c.Name}:{c.Type}:{c.IsHidden}").ToArray();

    private static byte[] SaveZip(MLContext ml, ITransformer model, IDataView data)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(model, data.Schema, zip);
        return zip.ToArray();
    }

    /// <summary>The saved zip's entries, name and content (a zip's own bytes hold the time it was written).</summary>
    private static (string Name, byte[] Content)[] Saved(MLContext ml, ITransformer model, IDataView data) => Entries(SaveZip(ml, model, data));

    private static (string Name, byte[] Content)[] Entries(byte[] zip)
    {
        using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        return archive.Entries.Select(e =>
        {
            using var s = e.Open();
            using var content = new MemoryStream();
            s.CopyTo(content);
            return (e.FullName, content.ToArray());
        }).ToArray();
    }

    /// <summary>Runs <paramref name="test"/> with a temp folder of its own (ML.NET's TempFilePath), deleted after it: files left in it are the test's.</summary>
    private static void InPrivateTempFolder(Action<string> test)
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlcompression-deferred-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try { test(folder); }
        finally { Directory.Delete(folder, recursive: true); }
    }

    /// <summary>spam_mlp quantized INT8 (weight-only): a small network, so its chain is built at Fit.</summary>
    private static CompressedModel QuantizedSpamMlp(MLContext ml, IDataView data)
        => ml.Compression().Quantize(TestData.Network("spam_mlp"), new QuantizationOptions { Precision = Precision.Int8 }).Fit(data);
}
