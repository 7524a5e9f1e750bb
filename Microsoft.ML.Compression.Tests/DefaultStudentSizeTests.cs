using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Distillation;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Trees;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// DistillationOptions.StudentLeafFraction (default 0.5): a tree student larger than its tree teacher comes back with at
/// most half the teacher's leaves, no more trees and at most half its per-row cost (sum over trees of the mean leaf depth), every candidate is compared on validation at that size, and the
/// Distill row says so.
/// </summary>
[TestClass]
public sealed class DefaultStudentSizeTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;
    private static (int Trees, int Leaves) _teacherSize;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, _ml.Data.Cache(TestData.SpamBool(_ml)));
        // A small teacher, as early stopping gives: 20 trees of at most 16 leaves.
        _teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 16).Fit(_train);
        var sizes = NativeCompression.EnsembleSizes(_ml, NativeState.Of(_teacher, ModelTask.BinaryClassification, "teacher"))!;
        _teacherSize = (sizes.Sum(e => e.Trees), sizes.Sum(e => e.Leaves));
    }

    private static CompressedModel Distill(int studentTrees, DistillationOptions options) => _ml.Compression()
        .Distill(_teacher, _ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: studentTrees, numberOfLeaves: 16), options)
        .WithEvaluationData(_test).Fit(_train);

    private static (int Trees, int Leaves) Size(CompressedModel model)
    {
        var sizes = NativeCompression.EnsembleSizes(_ml, model.State!)!;
        return (sizes.Sum(e => e.Trees), sizes.Sum(e => e.Leaves));
    }

    [TestCategory("Slow")] // two distillations: about 5 s
    [TestMethod]
    public void ALargerStudentIsCutToHalfTheTeachersLeavesByDefault()
    {
        using var cut = Distill(60, new DistillationOptions { Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } });
        using var own = Distill(60, new DistillationOptions { Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false }, StudentLeafFraction = null });
        var (c, o) = (cut.Report.Stages[1], own.Report.Stages[1]);
        Console.WriteLine($"teacher {_teacherSize}, zip {c.TeacherZipBytes}; default size {Size(cut)} zip {c.ZipBytes} AUC {c.EvaluationMetric:F4}; own size {Size(own)} zip {o.ZipBytes} AUC {o.EvaluationMetric:F4}");
        Console.WriteLine(c.Description);

        Assert.AreEqual((60, Size(own).Leaves), Size(own));
        Assert.IsTrue(Size(own).Leaves > _teacherSize.Leaves, "the test needs a student larger than its teacher");
        var (trees, leaves) = Size(cut);
        Assert.IsTrue(leaves <= _teacherSize.Leaves / 2 && trees <= _teacherSize.Trees && trees >= 1, $"{trees} trees, {leaves} leaves against the teacher's {_teacherSize}");
        Assert.IsTrue(Cost(cut.State!) <= 0.5 * Cost(NativeState.Of(_teacher, ModelTask.BinaryClassification, "teacher")) + 1e-9, $"cost {Cost(cut.State!)}");
        Assert.IsTrue(c.SmallerThanTeacher!.Value, $"{c.ZipBytes} vs {c.TeacherZipBytes}");
        Assert.IsFalse(o.SmallerThanTeacher!.Value, $"{o.ZipBytes} vs {o.TeacherZipBytes}");
        StringAssert.Contains(c.Description, "StudentLeafFraction");
        // The tree selection reproduces the student's score with fewer trees: it stays a useful model.
        Assert.IsTrue(c.EvaluationMetric > 0.9, $"AUC {c.EvaluationMetric}");
    }

    private static double Cost(ModelState state) => NativeCompression.EnsembleSizes(_ml, state)!.Sum(e => e.Cost);

    /// <summary>
    /// A teacher of few deep trees (64 leaves) and a student of shallower ones (16 leaves): half the teacher's leaves
    /// would let the student keep as many trees as the teacher, and so more comparisons per row than half the teacher's;
    /// the per-row cost cuts it further, and the student is cheaper to score than the teacher.
    /// </summary>
    [TestCategory("Slow")] // two fits and a tree selection: about 3 s
    [TestMethod]
    public void TheStudentsPerRowCostIsAtMostHalfTheTeachers()
    {
        var deep = _ml.BinaryClassification.Trainers.LightGbm(numberOfLeaves: 64, numberOfIterations: 12, minimumExampleCountPerLeaf: 2).Fit(_train);
        var teacher = NativeCompression.EnsembleSizes(_ml, NativeState.Of(deep, ModelTask.BinaryClassification, "teacher"))!;
        using var model = _ml.Compression()
            .Distill(deep, _ml.BinaryClassification.Trainers.LightGbm(exampleWeightColumnName: "Weight", numberOfLeaves: 16, numberOfIterations: 50, minimumExampleCountPerLeaf: 2),
                new DistillationOptions { Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } })
            .Fit(_train);
        var student = NativeCompression.EnsembleSizes(_ml, model.State!)!;
        Console.WriteLine($"teacher {teacher.Sum(e => e.Trees)} trees, {teacher.Sum(e => e.Leaves)} leaves, cost {teacher.Sum(e => e.Cost):F1}; " +
            $"student {student.Sum(e => e.Trees)} trees, {student.Sum(e => e.Leaves)} leaves, cost {student.Sum(e => e.Cost):F1}");
        Console.WriteLine(model.Report.Stages[1].Description);

        double teacherDepth = teacher.Sum(e => e.Cost) / teacher.Sum(e => e.Trees), studentDepth = student.Sum(e => e.Cost) / student.Sum(e => e.Trees);
        int byLeaves = (int)Math.Floor(teacher.Sum(e => e.Leaves) / 2 / (student.Sum(e => e.Leaves) / (double)student.Sum(e => e.Trees)));
        Assert.IsTrue(teacherDepth > studentDepth && byLeaves >= teacher.Sum(e => e.Trees),
            $"the test needs a deeper teacher whose leaf budget allows all its trees: depth {teacherDepth:F2} vs {studentDepth:F2}, {byLeaves} trees by leaves");
        Assert.IsTrue(student.Sum(e => e.Cost) <= 0.5 * teacher.Sum(e => e.Cost) + 1e-9, $"student cost {student.Sum(e => e.Cost):F1}, teacher {teacher.Sum(e => e.Cost):F1}");
        Assert.IsTrue(student.Sum(e => e.Trees) < teacher.Sum(e => e.Trees), "the cost, not the leaves or the trees, cut the student");
        StringAssert.Contains(model.Report.Stages[1].Description, "per-row cost");
    }

    /// <summary>The rule itself: the fewest trees of the three budgets, at least one per ensemble.</summary>
    [TestMethod]
    public void TheBudgetKeepsTheFewestTreesOfLeavesTreesAndCost()
    {
        var options = new DistillationOptions();
        var teacher = new[] { new EnsembleSize(10, 640, 10 * 8.0) };
        var budget = StudentSizeBudget.Of(options, teacher)!;
        // A student of 16-leaf trees of depth 5: 320 leaves allow 20 trees, the teacher 10, a cost of 40 only 8.
        Assert.AreEqual(8, budget.TreesFor(new[] { new EnsembleSize(50, 800, 50 * 5.0) }));
        // Shallow stumps (depth 1): the leaves and the cost allow more than 10 trees, the teacher's count binds.
        Assert.AreEqual(10, budget.TreesFor(new[] { new EnsembleSize(50, 100, 50 * 1.0) }));
        // 64-leaf trees of depth 2 (impossible, but the leaves alone must then bind): 320 / 64 = 5.
        Assert.AreEqual(5, budget.TreesFor(new[] { new EnsembleSize(50, 50 * 64, 50 * 2.0) }));
        // Three ensembles (one-versus-all) keep a tree each however small the budget.
        var oneVersusAll = new[] { new EnsembleSize(50, 800, 250), new EnsembleSize(50, 800, 250), new EnsembleSize(50, 800, 250) };
        var tiny = StudentSizeBudget.Of(options, new[] { new EnsembleSize(1, 2, 1) })!;
        Assert.AreEqual(3, tiny.TreesFor(oneVersusAll));
        // ... and the report says that such a student is over the budget and may be neither smaller nor faster.
        Assert.IsTrue(tiny.BelowOneTreePerEnsemble(oneVersusAll));
        StringAssert.Contains(tiny.Describe(oneVersusAll), "over the budget");
        Assert.IsFalse(budget.BelowOneTreePerEnsemble(new[] { new EnsembleSize(50, 800, 250) }), "one ensemble: the one-tree minimum is no surprise");
        Assert.IsFalse(StudentSizeBudget.Of(options, new[] { new EnsembleSize(30, 960, 150) })!.BelowOneTreePerEnsemble(oneVersusAll), "a budget of more trees than models");
        Assert.IsFalse(budget.Describe(new[] { new EnsembleSize(50, 800, 250) }).Contains("over the budget"));
        Assert.IsTrue(budget.Exceeds(new[] { new EnsembleSize(9, 144, 45) }) && !budget.Exceeds(new[] { new EnsembleSize(8, 128, 40) }));
    }

    /// <summary>The mean leaf depth of real trees: a stump is 1, and every tree of at most L leaves lies between log2(L) and L − 1 (unbalanced).</summary>
    [TestMethod]
    public void MeanLeafDepthIsBetweenTheBalancedAndTheChainShapes()
    {
        var sizes = NativeCompression.EnsembleSizes(_ml, NativeState.Of(_teacher, ModelTask.BinaryClassification, "teacher"))!;
        double perTree = sizes.Sum(e => e.Cost) / sizes.Sum(e => e.Trees), leaves = sizes.Sum(e => e.Leaves) / (double)sizes.Sum(e => e.Trees);
        Assert.IsTrue(perTree >= Math.Log2(leaves) - 1e-9 && perTree <= leaves - 1, $"{perTree} comparisons for {leaves} leaves per tree");
        var stump = new NativeTree { NumLeaves = 2, Lte = new[] { ~0 }, Gt = new[] { ~1 } };
        var chain = new NativeTree { NumLeaves = 4, Lte = new[] { ~0, ~1, ~2 }, Gt = new[] { 1, 2, ~3 } }; // depths 1, 2, 3, 3
        Assert.AreEqual(1.0, EnsembleSize.MeanLeafDepth(stump));
        Assert.AreEqual((1 + 2 + 3 + 3) / 4.0, EnsembleSize.MeanLeafDepth(chain));
    }

    [TestCategory("Slow")] // 4 student fits and 3 tree selections: about 10 s
    [TestMethod]
    public void EveryCandidateIsComparedAtTheDefaultSize()
    {
        using var chosen = Distill(60, new DistillationOptions { Selection = { CandidateAlphas = new[] { 1.0 } } });
        var selection = chosen.Report.Stages[1].Selection!;
        foreach (var candidate in selection.Candidates) Console.WriteLine($"{candidate.Name}: {candidate.ValidationMetric:F4} ({candidate.Trees} trees)");
        Assert.AreEqual(2, selection.Candidates.Count);
        Assert.IsTrue(selection.Candidates.All(x => x.Trees is int n && n <= _teacherSize.Trees), "the label-only and distilled candidates are both cut");
        var (trees, leaves) = Size(chosen);
        Assert.IsTrue(leaves <= _teacherSize.Leaves / 2 && trees <= _teacherSize.Trees, $"{trees} trees, {leaves} leaves");
    }

    [TestCategory("Slow")] // two distillations: about 3 s
    [TestMethod]
    public void AStudentWithinTheDefaultSizeIsReturnedAsTrained()
    {
        using var small = Distill(4, new DistillationOptions { Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } });
        Assert.AreEqual(4, Size(small).Trees);
        StringAssert.Contains(small.Report.Stages[1].Description, "fit it");
        // A student that is not a tree ensemble has no leaves to count: returned as trained.
        using var linear = _ml.Compression().Distill(_teacher, _ml.BinaryClassification.Trainers.LbfgsLogisticRegression(exampleWeightColumnName: "Weight"),
            new DistillationOptions { Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } }).Fit(_train);
        Assert.IsNull(NativeCompression.EnsembleSizes(_ml, linear.State!));
    }

    [TestMethod]
    public void BadFractionsAreRefused()
    {
        foreach (var bad in new[] { 0.0, -0.5, 1.5, double.NaN })
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(_teacher, _ml.BinaryClassification.Trainers.FastTree(), new DistillationOptions { StudentLeafFraction = bad }));
    }
}
