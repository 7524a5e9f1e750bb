using Microsoft.ML;
using Microsoft.ML.Compression.Distillation;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Microsoft.ML.Compression.Tests;

/// <summary>What the student learns: hard labels, per-class regression, and the checks made before anything is trained.</summary>
[TestClass]
public sealed class DistillationTargetTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    /// <summary>Single-threaded LightGBM: OpenMP threads spin badly on a busy 2-core machine.</summary>
    private static LightGbmMulticlassTrainer Multiclass(int leaves, int iterations, string? weight = null)
        => _ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
        {
            NumberOfLeaves = leaves, NumberOfIterations = iterations, NumberOfThreads = 1, ExampleWeightColumnName = weight,
        });

    private static LightGbmRegressionTrainer Regressor(int leaves, int iterations) => TestData.LightGbmRegressor(_ml, leaves, iterations);

    private static IDataView Transfer(ITransformer teacher, IDataView data, IEstimator<ITransformer> student, DistillationOptions options, out string summary)
        => TransferSetBuilder.Build(_ml, MlNetModelParts.Flatten(teacher).ToList(), data, StudentTrainer.Of(student, "student"), options, out summary);

    private static string[] PredictedValues(IDataView scored)
        => _ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<ReadOnlyMemory<char>>("PredictedValue").Select(v => v.ToString()).ToArray();

    // ---- Hard labels ----

    [TestMethod]
    public void BinaryHardLabelsAreTheTeachersPredictedLabelOneRowPerRow()
    {
        var data = TestData.Sample(_ml, TestData.SpamBool(_ml), 0.2); // about 400 rows of both classes
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 4, numberOfTrees: 3).Fit(data);
        var predicted = teacher.Transform(data).GetColumn<bool>("PredictedLabel").ToArray();
        var truth = data.GetColumn<bool>("Label").ToArray();
        Assert.IsTrue(predicted.Zip(truth).Any(p => p.First != p.Second), "the teacher must disagree with some labels for this test to tell them apart");

        // Without a weight column: one copy per row, whatever SoftTargetResolution says.
        var copies = Transfer(teacher, data, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2),
            new DistillationOptions { HardLabels = true, SoftTargetResolution = 8 }, out var summary);
        StringAssert.Contains(summary, "predicted label");
        CollectionAssert.AreEqual(predicted, copies.GetColumn<bool>("Label").ToArray());

        // With a weight column: one row per row, weight 1.
        var weighted = Transfer(teacher, data, _ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: 2),
            new DistillationOptions { HardLabels = true }, out _);
        CollectionAssert.AreEqual(predicted, weighted.GetColumn<bool>("Label").ToArray());
        Assert.IsTrue(weighted.GetColumn<float>("Weight").All(w => w == 1f));

        // Soft targets of the same teacher are not all 0/1: the option changes what is learned.
        var soft = Transfer(teacher, data, _ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: 2), new DistillationOptions(), out _);
        Assert.IsTrue(soft.GetRowCount() > predicted.Length, "soft targets give some rows two weighted rows");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MulticlassHardLabelsAreTheTeachersPredictedClassesAndTheStudentFollowsThem()
    {
        var (train, test) = TestData.Split(_ml, TestData.Head(_ml, TestData.Letter(_ml), 600));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(8, 10)).Fit(train);
        var student = _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(8, 5, "Weight"));
        var transfer = Transfer(teacher, train, student, new DistillationOptions { HardLabels = true, Temperature = 5, Selection = { ChooseOnValidation = false } }, out _);
        var labels = transfer.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString()).ToArray();
        CollectionAssert.AreEqual(PredictedValues(teacher.Transform(train)), labels);
        Assert.IsTrue(transfer.GetColumn<float>("Weight").All(w => w == 1f));

        using var distilled = _ml.Compression().Distill(teacher, student, new DistillationOptions { HardLabels = true, Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } })
            .WithEvaluationData(test).Fit(train);
        StringAssert.Contains(distilled.Report.Stages[1].Description, "predicted labels (hard labels");
        Assert.IsTrue(distilled.Report.Stages[1].EvaluationAgreement > 0.6, $"agreement {distilled.Report.Stages[1].EvaluationAgreement}");
    }

    [TestMethod]
    public void HardLabelsForARegressionStudentAreRejectedUpFront()
    {
        var cps = TestData.Head(_ml, TestData.Cps(_ml), 100);
        var featurize = _ml.Transforms.Concatenate("Features", "education", "experience");
        var teacher = featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 2)).Fit(cps);
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression()
            .Distill(teacher, featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 2)), new DistillationOptions { HardLabels = true }));
        StringAssert.Contains(e.Message, "classification");
    }

    [TestMethod]
    public void RegressionStudentOfAMulticlassTeacherIsRejectedBeforeTheTeacherReadsARow()
    {
        var letter = TestData.Head(_ml, TestData.Letter(_ml), 300);
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(4, 3)).Fit(letter);
        var counted = new CountingView(letter);
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, Regressor(4, 3)).Fit(counted));
        StringAssert.Contains(e.Message, "MulticlassClassification");
        Assert.AreEqual(0, counted.Cursors, "rejected before the teacher read a row");
    }

    // ---- Bad input, rejected before any training ----

    [TestMethod]
    public void TemperatureThatIsNotAPositiveFiniteNumberIsRejectedUpFront()
    {
        var spam = TestData.Head(_ml, TestData.SpamBool(_ml), 100);
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2).Fit(spam);
        var student = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2);
        foreach (var t in new[] { 0, -1, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(teacher, student, new DistillationOptions { Temperature = t }), $"temperature {t}");
            Assert.AreEqual("Temperature", e.ParamName);
        }
        _ml.Compression().Distill(teacher, student, new DistillationOptions { Temperature = 1e-3 });
    }

    [TestMethod]
    public void TeacherWhoseOutputDoesNotFitTheStudentsTaskIsRejectedBeforeTheTeacherReadsARow()
    {
        var letter = TestData.Head(_ml, TestData.Letter(_ml), 300);
        var multiclassTeacher = _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(4, 3)).Fit(letter);
        var counted = new CountingView(letter);
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression()
            .Distill(multiclassTeacher, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2)).Fit(counted));
        StringAssert.Contains(e.Message, "MulticlassClassification model but the student's trainer is BinaryClassification");
        Assert.AreEqual("student", e.ParamName);
        Assert.AreEqual(0, counted.Cursors, "no row was read: neither the teacher's report row nor the transfer set was started");
    }

    [TestMethod]
    public void EmptyTransferDataForAClassificationStudentIsRejectedBeforeTraining()
    {
        var spam = TestData.Head(_ml, TestData.SpamBool(_ml), 200);
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2).Fit(spam);
        var empty = _ml.Data.SkipRows(spam, int.MaxValue);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression()
            .Distill(teacher, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2), new DistillationOptions { HardLabels = true }).Fit(empty));
        StringAssert.Contains(e.Message, "no rows");
    }

    /// <summary>The rows of a data view, counting the cursors that read a column (Fit's "any rows?" check reads none).</summary>
    private sealed class CountingView(IDataView source) : IDataView
    {
        public int Cursors { get; private set; }
        public bool CanShuffle => source.CanShuffle;
        public DataViewSchema Schema => source.Schema;
        public long? GetRowCount() => source.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            if (columnsNeeded.Any()) Cursors++;
            return source.GetRowCursor(columnsNeeded, rand);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            if (columnsNeeded.Any()) Cursors++;
            return source.GetRowCursorSet(columnsNeeded, n, rand);
        }
    }
}
