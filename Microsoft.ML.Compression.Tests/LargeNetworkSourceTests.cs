using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// A stage made from the path of a large network (64 MB or more) reads the file again at Fit instead of holding it,
/// so a Fit can let the original go: a file changed in between is refused with a typed error, never compressed as
/// something else than what was checked.
/// </summary>
[TestClass]
public sealed class LargeNetworkSourceTests
{
    /// <summary>spam_mlp with one 2048×8192 float initializer more (64 MB, unused by the graph's nodes).</summary>
    private static string WriteLargeModel(string folder)
    {
        var model = OnnxModelIO.Load(TestData.Network("spam_mlp"));
        var ballast = new TensorProto { Name = "ballast", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 2048, 8192 }, RawData = ByteString.CopyFrom(new byte[2048 * 8192 * 4]) };
        model.Graph.Initializer.Add(ballast);
        var path = Path.Combine(folder, "large.onnx");
        using (var file = File.Create(path)) model.WriteTo(file);
        return path;
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void ALargeFileChangedAfterTheStageWasMadeIsRefusedAtFit()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlcompression-largesource-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var ml = new MLContext(seed: 1);
            var path = WriteLargeModel(folder);
            Assert.IsTrue(new FileInfo(path).Length >= LargeGraphMemory.LargeBytes);
            var quantize = ml.Compression().Quantize(path);
            File.AppendAllText(path, "x");
            var e = Assert.ThrowsExactly<InvalidModelException>(() => quantize.Fit(TestData.Head(ml, TestData.Spam(ml), 32)));
            StringAssert.Contains(e.Message, "Create the stage again");
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
