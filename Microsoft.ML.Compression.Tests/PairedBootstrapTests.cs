using Microsoft.ML;
using Microsoft.ML.Compression.Distillation;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The noise Distill's choice is measured against: the rows each candidate is judged on, their metric as ML.NET's
/// evaluators compute it, and the paired bootstrap's standard error of the difference between two candidates.
/// </summary>
[TestClass]
public sealed class PairedBootstrapTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private sealed class BinaryRow { public bool Label { get; set; } public float Score { get; set; } public bool PredictedLabel { get; set; } }
    private sealed class RegressionRow { public float Label { get; set; } public float Score { get; set; } }

    private static IDataView Binary(bool[] labels, float[] scores)
        => Ml.Data.LoadFromEnumerable(labels.Select((l, i) => new BinaryRow { Label = l, Score = scores[i], PredictedLabel = scores[i] > 0 }).ToList());

    private static int[] Ones(int n) => Enumerable.Repeat(1, n).ToArray();

    [TestMethod]
    public void EachRowCountedOnceGivesMlNetsMetric()
    {
        var random = new Random(3);
        int n = 400;
        var labels = Enumerable.Range(0, n).Select(_ => random.NextDouble() < 0.4).ToArray();
        // Scores rounded to one decimal: many ties, which count half in ML.NET's AUC.
        var scores = labels.Select(l => (float)Math.Round((l ? 0.6 : 0.4) + random.NextDouble() - 0.5, 1)).ToArray();
        var binary = Binary(labels, scores);
        var rows = ValidationRows.Read(binary, ModelTask.BinaryClassification, "Label")!;
        Assert.AreEqual(Ml.BinaryClassification.EvaluateNonCalibrated(binary).AreaUnderRocCurve, PairedBootstrap.Metric(rows, Ones(n))!.Value, 1e-9);

        var targets = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() * 10).ToArray();
        var regression = Ml.Data.LoadFromEnumerable(targets.Select(t => new RegressionRow { Label = t, Score = t + (float)(random.NextDouble() - 0.5) }).ToList());
        var regressionRows = ValidationRows.Read(regression, ModelTask.Regression, "Label")!;
        Assert.AreEqual(Ml.Regression.Evaluate(regression).RootMeanSquaredError, PairedBootstrap.Metric(regressionRows, Ones(n))!.Value, 1e-6);
        // Columns the task's evaluator does not read: no rows (the choice falls back to the margin alone).
        Assert.IsNull(ValidationRows.Read(binary, ModelTask.MulticlassClassification, "Label"));
    }

    [TestMethod]
    [TestCategory("Slow")] // a multiclass LightGBM fit: seconds on the shared 2-core machine
    public void AMulticlassStudentsRowsGiveMlNetsMicroAccuracy()
    {
        // Multiclass: the key-typed label and PredictedLabel of ML.NET's multiclass trainers.
        var letter = TestData.Head(Ml, TestData.Letter(Ml), 600);
        var model = Ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(Ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 5)).Fit(letter);
        var scored = model.Transform(letter);
        var multiclassRows = ValidationRows.Read(scored, ModelTask.MulticlassClassification, "Label")!;
        Assert.AreEqual(600, multiclassRows.Count);
        Assert.AreEqual(Ml.MulticlassClassification.Evaluate(scored).MicroAccuracy, PairedBootstrap.Metric(multiclassRows, Ones(600))!.Value, 1e-12);
    }

    [TestMethod]
    public void TheStandardErrorOfTwoAccuraciesIsThatOfTheirPairedDifference()
    {
        // 1,000 rows; A and B disagree on 60 (B right on 40 of them, A on 20): the paired difference's standard error
        // is sqrt((b + c) / n − (b − c)² / n²) / sqrt(n) = 0.0076, whatever the rows both get right or wrong.
        int n = 1000;
        var a = Enumerable.Range(0, n).Select(i => i < 700 ? 1.0 : i < 720 ? 1 : 0).ToArray();
        var b = Enumerable.Range(0, n).Select(i => i < 700 ? 1.0 : i < 720 ? 0 : i < 760 ? 1 : 0).ToArray();
        var (ra, rb) = (Rows(a), Rows(b));
        double expected = Math.Sqrt((60.0 / n - Math.Pow(20.0 / n, 2)) / n);
        double se = PairedBootstrap.StandardError(new[] { (ra, rb) }, seed: 1)!.Value;
        Assert.AreEqual(expected, se, 0.2 * expected, $"bootstrap {se}, analytic {expected}");
        Assert.AreEqual(se, PairedBootstrap.StandardError(new[] { (ra, rb) }, seed: 1)!.Value, "seeded");
        Assert.AreEqual(0, PairedBootstrap.StandardError(new[] { (ra, ra) }, seed: 1)!.Value, "a candidate against itself: no noise");
        // Two folds of the same rows: the averaged difference moves less.
        double twoFolds = PairedBootstrap.StandardError(new[] { (ra, rb), (ra, rb) }, seed: 1)!.Value;
        Assert.IsTrue(twoFolds < se, $"{twoFolds} vs {se}");
        Assert.IsNull(PairedBootstrap.StandardError(new[] { (ra, Rows(b[..500])) }, seed: 1), "rows that differ in count");
    }

    private static ValidationRows Rows(double[] right)
    {
        // Key labels and predictions: class 1 always, predicted 1 where right, else 2.
        var schema = SchemaDefinition.Create(typeof(KeyRow));
        schema[nameof(KeyRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), 3);
        schema[nameof(KeyRow.PredictedLabel)].ColumnType = new KeyDataViewType(typeof(uint), 3);
        var data = Ml.Data.LoadFromEnumerable(right.Select(r => new KeyRow { Label = 1, PredictedLabel = r > 0 ? 1u : 2u }).ToList(), schema);
        return ValidationRows.Read(data, ModelTask.MulticlassClassification, "Label")!;
    }

    private sealed class KeyRow { public uint Label { get; set; } public uint PredictedLabel { get; set; } }
}
