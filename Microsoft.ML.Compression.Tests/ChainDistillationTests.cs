using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Compression;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The same distillation options give the same student alone and as the first stage of a chain (issue 16): the
/// chain's Distill row equals Distill alone, and the later stages add only their own work.
/// </summary>
[TestClass]
public sealed class ChainDistillationTests
{
    private static IEstimator<ITransformer> Ova(MLContext ml) => ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: 10, numberOfLeaves: 8)));

    [TestCategory("Slow")] // about a minute on 2 shared cores: two distillations of a 26-class one-vs-all student and a chain
    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void DistillAloneAndInAChainGiveTheSameStudent(bool choose)
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TestData.Split(ml, ml.Data.Cache(TestData.Letter(ml)));
        var teacher = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 30)).Fit(train);
        var options = new DistillationOptions { StudentWeightColumnName = "Weight", Selection = { ChooseOnValidation = choose } };

        var clock = Stopwatch.StartNew();
        using var alone = ml.Compression().Distill(teacher, Ova(ml), options).WithEvaluationData(test).Fit(train);
        var aloneSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var times = new List<(string, double)>();
        var last = Stopwatch.StartNew();
        using var chained = ml.Compression().Distill(teacher, Ova(ml), options)
            .Append(ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 }))
            .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }))
            .WithProgress(new InlineProgress(p => { times.Add((p.ToString(), last.Elapsed.TotalSeconds)); last.Restart(); }))
            .WithEvaluationData(test).Fit(train);
        var chainSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"alone {aloneSeconds:F1} s, chain {chainSeconds:F1} s");
        foreach (var (p, s) in times) Console.WriteLine($"  +{s:F1} s {p}");

        var (a, c) = (alone.Report.Stages[1], chained.Report.Stages[1]);
        Console.WriteLine($"distill alone {a.EvaluationMetric:F4}, in chain {c.EvaluationMetric:F4}");
        Assert.AreEqual(a.Metric!.Value, c.Metric!.Value, 0);
        Assert.AreEqual(a.EvaluationMetric!.Value, c.EvaluationMetric!.Value, 0);
        Assert.AreEqual(a.ZipBytes, c.ZipBytes);
        Assert.AreEqual(a.BaselineEvaluationMetric, c.BaselineEvaluationMetric);
    }

    private sealed class InlineProgress(Action<CompressionProgress> report) : IProgress<CompressionProgress>
    {
        public void Report(CompressionProgress value) => report(value);
    }
}
