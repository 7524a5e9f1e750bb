using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Pipeline;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// DistillationOptions.StudentLeafFraction (default 0.5): a tree student larger than its tree teacher comes back with at
/// most half the teacher's leaves and no more trees, every candidate is compared on validation at that size, and the
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
        Assert.IsTrue(c.SmallerThanTeacher!.Value, $"{c.ZipBytes} vs {c.TeacherZipBytes}");
        Assert.IsFalse(o.SmallerThanTeacher!.Value, $"{o.ZipBytes} vs {o.TeacherZipBytes}");
        StringAssert.Contains(c.Description, "StudentLeafFraction");
        // The tree selection reproduces the student's score with fewer trees: it stays a useful model.
        Assert.IsTrue(c.EvaluationMetric > 0.9, $"AUC {c.EvaluationMetric}");
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
