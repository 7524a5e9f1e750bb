using Microsoft.ML;
using Microsoft.ML.Compression.MlNet;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The report reads a large network's saved size and rows/s through a weightless stand-in of its OnnxTransformer
/// (<see cref="NetworkState.BuildSchemaTwin"/>): its columns must be the real transformer's, and the saved size
/// computed with the graph in its place must be the real chain's, byte for byte.
/// </summary>
[TestClass]
public sealed class SchemaTwinTests
{
    private static IEnumerable<(string Name, Func<MLContext, IDataView> Data)> Networks()
    {
        yield return ("spam_mlp", ml => TestData.Head(ml, TestData.Spam(ml), 64));
        yield return ("letter_mlp", ml => TestData.Head(ml, TestData.Letter(ml), 64));
        yield return ("fashion_cnn", ml => TestData.Head(ml, TestData.Fashion(ml, "fashion_mnist_calib_512.csv"), 16));
        yield return ("spam_token_transformer", ml => TestData.SpamTokenIds(ml, "spamassassin_tokens_calib_512.csv", maxRows: 16));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void TheStandInHasTheNetworksColumnsAndItsSavedSize()
    {
        foreach (var (name, load) in Networks())
        {
            var ml = new MLContext(seed: 1);
            var data = load(ml);
            var state = new NetworkState(OnnxModelIO.Load(TestData.Network(name)));
            using var real = new TransformerChain<ITransformer>(state.BuildTransformers(ml, data).ToArray());
            var twinParts = state.BuildSchemaTwin(ml, data);
            Assert.IsNotNull(twinParts, $"{name}: no stand-in");
            using var twin = new TransformerChain<ITransformer>(twinParts.ToArray());
            var expected = real.GetOutputSchema(data.Schema);
            var actual = twin.GetOutputSchema(data.Schema);
            CollectionAssert.AreEqual(expected.Select(c => $"{c.Name}:{c.Type}").ToList(), actual.Select(c => $"{c.Name}:{c.Type}").ToList(), name);
            Assert.AreEqual(ReportBuilder.ZipBytes(ml, real, data), ReportBuilder.ZipBytesWithGraph(ml, twin, data, state.Model), name);
            Assert.IsTrue(ReportBuilder.ZipBytes(ml, twin, data) < ReportBuilder.ZipBytes(ml, real, data) / 2, $"{name}: the stand-in holds no weights");
        }
    }

    [TestMethod]
    public void AnOutputOfNoDeclaredShapeHasNoStandIn()
    {
        var model = OnnxModelIO.Load(TestData.Network("spam_mlp"));
        model.Graph.Output[0].Type.TensorType.Shape = null;
        var inputs = model.Graph.Input.Select(i => i.Name).ToArray();
        Assert.IsNull(Scoring.OwnedOnnxTransformer.TypedStandIn(model, inputs, model.Graph.Output.Select(o => o.Name).ToArray()));
    }
}
