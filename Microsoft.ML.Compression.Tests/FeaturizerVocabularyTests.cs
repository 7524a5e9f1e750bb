using Microsoft.ML;
using Microsoft.ML.Compression.Pruning.Vocabulary;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// PruningOptions.Text.PruneFeaturizerVocabulary: the FeaturizeText vocabulary behind pruned coefficients leaves the saved
/// model, the featurization runs in ONNX Runtime with the same features as ML.NET (over the kept n-grams).
/// </summary>
[TestClass]
public sealed class FeaturizerVocabularyTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;

    private static TextFeaturizingEstimator.Options Exportable() => new() { KeepDiacritics = true };

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, _ml.Data.TakeRows(SpamAssassin(_ml), 1200));
        // One FeaturizeText per text column: ML.NET cannot export the concatenation of text columns that a
        // multi-column FeaturizeText does first.
        _teacher = _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["ham"] = false }, "Label")
            .Append(_ml.Transforms.Text.FeaturizeText("SubjectFeatures", Exportable(), "subject"))
            .Append(_ml.Transforms.Text.FeaturizeText("BodyFeatures", Exportable(), "body"))
            .Append(_ml.Transforms.Concatenate("Features", "SubjectFeatures", "BodyFeatures"))
            // No L1 term: SDCA's default one alone zeroes most coefficients, and pruning should be what removes 90%.
            .Append(_ml.BinaryClassification.Trainers.SdcaLogisticRegression(l1Regularization: 0, maximumNumberOfIterations: 10)).Fit(_train);
    }

    private static IDataView SpamAssassin(MLContext ml) => ml.Data.LoadFromTextFile(TestData.Path("spamassassin_3000.csv"), new TextLoader.Options
    {
        HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
        Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("subject", DataKind.String, 1), new TextLoader.Column("body", DataKind.String, 2) },
    });

    private static long ZipBytes(ITransformer model)
    {
        using var zip = new MemoryStream();
        _ml.Model.Save(model, _train.Schema, zip);
        return zip.Length;
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PruningTheVocabularyShrinksTheSavedModelAndKeepsAccuracyAfterSaveAndLoad()
    {
        using var plain = _ml.Compression().Prune(_teacher, new PruningOptions { TargetSparsity = 0.9 }).Fit(_train);
        using var cut = _ml.Compression().Prune(_teacher, new PruningOptions { TargetSparsity = 0.9, Text = { PruneFeaturizerVocabulary = true } }).Fit(_train);
        double before = _ml.BinaryClassification.Evaluate(_teacher.Transform(_test)).Accuracy;
        double after = _ml.BinaryClassification.Evaluate(cut.Transform(_test)).Accuracy;
        long teacherZip = ZipBytes(_teacher), plainZip = ZipBytes(plain), cutZip = ZipBytes(cut);
        Console.WriteLine($"accuracy {before:F4} → {after:F4}; zip teacher {teacherZip}, coefficients pruned {plainZip}, vocabulary pruned {cutZip} ({(double)teacherZip / cutZip:F1}× smaller)");
        Console.WriteLine(cut.Report.Final.Description);
        // The pruned coefficients are gone, not zeros: at most 10% of them (and the bias) remain.
        Assert.IsTrue(plain.Report.Final.Sparsity >= 0.899, $"sparsity {plain.Report.Final.Sparsity}"); // the bias counts as a kept parameter
        Assert.IsTrue(cut.Report.Final.ParameterCount <= 0.1 * plain.Report.Final.ParameterCount + 2, $"parameters {plain.Report.Final.ParameterCount} → {cut.Report.Final.ParameterCount}");
        Assert.IsTrue(after >= before - 0.005, $"accuracy {before} → {after}");
        // The n-gram dictionaries dominate the saved model: cutting them is what makes it small.
        Assert.IsTrue(cutZip * 10 < teacherZip, $"teacher {teacherZip}, pruned vocabulary {cutZip}");
        Assert.IsTrue(cutZip * 5 < plainZip, $"coefficients pruned {plainZip}, vocabulary pruned {cutZip}");
        Assert.AreEqual(cutZip, cut.Report.Final.ZipBytes, cutZip / 50.0);

        // A plain chain of ML.NET transformers: saved, loaded, transformed and evaluated like any model.
        using var zip = new MemoryStream();
        _ml.Model.Save(cut, _train.Schema, zip);
        zip.Position = 0;
        var loaded = _ml.Model.Load(zip, out _);
        Assert.AreEqual(after, _ml.BinaryClassification.Evaluate(loaded.Transform(_test)).Accuracy, 1e-9);
        CollectionAssert.DoesNotContain(MlNetTransformerNames(loaded), "Transformer", "FeaturizeText itself must be gone from the saved chain");
    }

    private static List<string> MlNetTransformerNames(ITransformer model)
        => model is IEnumerable<ITransformer> chain ? chain.SelectMany(MlNetTransformerNames).ToList() : new List<string> { model.GetType().Name };

    /// <summary>
    /// The exported, vocabulary-cut featurization gives exactly ML.NET's features on the kept slots, re-normalized over
    /// them (each block, character and word n-grams, has its own L2 norm), on rows it was not fitted on.
    /// </summary>
    [TestCategory("Slow")]
    [TestMethod]
    public void CutFeaturizationReproducesMlNetFeaturesOnTheKeptNgrams()
    {
        var featurizer = _ml.Transforms.Text.FeaturizeText("Features", Exportable(), "body").Fit(_train);
        var features = featurizer.Transform(_test);
        int width = ((VectorDataViewType)features.Schema["Features"].Type).Size;
        var exported = FeaturizerExport.Export(_ml, new[] { featurizer }, _train, "Features", width);
        var blocks = exported.Model.Graph.Node.Single(n => n.OpType == "FeatureVectorizer").Attribute.Single(a => a.Name == "inputdimensions").Ints.ToArray();
        var keep = Enumerable.Range(0, width).Select(j => j % 7 == 0).ToArray();
        var (cut, kept, _) = FeaturizerPruning.CutVocabulary(_ml, exported, keep, _train, "Features");
        var onnxFeatures = new TransformerChain<ITransformer>(cut.ToArray()).Transform(_test);

        var expected = FeaturizerPruning.SparseRows(features, "Features", int.MaxValue);
        var actual = FeaturizerPruning.SparseRows(onnxFeatures, "Features", int.MaxValue);
        Assert.AreEqual(expected.Count, actual.Count);
        double worst = 0;
        for (int r = 0; r < expected.Count; r++)
        {
            var full = new float[width];
            for (int k = 0; k < expected[r].Indices.Length; k++) full[expected[r].Indices[k]] = expected[r].Values[k];
            var want = new double[kept.Length];
            int start = 0, p = 0;
            foreach (var size in blocks)
            {
                int first = p;
                double norm = 0;
                for (; p < kept.Length && kept[p] < start + size; p++) { want[p] = full[kept[p]]; norm += want[p] * want[p]; }
                for (int q = first; q < p && norm > 0; q++) want[q] /= Math.Sqrt(norm);
                start += (int)size;
            }
            var got = new double[kept.Length];
            for (int k = 0; k < actual[r].Indices.Length; k++) got[actual[r].Indices[k]] = actual[r].Values[k];
            for (int j = 0; j < kept.Length; j++) worst = Math.Max(worst, Math.Abs(want[j] - got[j]));
        }
        Console.WriteLine($"{expected.Count} rows, {kept.Length} of {width} slots kept: largest difference {worst:E2}");
        Assert.IsTrue(worst < 1e-5, $"largest difference {worst}");
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void FeaturizerThatCannotBeExportedIsRefusedWithTheReason()
    {
        var teacher = _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["ham"] = false }, "Label")
            .Append(_ml.Transforms.Text.FeaturizeText("Features", "subject")) // default options remove diacritics: not exportable
            .Append(_ml.BinaryClassification.Trainers.SdcaLogisticRegression(maximumNumberOfIterations: 5)).Fit(_train);
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() =>
            _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.9, Text = { PruneFeaturizerVocabulary = true } }).Fit(_train));
        StringAssert.Contains(e.Message, "KeepDiacritics = true");
        // Without the option the same model prunes as before.
        using var plain = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.9 }).Fit(_train);
        Assert.IsTrue(plain.Report.Final.Sparsity >= 0.9);
    }

    [TestMethod]
    public void VocabularyPruningOfAnOnnxNetworkIsRefused()
    {
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() =>
            _ml.Compression().Prune(TestData.Path("models/spam_mlp.onnx"), new PruningOptions { Text = { PruneFeaturizerVocabulary = true } }).Fit(TestData.Spam(_ml)));
        StringAssert.Contains(e.Message, "ONNX network");
    }
}
