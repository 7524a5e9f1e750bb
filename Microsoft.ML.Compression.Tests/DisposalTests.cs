using Microsoft.ML;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// A disposed compressed model (disposed directly, or by a PredictionEngine that owns it, ML.NET's default) says so
/// with <see cref="ObjectDisposedException"/> instead of running a freed ONNX Runtime session, which crashes the process.
/// </summary>
[TestClass]
public sealed class DisposalTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!;
    private static ITransformer _teacher = null!;

    [ClassInitialize]
    public static void Init(TestContext context)
    {
        _ml = new MLContext(seed: 1);
        (_train, _) = TestData.Split(_ml, TestData.SpamBool(_ml));
        _teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 8).Fit(_train);
    }

    [TestMethod]
    [TestCategory("Slow")] // over a second on the shared 2-core machine (the fast tier read 59 s in CI)
    public void ModelDisposedByItsOwningPredictionEngineThrowsObjectDisposedExceptionWithTheRemedy()
    {
        var pruned = _ml.Compression().Prune(_teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(_train);
        var row = _ml.Data.CreateEnumerable<TreeLeafPruningTests.SpamFeatures>(_train, reuseRowObject: false).First();
        using (var engine = _ml.Model.CreatePredictionEngine<TreeLeafPruningTests.SpamFeatures, TreeLeafPruningTests.ScoreOnly>(pruned, inputSchema: _train.Schema))
            engine.Predict(row);

        var e = Assert.ThrowsExactly<ObjectDisposedException>(() => pruned.Transform(_train));
        StringAssert.Contains(e.Message, "OwnsTransformer = false");
        Assert.ThrowsExactly<ObjectDisposedException>(() => pruned.GetOutputSchema(_train.Schema));
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ml.Model.Save(pruned, _train.Schema, new MemoryStream()));
        pruned.Dispose(); // a second Dispose is harmless
    }

    [TestMethod]
    [TestCategory("Slow")] // about a second in the fast tier, which read 62 s in CI
    public void EngineThatDoesNotOwnTheModelLeavesItUsable()
    {
        using var pruned = _ml.Compression().Prune(_teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(_train);
        var row = _ml.Data.CreateEnumerable<TreeLeafPruningTests.SpamFeatures>(_train, reuseRowObject: false).First();
        float viaEngine;
        using (var engine = _ml.Model.CreatePredictionEngine<TreeLeafPruningTests.SpamFeatures, TreeLeafPruningTests.ScoreOnly>(pruned,
            new PredictionEngineOptions { OwnsTransformer = false }))
            viaEngine = engine.Predict(row).Score;

        var scores = TestData.Scores(pruned.Transform(_train));
        Assert.AreEqual(scores[0], viaEngine, 1e-4f * Math.Max(1, Math.Abs(scores[0])));
    }

    [TestMethod]
    [TestCategory("Slow")] // over a second on the shared 2-core machine (the fast tier read 59 s in CI)
    public void DataViewOfADisposedModelThrowsWhenRead()
    {
        var pruned = _ml.Compression().Prune(_teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(_train);
        var scored = pruned.Transform(_train);
        pruned.Dispose();
        // ML.NET's parallel cursors wrap what a worker throws.
        var e = Assert.Throws<Exception>(() => TestData.Scores(scored));
        while (e is not ObjectDisposedException && e.InnerException != null) e = e.InnerException;
        Assert.IsInstanceOfType<ObjectDisposedException>(e, e.ToString());
    }
}
