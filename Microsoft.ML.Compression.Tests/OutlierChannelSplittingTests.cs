using Microsoft.ML.Compression.Quantization;

namespace Microsoft.ML.Compression.Tests;

/// <summary>How many copies outlier channel splitting gives each channel (the graph edit itself: TransformerQuantizationTests).</summary>
[TestClass]
public sealed class OutlierChannelSplittingTests
{
    [TestMethod]
    public void AChannelTenTimesTheOthersIsSplitUntilItsCopiesAreWithinTheTarget()
    {
        var max = Enumerable.Repeat(1.0, 99).Append(10.0).ToArray();
        var copies = OutlierChannelSplitting.Copies(max, maxExtra: 20);
        Assert.AreEqual(7, copies[99], "10 / 7 ≤ 1.5 < 10 / 6");
        Assert.IsTrue(copies.Take(99).All(c => c == 1));
    }

    [TestMethod]
    public void TheExtraRowsStopAtTheBudgetTheLargestChannelsFirst()
    {
        var max = Enumerable.Repeat(1.0, 96).Concat(new[] { 30.0, 30.0, 20.0, 5.0 }).ToArray();
        var copies = OutlierChannelSplitting.Copies(max, maxExtra: 5);
        Assert.AreEqual(5, copies.Sum() - max.Length);
        Assert.AreEqual(3, copies[96]);
        Assert.AreEqual(3, copies[97]);
        Assert.AreEqual(2, copies[98]);
        Assert.AreEqual(1, copies[99]);
    }

    [TestMethod]
    public void ChannelsOfOneSizeAreLeftWhole()
    {
        var copies = OutlierChannelSplitting.Copies(Enumerable.Repeat(2.0, 64).ToArray(), maxExtra: 10);
        Assert.IsTrue(copies.All(c => c == 1));
    }
}
