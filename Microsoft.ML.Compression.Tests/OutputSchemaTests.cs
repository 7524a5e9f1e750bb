using Microsoft.ML;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// GetOutputSchema of every stage lists the columns its fitted model writes (same names, kinds, item types, keys),
/// so that an EstimatorChain that goes on after a compression stage validates and fits.
/// </summary>
[TestClass]
public sealed class OutputSchemaTests
{
    private static MLContext _ml = null!;
    private static IDataView _spam = null!, _letter = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _spam = _ml.Data.Cache(TestData.Head(_ml, TestData.SpamBool(_ml), 600));
        _letter = _ml.Data.Cache(TestData.Head(_ml, TestData.Letter(_ml), 1000));
    }

    private static List<string> Describe(SchemaShape shape)
        => shape.Select(c => $"{c.Name}:{c.Kind}:{c.ItemType.RawType.Name}:{c.IsKey}").ToList();

    /// <summary>The estimator's shape before Fit equals the shape of the fitted model's output schema.</summary>
    private static void AssertShapeContract(IEstimator<CompressedModel> estimator, IDataView data)
    {
        var predicted = estimator.GetOutputSchema(OutputShape.FromSchema(_ml, data.Schema));
        using var fitted = estimator.Fit(data);
        var actual = OutputShape.FromSchema(_ml, fitted.GetOutputSchema(data.Schema));
        CollectionAssert.AreEquivalent(Describe(actual), Describe(predicted));
    }

    [TestMethod]
    public void PrunedAndQuantizedFastTreeListItsPredictionColumns()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20).Fit(_spam);
        var chain = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Append(_ml.Compression().Quantize());
        var shape = chain.GetOutputSchema(OutputShape.FromSchema(_ml, _spam.Schema));
        CollectionAssert.IsSubsetOf(new[] { "Score", "Probability", "PredictedLabel" }, shape.Select(c => c.Name).ToList());
        AssertShapeContract(chain, _spam);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MulticlassWithStringLabelsListsTheMappedBackPredictedLabel()
    {
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 10))
            .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(_letter);
        var prune = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 });
        var shape = prune.GetOutputSchema(OutputShape.FromSchema(_ml, _letter.Schema));
        var label = shape.Single(c => c.Name == "PredictedLabel");
        Assert.IsFalse(label.IsKey);
        Assert.AreEqual(typeof(ReadOnlyMemory<char>), label.ItemType.RawType);
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, shape.Single(c => c.Name == "Score").Kind);
        AssertShapeContract(prune, _letter);
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void OnnxFormTreesAndAnOnnxNetworkListTheirOutputs()
    {
        var teacher = _ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 10).Fit(_spam);
        AssertShapeContract(_ml.Compression().Quantize(teacher, new QuantizationOptions { Form = ModelForm.Onnx }), _spam);
        AssertShapeContract(_ml.Compression().Quantize(TestData.Network("letter_mlp")), _letter);
    }

    [TestMethod]
    public void AnEstimatorChainGoesOnAfterACompressionStage()
    {
        // EstimatorChain.Fit propagates the shape first: the copy of Score must see the pruned model's Score.
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20).Fit(_spam);
        var pipeline = new EstimatorChain<ITransformer>()
            .Append(_ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }))
            .Append(_ml.Transforms.CopyColumns("TeacherScore", "Score"));
        var model = pipeline.Fit(_spam);
        var scored = model.Transform(_spam);
        CollectionAssert.AreEqual(TestData.Scores(scored), TestData.Scores(scored, "TeacherScore"));
    }
}
