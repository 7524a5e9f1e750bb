using Microsoft.ML;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The options objects: shared settings plus get-only sub-objects set with nested initializers, each range checked
/// when the stage is created (the exception's ParamName is the property), and each stage keeping its own deep copy.
/// </summary>
[TestClass]
public sealed class OptionsTests
{
    private readonly MLContext _ml = new(seed: 1);

    [TestMethod]
    public void NestedInitializersSetTheSubObjectsAndKeepTheOtherDefaults()
    {
        var q = new QuantizationOptions { Precision = Precision.Int8, Network = { Mode = QuantizationMode.Static, Percentile = 99.9 }, Trees = { Storage = TreeStorage.Compact } };
        Assert.AreEqual(QuantizationMode.Static, q.Network.Mode);
        Assert.AreEqual(99.9, q.Network.Percentile);
        Assert.AreEqual(256, q.Network.MaxCalibrationRows);
        Assert.AreEqual(64, q.Network.BlockSize);
        Assert.AreEqual(TreeStorage.Compact, q.Trees.Storage);

        var p = new PruningOptions { TargetSparsity = 0.8, Trees = { LeafPruningTolerance = 0.1 }, Network = { SemiStructuredN = 1 }, Text = { PruneFeaturizerVocabulary = true } };
        Assert.AreEqual(0.8, p.TargetSparsity);
        Assert.AreEqual(0.1, p.Trees.LeafPruningTolerance);
        Assert.AreEqual(TreeSelection.LassoReweighting, p.Trees.Selection);
        Assert.AreEqual(1, p.Network.SemiStructuredN);
        Assert.AreEqual(4, p.Network.SemiStructuredM);
        Assert.AreEqual(0.95, p.Network.MaxLayerSparsity);
        Assert.IsTrue(p.Text.PruneFeaturizerVocabulary);

        var d = new DistillationOptions { Alpha = 0.8, Augmentation = { Factor = 4, Seed = 7 }, Selection = { ValidationFraction = 0.3 } };
        Assert.AreEqual(4, d.Augmentation.Factor);
        Assert.AreEqual(7, d.Augmentation.Seed);
        Assert.AreEqual(1000, d.Augmentation.SampleSize);
        Assert.AreEqual(0.3, d.Selection.ValidationFraction);
        Assert.IsTrue(d.Selection.ChooseOnValidation);
        Assert.AreEqual(0.05, d.Selection.MinimumErrorReduction);
        Assert.AreEqual(1, d.Selection.MinimumStandardErrors);
    }

