using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The one rule for NaN and infinities in the data a network is calibrated on (docs/errors.md): such rows are left
/// out of calibration and counted in the stage's description; when no row is left, a DataMismatchException.
/// </summary>
[TestClass]
public sealed class NonFiniteDataTests
{
    private static MLContext _ml = null!;
    private static List<SpamRow> _clean = null!;
    private static string SpamMlp => TestData.Network("spam_mlp");

    public sealed class SpamRow
    {
        public string Label { get; set; } = "";
        [VectorType(57)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        var data = TestData.Head(_ml, _ml.Data.ShuffleRows(TestData.Spam(_ml), seed: 1), 200);
        _clean = _ml.Data.CreateEnumerable<SpamRow>(data, reuseRowObject: false).ToList();
    }

    /// <summary>The clean rows with a poisoned row before every second one.</summary>
    private static IDataView Poisoned()
    {
        var rows = new List<SpamRow>();
        for (int i = 0; i < _clean.Count; i++)
        {
            if (i % 2 == 0)
            {
                var bad = (float[])_clean[i].Features.Clone();
                bad[i % 57] = (i % 3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
                rows.Add(new SpamRow { Label = _clean[i].Label, Features = bad });
            }
            rows.Add(_clean[i]);
        }
        return _ml.Data.LoadFromEnumerable(rows);
    }

    private static IDataView Clean() => _ml.Data.LoadFromEnumerable(_clean);

    [TestCategory("Slow")]
    [TestMethod]
    public void RowsWithNaNOrInfinityAreLeftOutOfCalibration()
    {
        var clean = Clean();
        var staticInt8 = new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 64 } };
        var pruning = new PruningOptions { TargetSparsity = 0.6, MaxCalibrationRows = 64 };
        using var quantizedClean = _ml.Compression().Quantize(SpamMlp, staticInt8).Fit(clean);
        using var quantizedPoisoned = _ml.Compression().Quantize(SpamMlp, staticInt8).Fit(Poisoned());
        using var prunedClean = _ml.Compression().Prune(SpamMlp, pruning).Fit(clean);
        using var prunedPoisoned = _ml.Compression().Prune(SpamMlp, pruning).Fit(Poisoned());

        // Calibrated on exactly the finite rows: the same models as from the clean data.
        CollectionAssert.AreEqual(TestData.Scores(quantizedClean.Transform(clean)), TestData.Scores(quantizedPoisoned.Transform(clean)));
        CollectionAssert.AreEqual(TestData.Scores(prunedClean.Transform(clean)), TestData.Scores(prunedPoisoned.Transform(clean)));
        Assert.IsTrue(TestData.Scores(quantizedPoisoned.Transform(clean)).All(float.IsFinite));
        Assert.AreNotEqual(quantizedClean.Report.Final.Description, quantizedPoisoned.Report.Final.Description, "the skipped rows are counted in the description");
    }

    [TestMethod]
    public void DataWithNoFiniteRowIsADataMismatch()
    {
        var rows = _clean.Take(20).Select(r => new SpamRow { Label = r.Label, Features = r.Features.Select(_ => float.NaN).ToArray() });
        var allNaN = _ml.Data.LoadFromEnumerable(rows);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Quantize(SpamMlp, new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(allNaN));
        Assert.AreEqual("Features", e.ColumnName);
        Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Prune(SpamMlp, new PruningOptions { TargetSparsity = 0.5 }).Fit(allNaN));
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void ConstantCalibrationRowsGiveAFiniteModel()
    {
        // All-zero inputs give zero ranges to every activation: scales must not divide by zero.
        var zeros = _ml.Data.LoadFromEnumerable(_clean.Take(20).Select(r => new SpamRow { Label = r.Label, Features = new float[57] }));
        using var quantized = _ml.Compression().Quantize(SpamMlp, new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(zeros);
        using var pruned = _ml.Compression().Prune(SpamMlp, new PruningOptions { TargetSparsity = 0.5 }).Fit(zeros);
        Assert.IsTrue(TestData.Scores(quantized.Transform(Clean())).All(float.IsFinite));
        Assert.IsTrue(TestData.Scores(pruned.Transform(Clean())).All(float.IsFinite));
    }
}
