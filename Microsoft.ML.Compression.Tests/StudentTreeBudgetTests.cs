using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Pipeline;

namespace Microsoft.ML.Compression.Tests;

/// <summary>DistillationOptions.StudentTreeFraction: a tree student kept within a fraction of its teacher's trees, and the report's size and speed against the teacher.</summary>
[TestClass]
public sealed class StudentTreeBudgetTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, _ml.Data.Cache(TestData.SpamBool(_ml)));
        _teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 60, numberOfLeaves: 16).Fit(_train);
    }

    private static CompressedModel Distill(double? fraction, int trees = 150) => _ml.Compression()
        .Distill(_teacher, _ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: trees, numberOfLeaves: 16),
            new DistillationOptions { ChooseOnValidation = false, TrainLabelOnlyBaseline = false, StudentTreeFraction = fraction })
        .WithEvaluationData(_test).Fit(_train);

    [TestMethod]
    public void AStudentWithMoreTreesThanItsBudgetKeepsTheBudget()
    {
        using var free = Distill(null);
        using var budgeted = Distill(0.5);
        var (f, b) = (free.Report.Stages[1], budgeted.Report.Stages[1]);
        Console.WriteLine($"teacher AUC {budgeted.Report.Stages[0].EvaluationMetric:F4} zip {b.TeacherZipBytes} rows/s {b.TeacherRowsPerSecond:F0}");
        Console.WriteLine($"student 150 trees: AUC {f.EvaluationMetric:F4} zip {f.ZipBytes} rows/s {f.RowsPerSecond:F0} smaller {f.SmallerThanTeacher} faster {f.FasterThanTeacher}");
        Console.WriteLine($"budget 0.5: AUC {b.EvaluationMetric:F4} zip {b.ZipBytes} rows/s {b.RowsPerSecond:F0} smaller {b.SmallerThanTeacher} faster {b.FasterThanTeacher}");
        Console.WriteLine(b.Description);

        CollectionAssert.AreEqual(new[] { 150 }, NativeCompression.TreeCounts(_ml, free.State!)!.ToArray());
        CollectionAssert.AreEqual(new[] { 30 }, NativeCompression.TreeCounts(_ml, budgeted.State!)!.ToArray());
        Assert.AreEqual(budgeted.Report.Stages[0].RowsPerSecond, b.TeacherRowsPerSecond);
        Assert.AreEqual(b.TeacherRowsPerSecond, CompressionReport.FromJson(budgeted.Report.ToJson()).Stages[1].TeacherRowsPerSecond); // kept in the saved report
        Assert.IsFalse(f.SmallerThanTeacher!.Value, $"150 trees against 60: {f.ZipBytes} vs {f.TeacherZipBytes}");
        Assert.IsTrue(b.SmallerThanTeacher!.Value, $"30 trees against 60: {b.ZipBytes} vs {b.TeacherZipBytes}");
        Assert.IsTrue(b.ZipBytes < 0.6 * f.ZipBytes);
        // The tree selection reproduces the student's own score: it loses little of the unbudgeted student's AUC.
        Assert.IsTrue(b.EvaluationMetric > f.EvaluationMetric - 0.01, $"AUC budgeted {b.EvaluationMetric}, free {f.EvaluationMetric}");
        StringAssert.Contains(b.Description, "numberOfTrees");
    }

    [TestMethod]
    public void AStudentWithinItsBudgetIsReturnedAsTrained()
    {
        using var within = Distill(0.5, trees: 20);
        using var once = Distill(1.0);
        CollectionAssert.AreEqual(new[] { 20 }, NativeCompression.TreeCounts(_ml, within.State!)!.ToArray());
        StringAssert.Contains(within.Report.Stages[1].Description, "fit it");
        CollectionAssert.AreEqual(new[] { 60 }, NativeCompression.TreeCounts(_ml, once.State!)!.ToArray()); // 1.0: no more trees than the teacher
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(_teacher, _ml.BinaryClassification.Trainers.FastTree(), new DistillationOptions { StudentTreeFraction = 1.5 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(_teacher, _ml.BinaryClassification.Trainers.FastTree(), new DistillationOptions { StudentTreeFraction = 0 }));
    }

    [TestMethod]
    public void ATeacherWithoutTreesIsRefused()
    {
        var linear = _ml.BinaryClassification.Trainers.LbfgsLogisticRegression().Fit(_train);
        var options = new DistillationOptions { ChooseOnValidation = false, TrainLabelOnlyBaseline = false, StudentTreeFraction = 0.5 };
        Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Distill(linear, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5), options).Fit(_train));
    }

    [TestCategory("Slow")] // about half a minute: a 26-class teacher and two one-vs-all students
    [TestMethod]
    public void AOneVersusAllStudentIsCutToAFractionOfAMulticlassTeachersTrees()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TestData.Split(ml, ml.Data.Cache(TestData.Letter(ml)));
        var key = ml.Transforms.Conversion.MapValueToKey("Label");
        var teacher = key.Append(ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 10)).Fit(train); // 260 trees
        CompressedModel Run(double? fraction) => ml.Compression()
            .Distill(teacher, key.Append(ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: 20, numberOfLeaves: 16))),
                new DistillationOptions { ChooseOnValidation = false, TrainLabelOnlyBaseline = false, StudentWeightColumnName = "Weight", StudentTreeFraction = fraction })
            .WithEvaluationData(test).Fit(train);
        using var free = Run(null);
        using var budgeted = Run(0.5);
        var (f, b) = (free.Report.Stages[1], budgeted.Report.Stages[1]);
        Console.WriteLine($"teacher acc {budgeted.Report.Stages[0].EvaluationMetric:F4} zip {b.TeacherZipBytes} rows/s {b.TeacherRowsPerSecond:F0}");
        Console.WriteLine($"student 26 x 20 trees: acc {f.EvaluationMetric:F4} zip {f.ZipBytes} rows/s {f.RowsPerSecond:F0} smaller {f.SmallerThanTeacher} faster {f.FasterThanTeacher}");
        Console.WriteLine($"budget 0.5: acc {b.EvaluationMetric:F4} zip {b.ZipBytes} rows/s {b.RowsPerSecond:F0} smaller {b.SmallerThanTeacher} faster {b.FasterThanTeacher}");
        Assert.AreEqual(260, NativeCompression.TreeCounts(ml, NativeState.Of(teacher, ModelTask.MulticlassClassification, "teacher"))!.Sum());
        Assert.AreEqual(520, NativeCompression.TreeCounts(ml, free.State!)!.Sum());
        var kept = NativeCompression.TreeCounts(ml, budgeted.State!)!;
        Assert.IsTrue(kept.Sum() <= 130 && kept.All(n => n >= 1), string.Join(",", kept));
        Assert.IsTrue(b.ZipBytes < f.ZipBytes);
    }
}
