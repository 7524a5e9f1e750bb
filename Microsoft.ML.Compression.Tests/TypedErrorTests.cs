using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Compression.Fuzzing;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Every bad model, zip or report ends in one exception under <see cref="CompressionException"/>, with the
/// underlying error (ONNX Runtime's, the zip reader's, the JSON parser's) as its inner exception.
/// </summary>
[TestClass]
public sealed class TypedErrorTests
{
    private static MLContext _ml = null!;
    private static IDataView _data = null!;
    private static byte[] _spamZip = null!;
    private static string SpamMlp => TestData.Network("spam_mlp");

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _data = TestData.Head(_ml, _ml.Data.ShuffleRows(TestData.Spam(_ml), seed: 1), 200);
        using var model = _ml.Compression().Quantize(SpamMlp).Fit(_data);
        using var zip = new MemoryStream();
        _ml.Model.Save(model, _data.Schema, zip);
        _spamZip = zip.ToArray();
    }

    private static ModelProto Spam() => ModelProto.Parser.ParseFrom(File.ReadAllBytes(SpamMlp));

    private static InvalidModelException Rejected(ModelProto model)
        => Assert.ThrowsExactly<InvalidModelException>(() => _ml.Compression().Quantize(new MemoryStream(model.ToByteArray())));

    [TestMethod]
    public void ANetworkWhoseInputShapeDoesNotFitTheColumnIsADataMismatchWhenItIsScored()
    {
        // A fixed batch of 1000 rows declared: the graph loads, and nothing refuses it until ONNX Runtime runs it on
        // rows (the report's accuracy of a pruned network, the teacher's scores of a distillation).
        var model = Spam();
        model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimValue = 1000;
        var bytes = model.ToByteArray();
        var prune = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Prune(new MemoryStream(bytes), new PruningOptions { TargetSparsity = 0.5 }).Fit(_data));
        StringAssert.Contains(prune.Message, "1000", "the message names the shape");
        var student = _ml.Transforms.Concatenate("Features", TestData.SpamFeatures).Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5));
        Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Distill(new MemoryStream(bytes), student).Fit(_data));
    }

    [TestMethod]
    public void DataMismatchIsACompressionException()
    {
        var wrong = _ml.Transforms.DropColumns("Features").Fit(_data).Transform(_data);
        var e = Assert.Throws<CompressionException>(() => _ml.Compression().Prune(SpamMlp).Fit(wrong));
        Assert.IsInstanceOfType<DataMismatchException>(e);
        Assert.AreEqual("Features", ((DataMismatchException)e).ColumnName);
    }

    [TestMethod]
    public void TensorsWhoseStorageDoesNotMatchTheirDeclarationAreRejectedBeforeEditing()
    {
        var weight = Spam().Graph.Initializer.First(t => t.Dims.Count == 2).Name;
        ModelProto With(Action<ModelProto> change) { var m = Spam(); change(m); return m; }
        TensorProto W(ModelProto m) => m.Graph.Initializer.First(t => t.Name == weight);

        Rejected(With(m => W(m).FloatData.Add(1f)));                                                    // raw_data and float_data
        Rejected(With(m => W(m).RawData = ByteString.CopyFrom(W(m).RawData.Span[..^4])));                 // one value short
        Rejected(With(m => W(m).Dims[0] = -W(m).Dims[0]));                                              // negative dimension
        Rejected(With(m => W(m).DataType = 99));                                                        // no such type
        Rejected(With(m => W(m).DataType = 7));                                                         // int64 of a float's bytes
        Rejected(With(m => m.Graph.Initializer.Add(W(m).Clone())));                                     // duplicate name
        Rejected(With(m => { W(m).RawData = ByteString.Empty; }));                                       // no values at all
        Rejected(With(m => m.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue = 0));                // input of width 0
        Rejected(With(m => m.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue = -3));               // negative width
    }

    [TestMethod]
    public void GraphsOnnxRuntimeRejectsKeepItsErrorAsTheInnerException()
    {
        var model = Spam();
        model.Graph.Node[0].OpType = "NoSuchOperator";
        var e = Rejected(model);
        Assert.IsInstanceOfType<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(e.InnerException);
    }

    [TestMethod]
    public void CorruptOrForeignZipsGivenToLoadModelAreTypedErrors()
    {
        var random = new byte[4096];
        new Random(7).NextBytes(random);
        var foreign = new MemoryStream();
        using (var zip = new ZipArchive(foreign, ZipArchiveMode.Create, leaveOpen: true))
        using (var w = new StreamWriter(zip.CreateEntry("hello.txt").Open()))
            w.Write("not a model");
        var damaged = (byte[])_spamZip.Clone();
        // 64 bytes flipped at a third, a half and two thirds: some header fields are never checked, so one spot could miss.
        foreach (int at in new[] { damaged.Length / 3, damaged.Length / 2, 2 * damaged.Length / 3 })
            for (int i = at; i < at + 64; i++) damaged[i] ^= 0x5A;

        foreach (var (name, bytes) in new[] { ("random bytes", random), ("truncated", _spamZip[..(_spamZip.Length / 2)]), ("foreign zip", foreign.ToArray()), ("damaged", damaged), ("empty", Array.Empty<byte>()) })
        {
            var e = Assert.Throws<CompressionException>(() => _ml.Compression().LoadModel(new MemoryStream(bytes), out _), name);
            Assert.IsTrue(e is CorruptSavedModelException or InvalidModelException, $"{name}: {e.GetType().Name}");
        }
        // The intact zip still loads.
        using var loaded = _ml.Compression().LoadModel(new MemoryStream(_spamZip), out _);
        Assert.AreEqual(200, TestData.Scores(loaded.Transform(_data)).Length);
    }

    [TestMethod]
    public void ADamagedEntryIsCaughtByItsChecksumBeforeMlNetReadsIt()
    {
        // The graph entry stored uncompressed, so that a changed weight byte is still a well-formed zip and graph:
        // only the CRC-32 the zip keeps for the entry tells (ML.NET's loader checks none, and read for ever on one
        // damaged zip of the fuzz tests).
        var stored = Mutations.RewriteZip(_spamZip, archive =>
        {
            var entry = archive.Entries.Last(e => e.Name == "OnnxModel");
            var name = entry.FullName;
            var bytes = new MemoryStream();
            using (var s = entry.Open()) s.CopyTo(bytes);
            entry.Delete();
            using (var s = archive.CreateEntry(name, CompressionLevel.NoCompression).Open()) s.Write(bytes.ToArray());
            return name;
        });
        using (var intact = _ml.Compression().LoadModel(new MemoryStream(stored), out _))
            Assert.AreEqual(200, TestData.Scores(intact.Transform(_data)).Length);
        int at = IndexOf(stored, Spam().Graph.Initializer.First(t => t.RawData.Length >= 64).RawData.Span[..32].ToArray());
        Assert.IsTrue(at > 0, "the weights are in the zip as they are");
        var damaged = (byte[])stored.Clone();
        damaged[at + 1] ^= 0x01;
        var e = Assert.ThrowsExactly<CorruptSavedModelException>(() => _ml.Compression().LoadModel(new MemoryStream(damaged), out _));
        StringAssert.Contains(e.Message, "CRC-32");
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        return -1;
    }

    [TestMethod]
    public void ALoadedGraphThatRefusesItsColumnIsADataMismatchWhenScored()
    {
        // The saved graph declares 56 x 57 inputs (a fixed batch) or one value per row where the column holds 57:
        // OnnxTransformer refuses the first when the view is made, the second only when rows are read.
        foreach (var dims in new[] { new long[] { 56, 57 }, new long[] { -1, 1 } })
        {
            var zip = Mutations.RewriteOnnx(_spamZip, model =>
            {
                var shape = model.Graph.Input[0].Type.TensorType.Shape;
                shape.Dim.Clear();
                foreach (var d in dims) shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
                return "input shape";
            });
            using var loaded = _ml.Compression().LoadModel(new MemoryStream(zip), out _);
            var e = Assert.ThrowsExactly<DataMismatchException>(() => TestData.Scores(loaded.Transform(_data)), string.Join(",", dims));
            Assert.IsNotNull(e.InnerException, "ML.NET's or ONNX Runtime's error is kept");
        }
    }

    [TestMethod]
    public void ReportsRoundTripInfinitiesAndNaN()
    {
        var report = new CompressionReport
        {
            Task = ModelTask.Network,
            Stages = new[]
            {
                new StageReport { Stage = "Original", Description = "x", ZipBytes = 10, Metric = double.PositiveInfinity },
                new StageReport
                {
                    Stage = "Quantize", Description = "y", ZipBytes = 5, ScoreMse = double.NaN, Metric = double.NegativeInfinity,
                    TensorErrors = new[] { new TensorError { Name = "w", SqnrDb = double.NegativeInfinity } },
                },
            },
        };
        var back = CompressionReport.FromJson(report.ToJson());
        Assert.AreEqual(double.PositiveInfinity, back.Original.Metric);
        Assert.AreEqual(double.NegativeInfinity, back.Final.Metric);
        Assert.IsTrue(double.IsNaN(back.Final.ScoreMse!.Value));
        Assert.AreEqual(double.NegativeInfinity, back.Final.TensorErrors![0].SqnrDb);
    }

    [TestMethod]
    public void MalformedReportsAreTypedErrors()
    {
        var good = new CompressionReport { Task = ModelTask.Regression, Stages = new[] { new StageReport { Stage = "Original", Description = "d", ZipBytes = 3, ParameterCount = 4, NonZeroCount = 2 } } }.ToJson();
        foreach (var json in new[]
        {
            "", "null", "[1,2]", "{", "{}", """{"Stages":[]}""", """{"Stages":[null]}""",
            good.Replace("\"ZipBytes\": 3", "\"ZipBytes\": -3"), good.Replace("\"NonZeroCount\": 2", "\"NonZeroCount\": 9"),
            good.Replace("\"Regression\"", "\"NoSuchTask\""), good.Replace("\"Regression\"", "77"),
        })
            Assert.ThrowsExactly<CorruptSavedModelException>(() => CompressionReport.FromJson(json), json);
        Assert.AreEqual(2, CompressionReport.FromJson(good).Original.NonZeroCount);
    }
}
