using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Compression.Scoring;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Networks whose inputs declare a free sequence dimension, as exported text encoders do (<c>input_ids</c>
/// [batch, sequence]): the compressed model scores them through <c>Transform</c>, a PredictionEngine and the saved
/// zip loaded by plain ML.NET, with the sequence length read from the data column. The token-id fixture with its
/// inputs re-declared [batch, sequence] must give exactly the scores of the same compression of the fixture as
/// shipped ([batch, 128]).
/// </summary>
[TestClass]
public sealed class FreeSequenceInputTests
{
    private sealed class Logits
    {
        [ColumnName("Score")] public float[] Score { get; set; } = Array.Empty<float>();
    }

    [TestMethod]
    public void ColumnSizeFixesOneFreeDimensionBesidesTheBatch()
    {
        CollectionAssert.AreEqual(new long[] { 64 }, InputRowShapes.Resolve(new long[] { -1, -1 }, 64));
        CollectionAssert.AreEqual(new long[] { 64, 384 }, InputRowShapes.Resolve(new long[] { 0, -1, 384 }, 64 * 384));
        CollectionAssert.AreEqual(new long[] { 3, 8 }, InputRowShapes.Resolve(new long[] { 1, 3, -1 }, 24), "a fixed batch of 1 is kept by the caller");
        Assert.IsNull(InputRowShapes.Resolve(new long[] { -1, 128 }, 128), "nothing free besides the batch: nothing to resolve");
        Assert.IsNull(InputRowShapes.Resolve(new long[] { -1, 3, -1, -1 }, 3 * 28 * 28), "height and width both free: the size cannot tell them apart");
        Assert.IsNull(InputRowShapes.Resolve(new long[] { -1, -1, 5 }, 12), "12 values are no whole number of rows of 5");
        Assert.IsNull(InputRowShapes.Resolve(new long[] { -1 }, 1));
    }

    [TestMethod]
    [TestCategory("Slow")] // about 6 s: two quantizations of the fixture
    public void AFreeSequenceIsScoredAsTheShippedFixedShapeEverywhere()
    {
        var ml = new MLContext(seed: 1);
        var calib = ml.Data.Cache(TestData.SpamTokenIds(ml, "spamassassin_tokens_calib_512.csv", 128));
        var test = ml.Data.Cache(TestData.SpamTokenIds(ml, "spamassassin_tokens_test_1000.csv", 200));
        string fixedPath = TestData.Network("spam_token_transformer");
        string folder = Directory.CreateTempSubdirectory("mlcompression-free-sequence-").FullName;
        try
        {
            // The fixture with both inputs declared [batch, sequence], as a Hugging Face export declares them.
            var model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixedPath));
            foreach (var input in model.Graph.Input)
                input.Type.TensorType.Shape.Dim[1] = new global::Onnx.TensorShapeProto.Types.Dimension { DimParam = "sequence" };
            string freePath = Path.Combine(folder, "free.onnx");
            File.WriteAllBytes(freePath, model.ToByteArray());

            // Weight-only INT8: each row's scores do not depend on the rows batched with it (dynamic INT8's
            // activation ranges do), so Transform, the PredictionEngine and the saved zip must all agree.
            var options = new QuantizationOptions { Precision = Precision.Int8 };
            using var shipped = ml.Compression().Quantize(fixedPath, options).Fit(calib);
            using var free = ml.Compression().Quantize(freePath, options).Fit(calib);
            var expected = TestData.Logits(shipped, test);
            AssertSame(expected, TestData.Logits(free, test), "Transform");

            var row = ml.Data.CreateEnumerable<TestData.TokenRow>(test, reuseRowObject: false).First();
            long before = free.SingleRowRuns;
            using (var engine = ml.Model.CreatePredictionEngine<TestData.TokenRow, Logits>(free, new PredictionEngineOptions { OwnsTransformer = false }))
                AssertSame(new[] { expected[0] }, new[] { engine.Predict(row).Score }, "PredictionEngine");
            Assert.AreEqual(before + 1, free.SingleRowRuns, "the row ran on the model's own ONNX Runtime session (sized from the column), not row by row in OnnxTransformer");

            string zip = Path.Combine(folder, "free.zip");
            ml.Model.Save(free, calib.Schema, zip);
            var app = new MLContext();
            var loaded = app.Model.Load(zip, out _);
            try { AssertSame(expected, TestData.Logits(loaded, test), "the saved zip in plain ML.NET"); }
            finally { (loaded as IDisposable)?.Dispose(); }
            using var reloaded = ml.Compression().LoadModel(zip, out _);
            AssertSame(expected, TestData.Logits(reloaded, test), "the saved zip through LoadModel");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void AssertSame(float[][] expected, float[][] actual, string path)
    {
        Assert.AreEqual(expected.Length, actual.Length, path);
        for (int r = 0; r < expected.Length; r++)
            for (int c = 0; c < expected[r].Length; c++)
                Assert.AreEqual(expected[r][c], actual[r][c], 1e-4f, $"{path}: row {r}, logit {c}");
    }
}
