using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// A PredictionEngine made from a CompressedModel scores its ONNX graph one row per ONNX Runtime call through this
/// library's mapper (not OnnxTransformer's); its outputs must be those of the standard chain, row for row.
/// </summary>
[TestClass]
public sealed class PredictionEngineTests
{
    private static MLContext _ml = null!;
    private static IDataView _spamTrain = null!, _spamTest = null!;

    private static readonly PredictionEngineOptions Shared = new() { OwnsTransformer = false };

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_spamTrain, _spamTest) = TestData.Split(_ml, TestData.SpamBool(_ml));
    }

    public sealed class SpamRow
    {
        public bool Label { get; set; }
        [VectorType(57)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class BinaryOutput
    {
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
    }

    public sealed class LetterRow
    {
        public string Label { get; set; } = "";
        [VectorType(16)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class MulticlassOutput
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
    }

    public sealed class CpsRow
    {
        public float Label { get; set; }
        public float education { get; set; }
        public float experience { get; set; }
        public string ethnicity { get; set; } = "";
        public string smsa { get; set; } = "";
        public string region { get; set; } = "";
        public string parttime { get; set; } = "";
    }

    public sealed class RegressionOutput
    {
        public float Score { get; set; }
    }

    public sealed class NetworkOutput
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    private static void AssertClose(float expected, float actual, string what)
        => Assert.AreEqual(expected, actual, 1e-5 * Math.Max(1, Math.Abs(expected)), what);

    /// <summary>
    /// Every row of <paramref name="data"/> through an engine of <paramref name="model"/> and one of its standard chain;
    /// <paramref name="compare"/> asserts the two outputs equal. Also: the model's engine took the single-row path, one
    /// ONNX Runtime call per row, and the chain's engine did not.
    /// </summary>
    private static void AssertEnginesAgree<TIn, TOut>(CompressedModel model, IDataView data, Action<TOut, TOut, string> compare)
        where TIn : class, new() where TOut : class, new()
    {
        AssertSameSchema(((ITransformer)model.Transformers).GetRowToRowMapper(data.Schema).OutputSchema, model.GetRowToRowMapper(data.Schema).OutputSchema);
        var mapper = (ChainedRowMapper)model.GetRowToRowMapper(data.Schema);
        Assert.AreEqual(1, mapper.Mappers.Count(m => m is SingleRowOnnxMapper));

        using var fast = _ml.Model.CreatePredictionEngine<TIn, TOut>(model, Shared);
        using var chain = _ml.Model.CreatePredictionEngine<TIn, TOut>(model.Transformers, Shared);
        var rows = _ml.Data.CreateEnumerable<TIn>(data, reuseRowObject: false).ToList();
        long before = model.SingleRowRuns;
        for (int i = 0; i < rows.Count; i++) compare(chain.Predict(rows[i]), fast.Predict(rows[i]), $"row {i}");
        Assert.AreEqual(rows.Count, model.SingleRowRuns - before, "one single-row ONNX Runtime call per row of the model's engine, none for the chain's");
        Assert.IsTrue(rows.Count >= 100, $"{rows.Count} rows");
    }

    /// <summary>Same columns in the same order: names, types, hidden or not, annotations (kinds, types, key values).</summary>
    private static void AssertSameSchema(DataViewSchema expected, DataViewSchema actual)
    {
        Assert.AreEqual(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.AreEqual(e.Name, a.Name, $"column {i}");
            Assert.AreEqual(e.Type, a.Type, e.Name);
            Assert.AreEqual(e.IsHidden, a.IsHidden, e.Name);
            CollectionAssert.AreEqual(e.Annotations.Schema.Select(c => (c.Name, c.Type.ToString())).ToArray(),
                a.Annotations.Schema.Select(c => (c.Name, c.Type.ToString())).ToArray(), e.Name);
            if (e.Annotations.Schema.GetColumnOrNull("KeyValues") is { Type: VectorDataViewType { ItemType: TextDataViewType } })
            {
                VBuffer<ReadOnlyMemory<char>> x = default, y = default;
                e.GetKeyValues(ref x);
                a.GetKeyValues(ref y);
                CollectionAssert.AreEqual(x.DenseValues().Select(v => v.ToString()).ToArray(), y.DenseValues().Select(v => v.ToString()).ToArray(), e.Name);
            }
        }
    }

    private static void SameBinary(BinaryOutput e, BinaryOutput a, string row)
    {
        AssertClose(e.Score, a.Score, $"Score, {row}");
        AssertClose(e.Probability, a.Probability, $"Probability, {row}");
        Assert.AreEqual(e.PredictedLabel, a.PredictedLabel, $"PredictedLabel, {row}");
    }

    private static void SameVector(float[] e, float[] a, string what)
    {
        Assert.AreEqual(e.Length, a.Length, what);
        for (int j = 0; j < e.Length; j++) AssertClose(e[j], a[j], $"{what}, slot {j}");
    }

    [TestMethod]
    [TestCategory("Slow")] // about a second in the fast tier, which read 62 s in CI
    public void PrunedTreeEngineEqualsTheChainsEngineOnEveryRow()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 40, numberOfLeaves: 8).Fit(_spamTrain);
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(_spamTrain);
        AssertEnginesAgree<SpamRow, BinaryOutput>(pruned, _spamTest, SameBinary);
    }

    [TestMethod]
    public void QuantizedLinearEngineEqualsTheChainsEngineOnEveryRow()
    {
        var teacher = _ml.Transforms.NormalizeMinMax("Features")
            .Append(_ml.BinaryClassification.Trainers.LbfgsLogisticRegression()).Fit(_spamTrain);
        using var quantized = _ml.Compression().Quantize(teacher, new QuantizationOptions { Form = ModelForm.Onnx }).Fit(_spamTrain);
        AssertEnginesAgree<SpamRow, BinaryOutput>(quantized, _spamTest, SameBinary);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MulticlassEngineKeepsKeyPredictedLabelAndScores()
    {
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfLeaves: 8, numberOfIterations: 10)).Fit(train);
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(train);
        Assert.IsInstanceOfType<KeyDataViewType>(pruned.GetRowToRowMapper(test.Schema).OutputSchema["PredictedLabel"].Type);
        AssertEnginesAgree<LetterRow, MulticlassOutput>(pruned, TestData.Head(_ml, test, 500), (e, a, row) =>
        {
            SameVector(e.Score, a.Score, $"Score, {row}");
            Assert.AreEqual(e.PredictedLabel, a.PredictedLabel, $"PredictedLabel, {row}");
        });
    }

    [TestMethod]
    public void RegressionEngineWithCategoricalFeaturizationEqualsTheChainsEngine()
    {
        var (train, test) = TestData.Split(_ml, TestData.Cps(_ml));
        var featurize = _ml.Transforms.Categorical.OneHotEncoding(new[]
            {
                new InputOutputColumnPair("ethnicity"), new InputOutputColumnPair("smsa"),
                new InputOutputColumnPair("region"), new InputOutputColumnPair("parttime"),
            })
            .Append(_ml.Transforms.Concatenate("Features", "education", "experience", "ethnicity", "smsa", "region", "parttime"));
        var teacher = featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 40, numberOfLeaves: 8)).Fit(train);
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(train);
        AssertEnginesAgree<CpsRow, RegressionOutput>(pruned, TestData.Head(_ml, test, 500),
            (e, a, row) => AssertClose(e.Score, a.Score, $"Score, {row}"));
    }

    [TestMethod]
    public void QuantizedNetworkEngineEqualsTheChainsEngine()
    {
        var letter = TestData.Head(_ml, TestData.Letter(_ml), 300);
        using var int8 = _ml.Compression().Quantize(TestData.Network("letter_mlp")).Fit(letter);
        AssertEnginesAgree<LetterRow, NetworkOutput>(int8, letter, (e, a, row) => SameVector(e.Score, a.Score, $"Score, {row}"));
    }

    [TestMethod]
    public void EnginesOfOneModelKeepTheirOwnRows()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 8).Fit(_spamTrain);
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(_spamTrain);
        var rows = _ml.Data.CreateEnumerable<SpamRow>(_spamTest, reuseRowObject: false).Take(200).ToList();
        var expected = TestData.Scores(pruned.Transform(_ml.Data.TakeRows(_spamTest, 200)));
        using var a = _ml.Model.CreatePredictionEngine<SpamRow, BinaryOutput>(pruned, Shared);
        using var b = _ml.Model.CreatePredictionEngine<SpamRow, BinaryOutput>(pruned, Shared);
        // Interleaved in one thread, then in parallel: each engine reads its own row's buffers.
        for (int i = 0; i + 1 < rows.Count; i += 2)
        {
            var (x, y) = (a.Predict(rows[i]), b.Predict(rows[i + 1]));
            AssertClose(expected[i], x.Score, $"row {i}");
            AssertClose(expected[i + 1], y.Score, $"row {i + 1}");
        }
        var results = new float[2][];
        var engines = new[] { a, b };
        Parallel.For(0, 2, k => results[k] = rows.Select(r => engines[k].Predict(r).Score).ToArray());
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < rows.Count; i++) AssertClose(expected[i], results[k][i], $"engine {k}, row {i}");
    }

    [TestMethod]
    public void NativeModelFallsBackToTheChainsMapper()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 8).Fit(_spamTrain);
        using var distilled = _ml.Compression().Distill(teacher, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5, numberOfLeaves: 8)).Fit(_spamTrain);
        Assert.IsNull(distilled.OnnxModel, "a distilled student is a native ML.NET model");
        Assert.IsNotInstanceOfType<ChainedRowMapper>(distilled.GetRowToRowMapper(_spamTest.Schema));
        var row = _ml.Data.CreateEnumerable<SpamRow>(_spamTest, reuseRowObject: false).First();
        using var engine = _ml.Model.CreatePredictionEngine<SpamRow, BinaryOutput>(distilled, Shared);
        AssertClose(TestData.Scores(distilled.Transform(_spamTest))[0], engine.Predict(row).Score, "first row");
    }

    [TestMethod]
    public void EngineOfADisposedModelThrowsObjectDisposedException()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 8).Fit(_spamTrain);
        var pruned = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(_spamTrain);
        var row = _ml.Data.CreateEnumerable<SpamRow>(_spamTest, reuseRowObject: false).First();
        using var engine = _ml.Model.CreatePredictionEngine<SpamRow, BinaryOutput>(pruned, Shared);
        engine.Predict(row);
        Assert.AreEqual(1, pruned.SingleRowRuns);
        pruned.Dispose();
        var e = Assert.ThrowsExactly<ObjectDisposedException>(() => engine.Predict(row));
        StringAssert.Contains(e.Message, "OwnsTransformer = false");
        Assert.ThrowsExactly<ObjectDisposedException>(() => pruned.GetRowToRowMapper(_spamTest.Schema));
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ml.Model.CreatePredictionEngine<SpamRow, BinaryOutput>(pruned, Shared));
    }
}
