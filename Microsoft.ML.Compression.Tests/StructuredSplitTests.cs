using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pruning;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Structured pruning's measured split (<see cref="PruningScope.Measured"/>): each layer's share chosen from the output
/// error of that layer pruned alone, against the same share everywhere (the default).
/// </summary>
[TestClass]
public sealed class StructuredSplitTests
{
    private static double[] Weighted(double[] shares, double[] weights) => new[] { shares.Zip(weights, (s, w) => s * w).Sum() / weights.Sum() };

    [TestMethod]
    public void TheLayerWhoseErrorGrowsSlowerLosesMoreAndTheWeightedMeanIsTheTarget()
    {
        var tried = new[] { new[] { 0.25, 0.5, 0.75 }, new[] { 0.25, 0.5, 0.75 } };
        var errors = new[] { new[] { 1.0, 2.0, 3.0 }, new[] { 0.1, 0.2, 0.3 } };
        var weights = new[] { 100.0, 100.0 };
        var shares = StructuredSplit.Allocate(tried, errors, weights, 0.5);
        Assert.AreEqual(0.25, shares[0], 1e-12, "the sensitive layer keeps what the other can take");
        Assert.AreEqual(0.75, shares[1], 1e-12, "no layer goes beyond the largest share it was tried at");
        Assert.AreEqual(0.5, Weighted(shares, weights)[0], 1e-12);
    }

    [TestMethod]
    public void LargerLayersCountMoreTowardsTheTarget()
    {
        // Equal errors per share: the cost per weight removed is lower in the larger layer, which goes first.
        var tried = new[] { new[] { 0.2, 0.4, 0.6 }, new[] { 0.2, 0.4, 0.6 } };
        var errors = new[] { new[] { 1.0, 2.0, 3.0 }, new[] { 1.0, 2.0, 3.0 } };
        var weights = new[] { 300.0, 100.0 };
        var shares = StructuredSplit.Allocate(tried, errors, weights, 0.4);
        Assert.AreEqual(0.4, Weighted(shares, weights)[0], 1e-12);
        Assert.IsTrue(shares[0] > shares[1], $"{shares[0]} vs {shares[1]}");
    }

    [TestMethod]
    public void AnErrorThatFallsWithMoreSharesIsNotTakenAsFree()
    {
        // Layer 0's trial at the largest share measured less error than at the middle one (noise): its last segment
        // may not be cheaper than its first, or the fill would skip ahead to it.
        var tried = new[] { new[] { 0.3, 0.6, 0.9 }, new[] { 0.3, 0.6, 0.9 } };
        var errors = new[] { new[] { 3.0, 6.0, 1.0 }, new[] { 2.0, 4.0, 6.0 } };
        var shares = StructuredSplit.Allocate(tried, errors, new[] { 1.0, 1.0 }, 0.3);
        Assert.AreEqual(0.0, shares[0], 1e-12);
        Assert.AreEqual(0.6, shares[1], 1e-12);
    }

    [TestMethod]
    public void MeasuredScopeForSingleWeightsIsRejectedUpFront()
    {
        var ml = new MLContext(seed: 1);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Compression().Prune(TestData.Path(Path.Combine("models", "fashion_mlp.onnx")),
            new PruningOptions { TargetSparsity = 0.5, Network = { Scope = PruningScope.Measured } }));
        Assert.AreEqual("Scope", e.ParamName);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void OnAnMlpTheMeasuredSplitRemovesAsMuchAndLosesNoMoreThanTheSameShareEverywhere()
    {
        var ml = new MLContext(seed: 1);
        var mlp = TestData.Path(Path.Combine("models", "fashion_mlp.onnx"));
        var calibration = ml.Data.Cache(TestData.Fashion(ml, "fashion_mnist_calib_512.csv"));
        var test = ml.Data.Cache(TestData.Fashion(ml, "fashion_mnist_test_1000.csv"));
        CompressedModel Prune(PruningScope scope) => ml.Compression().Prune(mlp, new PruningOptions
        {
            TargetSparsity = 0.6, Network = { Granularity = PruningGranularity.Structured, Scope = scope },
        }).Fit(calibration);
        using var split = Prune(PruningScope.Measured);
        using var uniform = Prune(PruningScope.Global);
        long Weights(CompressedModel m) => OnnxModelIO.Parse(m.OnnxModel!, "test").Graph.Initializer.Sum(t => OnnxTensors.ElementCount(t));
        double a = TestData.LogitAccuracy(split, test), b = TestData.LogitAccuracy(uniform, test);
        Console.WriteLine($"fashion MLP, structured 60 %: split {a:F4} ({Weights(split)} weights), uniform {b:F4} ({Weights(uniform)} weights); {split.Report.Final.Description}");
        Assert.IsTrue(Weights(split) <= Weights(uniform) * 1.02, $"{Weights(split)} vs {Weights(uniform)}");
        Assert.IsTrue(a >= b - 0.005, $"split {a}, uniform {b}");
    }
}

