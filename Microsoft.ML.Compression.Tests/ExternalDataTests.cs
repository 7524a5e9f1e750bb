using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// ONNX models that keep weights in other files: read from the model's own folder for Prune and Quantize, never from
/// anywhere else. The "outside" sentinel is a named pipe where the OS has them: opening it blocks, so a stage that
/// even tried to read it would hang instead of failing, and the test would time out.
/// </summary>
[TestClass]
public sealed class ExternalDataTests
{
    private static MLContext _ml = null!;
    private static IDataView _data = null!;
    private static string SpamMlp => TestData.Network("spam_mlp");

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _data = TestData.Head(_ml, _ml.Data.ShuffleRows(TestData.Spam(_ml), seed: 1), 300);
    }

    private sealed class Folder : IDisposable
    {
        public string Root { get; } = Path.Combine(Path.GetTempPath(), "mlcompression-externaldata-" + Guid.NewGuid().ToString("N"));
        public Folder() => Directory.CreateDirectory(Root);
        public string this[string relative] => Path.Combine(Root, relative);
        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    /// <summary>spam_mlp with every float initializer moved to <paramref name="dataFile"/> (relative to the model), at growing offsets.</summary>
    private static string WriteExternal(string folder, string dataFile, Func<int, string>? locationOf = null)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SpamMlp));
        var dataPath = Path.Combine(folder, dataFile);
        Directory.CreateDirectory(Path.GetDirectoryName(dataPath)!);
        using (var data = File.Create(dataPath))
        {
            int i = 0;
            foreach (var t in model.Graph.Initializer.Where(t => t.DataType == 1 && t.RawData.Length > 0))
            {
                data.Write(new byte[16]); // padding, so that offsets matter
                long offset = data.Position;
                data.Write(t.RawData.Span);
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = locationOf?.Invoke(i) ?? dataFile });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
                t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.RawData.Length.ToString() });
                t.DataLocation = TensorProto.Types.DataLocation.External;
                t.RawData = ByteString.Empty;
                i++;
            }
        }
        var path = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static bool HasExternal(byte[] onnx)
        => ModelProto.Parser.ParseFrom(onnx).Graph.Initializer.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External);

    [TestCategory("Slow")]
    [TestMethod]
    public void WeightsBesideTheModelArePrunedAndQuantizedLikeInlineOnesAndTheOutputShipsThem()
    {
        using var folder = new Folder();
        var path = WriteExternal(folder.Root, Path.Combine("weights", "spam.bin"));
        var pruning = new PruningOptions { TargetSparsity = 0.5 };

        using var inlinePruned = _ml.Compression().Prune(SpamMlp, pruning).Fit(_data);
        using var externalPruned = _ml.Compression().Prune(path, pruning).Fit(_data);
        using var inlineInt8 = _ml.Compression().Quantize(SpamMlp).Fit(_data);
        using var stream = File.OpenRead(path); // a FileStream: its file's folder holds the data
        using var externalInt8 = _ml.Compression().Quantize(stream).Fit(_data);

        CollectionAssert.AreEqual(TestData.Scores(inlinePruned.Transform(_data)), TestData.Scores(externalPruned.Transform(_data)));
        CollectionAssert.AreEqual(TestData.Scores(inlineInt8.Transform(_data)), TestData.Scores(externalInt8.Transform(_data)));
        Assert.AreEqual(inlinePruned.Report.Final.NonZeroCount, externalPruned.Report.Final.NonZeroCount);
        Assert.IsFalse(HasExternal(externalPruned.OnnxModel!), "the pruned model refers to a file it does not ship");
        Assert.IsFalse(HasExternal(externalInt8.OnnxModel!), "the quantized model refers to a file it does not ship");

        // Saved, moved away from the data file and loaded: it still runs.
        using var zip = new MemoryStream();
        _ml.Model.Save(externalInt8, _data.Schema, zip);
        Directory.Delete(Path.Combine(folder.Root, "weights"), recursive: true);
        zip.Position = 0;
        using var loaded = _ml.Compression().LoadModel(zip, out _);
        CollectionAssert.AreEqual(TestData.Scores(inlineInt8.Transform(_data)), TestData.Scores(loaded.Transform(_data)));
    }

    [TestMethod]
    public void ExternalDataFromAStreamWithoutAFolderIsATypedError()
    {
        using var folder = new Folder();
        var path = WriteExternal(folder.Root, "spam.bin");
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Quantize(new MemoryStream(File.ReadAllBytes(path))));
        StringAssert.Contains(e.Message, "FileStream");
    }

    [TestMethod]
    public void DataFilesThatDoNotMatchTheTensorAreTypedErrors()
    {
        using var folder = new Folder();
        var path = WriteExternal(folder.Root, "spam.bin");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var first = model.Graph.Initializer.First(t => t.DataLocation == TensorProto.Types.DataLocation.External);

        void Expect(Action<TensorProto> change)
        {
            var broken = model.Clone();
            change(broken.Graph.Initializer.First(t => t.Name == first.Name));
            File.WriteAllBytes(path, broken.ToByteArray());
            Assert.ThrowsExactly<InvalidModelException>(() => _ml.Compression().Prune(path));
        }
        Expect(t => t.ExternalData.First(e => e.Key == "length").Value = "4");                  // not the tensor's size
        Expect(t => t.ExternalData.First(e => e.Key == "offset").Value = "999999999");          // past the end
        Expect(t => t.ExternalData.First(e => e.Key == "offset").Value = "-8");                 // negative
        Expect(t => t.ExternalData.First(e => e.Key == "location").Value = "missing.bin");      // no such file
        Expect(t => t.ExternalData.First(e => e.Key == "location").Value = "");                 // no location
        Expect(t => t.RawData = ByteString.CopyFrom(new byte[4]));                             // values of its own too
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    /// <summary>A named pipe where the OS has them (opening it blocks), else a plain file.</summary>
    private static void MakeSentinel(string path)
    {
        if ((OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && mkfifo(path, Convert.ToUInt32("600", 8)) == 0) return;
        File.WriteAllBytes(path, new byte[1 << 16]);
    }

    [TestMethod]
    public void LocationsOutsideTheModelsFolderAreRefusedBeforeAnyFileIsOpened()
    {
        using var outside = new Folder();
        var sentinel = outside["sentinel.bin"];
        MakeSentinel(sentinel);
        Directory.CreateDirectory(outside["dir"]);
        MakeSentinel(outside[Path.Combine("dir", "sentinel.bin")]);

        var hostile = new (string name, Func<int, string> location, Action<string>? setUp)[]
        {
            ("parent", _ => "../sentinel.bin", null),
            ("down and up", _ => "weights/../../sentinel.bin", null),
            ("absolute", _ => sentinel, null),
            ("file link", _ => "link.bin", model => File.CreateSymbolicLink(Path.Combine(model, "link.bin"), sentinel)),
            ("folder link", _ => "linked/sentinel.bin", model => Directory.CreateSymbolicLink(Path.Combine(model, "linked"), outside["dir"])),
            ("one tensor of several", i => i == 0 ? "spam.bin" : "../sentinel.bin", null),
        };
        foreach (var (name, location, setUp) in hostile)
        {
            // The model folder sits inside the outside folder, so that "../sentinel.bin" names the sentinel.
            var modelFolder = outside[Guid.NewGuid().ToString("N")];
            Directory.CreateDirectory(modelFolder);
            var path = WriteExternal(modelFolder, "spam.bin", location);
            setUp?.Invoke(modelFolder);
            var fit = Task.Run(() => _ml.Compression().Quantize(path).Fit(_data));
            bool finished = ((IAsyncResult)fit).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(30));
            if (!finished)
            {
                using (File.OpenWrite(sentinel)) { } // releases the blocked reader
                Assert.Fail($"{name}: the stage opened the sentinel outside the model's folder.");
            }
            Assert.IsInstanceOfType<InvalidModelException>(fit.Exception?.InnerException, $"{name}: {fit.Exception?.InnerException}");
        }
    }
}
