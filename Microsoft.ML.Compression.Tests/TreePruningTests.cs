using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Tree ensemble pruning: lasso re-weighting against dropping the least-varying trees.</summary>
[TestClass]
public sealed class TreePruningTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        _teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 300, numberOfLeaves: 16).Fit(_train);
    }

    private static double ScoreRmse(ITransformer model) => TestData.ScoreRmse(_teacher, model, _test);

    [TestMethod]
    [TestCategory("Slow")] // about a second in the fast tier, which read 62 s in CI
    public void LassoReweightingKeepsAFifthOfTheTreesWithinThreeThousandthsOfAuc()
    {
        using var pruned = _ml.Compression().Prune(_teacher, new PruningOptions { TargetSparsity = 0.8 }).Fit(_train);
        var teacherAuc = _ml.BinaryClassification.Evaluate(_teacher.Transform(_test)).AreaUnderRocCurve;
        var auc = _ml.BinaryClassification.Evaluate(pruned.Transform(_test)).AreaUnderRocCurve;
        Assert.IsTrue(auc >= teacherAuc - 0.003, $"teacher {teacherAuc}, pruned {auc}");
        Assert.AreEqual(300, NativeCompression.TreeCounts(_ml, NativeState.Of(_teacher, ModelTask.BinaryClassification, "teacher"))!.Sum());
        Assert.AreEqual(60, NativeCompression.TreeCounts(_ml, pruned.State!)!.Sum(), "TargetSparsity 0.8 keeps a fifth of the trees");
    }

    [TestMethod]
    [TestCategory("Slow")] // about a second in the fast tier, which read 62 s in CI
    public void LassoReweightingReproducesTheTeachersScoresBetterThanDroppingTrees()
    {
        using var lasso = _ml.Compression().Prune(_teacher, new PruningOptions { TargetSparsity = 0.9 }).Fit(_train);
        using var drop = _ml.Compression().Prune(_teacher, new PruningOptions { TargetSparsity = 0.9, Trees = { Selection = TreeSelection.LeastVarying } }).Fit(_train);
        double lassoRmse = ScoreRmse(lasso), dropRmse = ScoreRmse(drop);
        Console.WriteLine($"score RMSE vs teacher at 90% pruning: lasso {lassoRmse:F3}, least-varying {dropRmse:F3}");
        Assert.IsTrue(lassoRmse < 0.6 * dropRmse, $"lasso {lassoRmse}, drop {dropRmse}");
    }
}
