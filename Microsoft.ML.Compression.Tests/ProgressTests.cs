using Microsoft.ML;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Progress notices of a compression chain.</summary>
[TestClass]
public sealed class ProgressTests
{
    /// <summary>Records notices in line (unlike Progress&lt;T&gt;, which posts them to the thread pool).</summary>
    private sealed class Recorder : IProgress<CompressionProgress>
    {
        public List<CompressionProgress> Notices { get; } = new();
        public void Report(CompressionProgress value) => Notices.Add(value);
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void EveryStageReportsItsStartAndEndInOrder()
    {
        var ml = new MLContext(seed: 1);
        var letter = ml.Data.Cache(TestData.Letter(ml));
        var recorder = new Recorder();
        using var model = ml.Compression().Prune(TestData.Network("letter_mlp"), new PruningOptions { TargetSparsity = 0.5 })
            .WithProgress(recorder)
            .Append(ml.Compression().Quantize())
            .Fit(letter);

        var seen = recorder.Notices.Select(p => $"{p.StageIndex}/{p.StageCount} {p.StageName} {(p.IsStageCompleted ? "end" : "start")}").ToArray();
        CollectionAssert.AreEqual(new[] { "0/2 Prune start", "0/2 Prune end", "1/2 Quantize start", "1/2 Quantize end" }, seen, string.Join(", ", seen));
        Assert.IsTrue(recorder.Notices.All(p => !string.IsNullOrWhiteSpace(p.Message)));
        Assert.AreEqual("[2/2] Quantize: started", recorder.Notices[2].ToString());
    }
}
