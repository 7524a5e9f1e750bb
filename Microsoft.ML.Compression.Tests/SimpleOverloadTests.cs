using Microsoft.ML;

namespace Microsoft.ML.Compression.Tests;

/// <summary>The simple-argument overloads (as ML.NET catalogs offer) give the same models as their Options forms.</summary>
[TestClass]
public sealed class SimpleOverloadTests
{
    [TestMethod]
    public void PruneAndQuantizeWithOneArgumentEqualTheOptionsForms()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Head(ml, TestData.SpamBool(ml), 600));
        var teacher = ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20).Fit(data);
        using var simple = ml.Compression().Prune(teacher, 0.5).Append(ml.Compression().Quantize(Precision.Int8)).Fit(data);
        using var options = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 })
            .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 })).Fit(data);
        CollectionAssert.AreEqual(TestData.Scores(options.Transform(data)), TestData.Scores(simple.Transform(data)));
        Assert.AreEqual(options.Report.Final.ZipBytes, simple.Report.Final.ZipBytes);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Compression().Prune(teacher, 1.5));
    }

    [TestMethod]
    [TestCategory("Slow")] // about a second in the fast tier, which read 62 s in CI
    public void QuantizeAnOnnxFileWithOnlyAPrecision()
    {
        var ml = new MLContext(seed: 1);
        var letter = ml.Data.Cache(TestData.Head(ml, TestData.Letter(ml), 500));
        string model = TestData.Network("letter_mlp");
        using var fp16 = ml.Compression().Quantize(model, Precision.Float16).Fit(letter);
        Assert.IsTrue(fp16.Report.Final.OnnxBytes < 0.55 * fp16.Report.Original.OnnxBytes);
        using var pruned = ml.Compression().Prune(model, 0.3).Fit(letter);
        Assert.IsTrue(pruned.Report.Final.Sparsity > 0.27);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void QuantizeWithAPrecisionAndAModeEqualsTheOptionsForm()
    {
        var ml = new MLContext(seed: 1);
        var images = TestData.Head(ml, TestData.Fashion(ml, "fashion_mnist_calib_512.csv"), 32);
        string model = TestData.Network("fashion_mlp"); // a first layer large enough for integer arithmetic
        using var simple = ml.Compression().Quantize(model, Precision.Int8, QuantizationMode.Dynamic).Fit(images);
        using var options = ml.Compression().Quantize(model, new QuantizationOptions { Precision = Precision.Int8, Network = { Mode = QuantizationMode.Dynamic } }).Fit(images);
        Assert.AreEqual(0.0, TestData.ScoreRmse(options, simple, images));
        CollectionAssert.AreEqual(OpTypes(options), OpTypes(simple));
        CollectionAssert.Contains(OpTypes(simple), "MatMulInteger"); // dynamic mode, not the weight-only default
    }

    internal static string[] OpTypes(CompressedModel model)
        => Onnx.OnnxModelIO.Parse(model.OnnxModel!, "test").Graph.Node.Select(n => n.OpType).ToArray();

    [TestCategory("Slow")]
    [TestMethod]
    public void DistillWithAnAlphaEqualsTheOptionsForm()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Head(ml, TestData.SpamBool(ml), 400));
        var teacher = ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20).Fit(data);
        var student = ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 4, exampleWeightColumnName: "Weight");
        using var simple = ml.Compression().Distill(teacher, student, alpha: 0.7, temperature: 2).Fit(data);
        using var options = ml.Compression().Distill(teacher, student, new DistillationOptions { Alpha = 0.7, Temperature = 2 }).Fit(data);
        CollectionAssert.AreEqual(TestData.Scores(options.Transform(data)), TestData.Scores(simple.Transform(data)));
        Assert.AreEqual(options.Report.Final.ZipBytes, simple.Report.Final.ZipBytes);
    }
}
