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

    private static LightGbmRegressionTrainer Regressor(int leaves, int iterations)
        => _ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
        {
            NumberOfLeaves = leaves, NumberOfIterations = iterations, NumberOfThreads = 1, MinimumExampleCountPerLeaf = 5,
        });

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

    [TestMethod]
    public void MulticlassHardLabelsAreTheTeachersPredictedClassesAndTheStudentFollowsThem()
    {
        var (train, test) = TestData.Split(_ml, TestData.Head(_ml, TestData.Letter(_ml), 600));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(8, 10)).Fit(train);
        var student = _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(8, 5, "Weight"));
        var transfer = Transfer(teacher, train, student, new DistillationOptions { HardLabels = true, Temperature = 5 }, out _);
        var labels = transfer.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString()).ToArray();
        CollectionAssert.AreEqual(PredictedValues(teacher.Transform(train)), labels);
        Assert.IsTrue(transfer.GetColumn<float>("Weight").All(w => w == 1f));

        using var distilled = _ml.Compression().Distill(teacher, student, new DistillationOptions { HardLabels = true, TrainLabelOnlyBaseline = false })
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

    // ---- Per-class regression ----

    [TestMethod]
    public void PerClassTargetsAreCentredLogProbabilitiesWhoseSoftmaxGivesTheSoftenedTargetsBack()
    {
        var p = new[] { 0.7, 0.2, 0.1 - 1e-9, 1e-9 };
        foreach (var temperature in new[] { 1.0, 2.0 })
        {
            var z = PerClassStudent.LogTargets(p, temperature);
            Assert.AreEqual(0, z.Sum(), 1e-4, "centred");
            var floored = p.Select(x => Math.Pow(Math.Max(x, PerClassStudent.ProbabilityFloor), 1 / temperature)).ToArray();
            var expected = floored.Select(x => x / floored.Sum()).ToArray();
            var softmax = z.Select(v => Math.Exp(v)).ToArray();
            for (int c = 0; c < p.Length; c++) Assert.AreEqual(expected[c], softmax[c] / softmax.Sum(), 1e-5, $"T {temperature}, class {c}");
        }
    }

    [TestMethod]
    public void PerClassRegressionStudentIsOneMulticlassModelThatScoresSavesAndLoadsLikeMlNetOwn()
    {
        var (train, test) = TestData.Split(_ml, TestData.Head(_ml, TestData.Letter(_ml), 1000));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(8, 20)).Fit(train);
        using var distilled = _ml.Compression().Distill(teacher, Regressor(8, 10),
            new DistillationOptions { MulticlassMethod = MulticlassDistillationMethod.PerClassRegression }).WithEvaluationData(test).Fit(train);
        Console.WriteLine(distilled.Report);
        var row = distilled.Report.Stages[1];
        Assert.AreEqual(ModelTask.MulticlassClassification, distilled.Report.Task);
        StringAssert.Contains(row.Description, "26 regression students (one per class)");
        Assert.IsTrue(row.EvaluationAgreement > 0.6, $"agreement {row.EvaluationAgreement}");
        Assert.IsTrue(row.BaselineEvaluationMetric is > 0.3, $"labels-only per-class baseline {row.BaselineEvaluationMetric}");
        Assert.IsTrue(row.OnnxBytes > 0, "exported to ONNX like a LightGBM multiclass model");

        // ML.NET's own evaluator reads it: Label and PredictedLabel are the same key type, in the teacher's class order.
        var scored = distilled.Transform(test);
        double accuracy = _ml.MulticlassClassification.Evaluate(scored).MicroAccuracy;
        Assert.AreEqual(row.EvaluationMetric!.Value, accuracy, 1e-9);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        Assert.IsTrue(scores.All(s => s.Length == 26 && Math.Abs(s.Sum() - 1) < 1e-4), "softmax probabilities");
        var teacherValues = PredictedValues(teacher.Transform(test));
        var studentValues = PredictedValues(scored);
        Assert.AreEqual(row.EvaluationAgreement!.Value, teacherValues.Zip(studentValues).Count(p => p.First == p.Second) / (double)teacherValues.Length, 1e-9);

        // Saved and loaded by ML.NET alone, it predicts the same.
        using var zip = new MemoryStream();
        _ml.Model.Save(distilled, train.Schema, zip);
        zip.Position = 0;
        var loaded = _ml.Model.Load(zip, out _);
        CollectionAssert.AreEqual(studentValues, PredictedValues(loaded.Transform(test)));
    }

    [TestMethod]
    public void PerClassRegressionNeedsARegressionStudentAndAMulticlassTeacher()
    {
        var letter = TestData.Head(_ml, TestData.Letter(_ml), 300);
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(4, 3)).Fit(letter);
        var perClass = new DistillationOptions { MulticlassMethod = MulticlassDistillationMethod.PerClassRegression };

        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, _ml.Transforms.Conversion.MapValueToKey("Label").Append(Multiclass(4, 3)), perClass));
        StringAssert.Contains(e.Message, "regression trainer");

        // A regression student of a multiclass teacher without the option: the message points to it.
        var counted = new CountingView(letter);
        e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, Regressor(4, 3)).Fit(counted));
        StringAssert.Contains(e.Message, "PerClassRegression");
        Assert.AreEqual(0, counted.Cursors, "rejected before the teacher read a row");

        var spam = TestData.Head(_ml, TestData.SpamBool(_ml), 200);
        var binaryTeacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 2).Fit(spam);
        e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(binaryTeacher, Regressor(4, 3), perClass).Fit(spam));
        StringAssert.Contains(e.Message, "multiclass teacher");
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
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(teacher, student, new DistillationOptions { MulticlassMethod = (MulticlassDistillationMethod)7 }));
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
