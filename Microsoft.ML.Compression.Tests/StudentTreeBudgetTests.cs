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
            new DistillationOptions { StudentTreeFraction = fraction, StudentLeafFraction = null, Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } })
        .WithEvaluationData(_test).Fit(_train);

    [TestCategory("Slow")]
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

    [TestCategory("Slow")]
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
        var options = new DistillationOptions { StudentTreeFraction = 0.5, Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } };
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
                new DistillationOptions { StudentWeightColumnName = "Weight", StudentTreeFraction = fraction, StudentLeafFraction = null, Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } })
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

    [TestCategory("Slow")]
    [TestMethod]
    public void CandidateTreeCountsAreChosenOnValidationLikeAlphas()
    {
        var options = new DistillationOptions { Selection = { CandidateAlphas = new[] { 1.0 }, CandidateTreeCounts = new[] { 10, 40, 500 }, MinimumErrorReduction = 0, MinimumStandardErrors = 0 }, StudentLeafFraction = null };
        using var chosen = _ml.Compression().Distill(_teacher, _ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: 100, numberOfLeaves: 16), options)
            .WithEvaluationData(_test).Fit(_train);
        var row = chosen.Report.Stages[1];
        var selection = row.Selection!;
        foreach (var c in selection.Candidates) Console.WriteLine($"{c.Name}: {c.ValidationMetric:F4}");
        Console.WriteLine($"returned {selection.Chosen.Name}: test AUC {row.EvaluationMetric:F4}, zip {row.ZipBytes} (teacher {row.TeacherZipBytes})");
        // Labels only, the 100-tree distilled student, and its cuts to 40 and 10 trees (500 is not a cut of 100).
        CollectionAssert.AreEqual(new int?[] { null, null, 40, 10 }, selection.Candidates.Select(c => c.Trees).ToArray());
        Assert.IsTrue(selection.Candidates.All(c => c.ValidationMetric is > 0.5));
        int returned = NativeCompression.TreeCounts(_ml, chosen.State!)!.Sum();
        Assert.AreEqual(selection.Chosen.Trees ?? 100, returned);
        // The 10-tree cut scores below the 40-tree one on validation: a real size/accuracy trade-off, not a copy.
        Assert.AreNotEqual(selection.Candidates[2].ValidationMetric, selection.Candidates[3].ValidationMetric);

        Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_teacher, _ml.BinaryClassification.Trainers.FastTree(),
            new DistillationOptions { Selection = { ChooseOnValidation = false, CandidateTreeCounts = new[] { 10 } } }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(_teacher, _ml.BinaryClassification.Trainers.FastTree(),
            new DistillationOptions { Selection = { CandidateTreeCounts = new[] { 0 } } }));
        Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Distill(_teacher, _ml.BinaryClassification.Trainers.LbfgsLogisticRegression(),
            new DistillationOptions { Selection = { CandidateTreeCounts = new[] { 10 } } }).Fit(_train));
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void ALightGbmRegressionStudentIsCutToAFractionOfAFastTreeTeacher()
    {
        var (train, test) = TestData.Split(_ml, _ml.Data.Cache(TestData.Cps(_ml)));
        var featurize = _ml.Transforms.Categorical.OneHotEncoding("region").Append(_ml.Transforms.Concatenate("Features", "education", "experience", "region"));
        var teacher = featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 40, numberOfLeaves: 16)).Fit(train);
        CompressedModel Run(double? fraction) => _ml.Compression()
            .Distill(teacher, featurize.Append(_ml.Regression.Trainers.LightGbm(numberOfLeaves: 16, numberOfIterations: 100)),
                new DistillationOptions { StudentTreeFraction = fraction, StudentLeafFraction = null, Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } })
            .WithEvaluationData(test).Fit(train);
        using var free = Run(null);
        using var budgeted = Run(0.25);
        var (f, b) = (free.Report.Stages[1], budgeted.Report.Stages[1]);
        Console.WriteLine($"teacher RMSE {budgeted.Report.Stages[0].EvaluationMetric:F4} zip {b.TeacherZipBytes} rows/s {b.TeacherRowsPerSecond:F0}");
        Console.WriteLine($"student 100 trees: RMSE {f.EvaluationMetric:F4} zip {f.ZipBytes} rows/s {f.RowsPerSecond:F0}");
        Console.WriteLine($"budget 0.25: RMSE {b.EvaluationMetric:F4} zip {b.ZipBytes} rows/s {b.RowsPerSecond:F0}");
        Assert.AreEqual(100, NativeCompression.TreeCounts(_ml, free.State!)!.Sum());
        Assert.AreEqual(10, NativeCompression.TreeCounts(_ml, budgeted.State!)!.Sum());
        Assert.IsTrue(b.ZipBytes < b.TeacherZipBytes);
        Assert.IsTrue(b.EvaluationMetric < 1.1 * f.EvaluationMetric, $"RMSE budgeted {b.EvaluationMetric}, free {f.EvaluationMetric}");
    }
}