    [TestMethod]
    public void EachSubObjectSettingIsCheckedWhenTheStageIsCreated()
    {
        var student = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5);
        Assert.AreEqual(nameof(NetworkQuantizationOptions.Percentile), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Quantize(new QuantizationOptions { Network = { Percentile = 0 } })).ParamName);
        Assert.AreEqual(nameof(NetworkQuantizationOptions.BlockSize), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int4, Network = { BlockSize = 48 } })).ParamName);
        Assert.AreEqual(nameof(NetworkQuantizationOptions.Mode), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Float16, Network = { Mode = QuantizationMode.Static } })).ParamName);
        Assert.AreEqual(nameof(NetworkQuantizationOptions.Mode), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Quantize(Precision.Int4, QuantizationMode.Dynamic)).ParamName);
        Assert.AreEqual(nameof(TreeQuantizationOptions.Storage), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Quantize(new QuantizationOptions { Trees = { Storage = (TreeStorage)9 } })).ParamName);
        Assert.AreEqual(nameof(TreePruningOptions.LeafPruningTolerance), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Prune(new PruningOptions { Trees = { LeafPruningTolerance = 2 } })).ParamName);
        Assert.AreEqual(nameof(NetworkPruningOptions.SemiStructuredN), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Prune(new PruningOptions { Network = { SemiStructuredN = 4 } })).ParamName);
        Assert.AreEqual(nameof(NetworkPruningOptions.LayerSparsity), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Prune(new PruningOptions { Network = { LayerSparsity = new Dictionary<string, double> { ["fc1"] = 1.0 } } })).ParamName);
        Assert.AreEqual(nameof(AugmentationOptions.Factor), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Distill(student, new DistillationOptions { Augmentation = { Factor = 101 } })).ParamName);
        Assert.AreEqual(nameof(AugmentationOptions.SampleSize), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Distill(student, new DistillationOptions { Augmentation = { SampleSize = 10 } })).ParamName);
        Assert.AreEqual(nameof(StudentSelectionOptions.ValidationFraction), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Distill(student, new DistillationOptions { Selection = { ValidationFraction = 0.9 } })).ParamName);
        Assert.AreEqual(nameof(StudentSelectionOptions.MinimumStandardErrors), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Distill(student, new DistillationOptions { Selection = { MinimumStandardErrors = 5 } })).ParamName);
        Assert.AreEqual(nameof(StudentSelectionOptions.CandidateAlphas), Assert.ThrowsExactly<ArgumentException>(
            () => _ml.Compression().Distill(student, new DistillationOptions { Selection = { ChooseOnValidation = false, CandidateAlphas = new[] { 0.5 } } })).ParamName);
        Assert.AreEqual(nameof(DistillationOptions.Alpha), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Distill(student, alpha: 1.5)).ParamName);
        Assert.AreEqual(nameof(DistillationOptions.Temperature), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => _ml.Compression().Distill(student, alpha: 1, temperature: 0)).ParamName);
    }

    [TestMethod]
    public void CopiesAreDeep()
    {
        var q = new QuantizationOptions { ExcludedNodes = new List<string> { "a" }, Network = { Mode = QuantizationMode.Dynamic }, Trees = { Storage = TreeStorage.Compact } };
        var qc = q.Copy();
        q.Network.Mode = QuantizationMode.Static;
        q.Trees.Storage = TreeStorage.Classic;
        ((List<string>)q.ExcludedNodes).Add("b");
        Assert.AreEqual(QuantizationMode.Dynamic, qc.Network.Mode);
        Assert.AreEqual(TreeStorage.Compact, qc.Trees.Storage);
        Assert.AreEqual(1, qc.ExcludedNodes.Count);

        var layers = new Dictionary<string, double> { ["fc1"] = 0.5 };
        var p = new PruningOptions { Network = { LayerSparsity = layers }, Trees = { RefitLeaves = true }, Text = { PruneFeaturizerVocabulary = true } };
        var pc = p.Copy();
        layers["fc2"] = 0.9;
        p.Trees.RefitLeaves = false;
        p.Text.PruneFeaturizerVocabulary = false;
        Assert.AreEqual(1, pc.Network.LayerSparsity.Count);
        Assert.IsTrue(pc.Trees.RefitLeaves);
        Assert.IsTrue(pc.Text.PruneFeaturizerVocabulary);

        var alphas = new List<double> { 1.0 };
        var d = new DistillationOptions { Augmentation = { Factor = 2 }, Selection = { CandidateAlphas = alphas } };
        var dc = d.Clone();
        d.Augmentation.Factor = 5;
        alphas.Add(0.5);
        Assert.AreEqual(2, dc.Augmentation.Factor);
        Assert.AreEqual(1, dc.Selection.CandidateAlphas!.Count);
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void AStageIsNotChangedByLaterChangesToItsOptions()
    {
        var letter = _ml.Data.Cache(TestData.Head(_ml, TestData.Letter(_ml), 200));
        string model = TestData.Network("letter_mlp");
        var options = new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, MinMatMulMultiplyAdds = 0 } };
        var stage = _ml.Compression().Quantize(model, options);
        options.Network.Mode = QuantizationMode.WeightOnly; // after the stage was created
        using var dynamicInt8 = stage.Fit(letter);
        using var expected = _ml.Compression().Quantize(model, new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, MinMatMulMultiplyAdds = 0 } }).Fit(letter);
        using var weightOnly = _ml.Compression().Quantize(model, options).Fit(letter);
        Assert.AreEqual(0.0, TestData.ScoreRmse(expected, dynamicInt8, letter));
        CollectionAssert.AreEqual(SimpleOverloadTests.OpTypes(expected), SimpleOverloadTests.OpTypes(dynamicInt8));
        CollectionAssert.AreNotEqual(SimpleOverloadTests.OpTypes(weightOnly), SimpleOverloadTests.OpTypes(dynamicInt8));
    }
}
