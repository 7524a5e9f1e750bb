using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
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
        var ballast = Ballast();
        model.Graph.Initializer.Add(ballast);
        var path = Path.Combine(folder, "large.onnx");
        using (var file = File.Create(path)) model.WriteTo(file);
        return path;
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void ALargeFileChangedAfterTheStageWasMadeIsRefusedAtFit()
    {
        InTempFolder(folder =>
        {
            var ml = new MLContext(seed: 1);
            var path = WriteLargeModel(folder);
            Assert.IsTrue(new FileInfo(path).Length >= LargeGraphMemory.LargeBytes);
            var quantize = ml.Compression().Quantize(path);
            File.AppendAllText(path, "x");
            var e = Assert.ThrowsExactly<InvalidModelException>(() => quantize.Fit(TestData.Head(ml, TestData.Spam(ml), 32)));
            StringAssert.Contains(e.Message, "Create the stage again");
        });
    }

    /// <summary>
    /// Weight-only INT8 of a large file: its MatMul weights have their scale applied to the product (ONNX Runtime then
    /// folds one float copy at load), which computes what the small graph's Cast + Mul form computes; the original's
    /// rows/s is read from the file and the SQNR readings (weights shared with ONNX Runtime) match the small graph's.
    /// </summary>
    [TestCategory("Slow")]
    [TestMethod]
    public void WeightOnlyInt8OfALargeFileScalesTheProductsAndMeasuresAsTheSmallGraph()
    {
        InTempFolder(folder =>
        {
            var ml = new MLContext(seed: 1);
            var data = TestData.Head(ml, TestData.Spam(ml), 32);
            var options = new QuantizationOptions { Precision = Precision.Int8 };
            var model = WithMatMuls(OnnxModelIO.Load(TestData.Network("spam_mlp")));
            var smallPath = Path.Combine(folder, "small.onnx");
            using (var file = File.Create(smallPath)) model.WriteTo(file);
            model.Graph.Initializer.Add(Ballast());
            var largePath = Path.Combine(folder, "large.onnx");
            using (var file = File.Create(largePath)) model.WriteTo(file);
            using var small = ml.Compression().Quantize(smallPath, options).Fit(data);
            using var large = ml.Compression().Quantize(largePath, options).Fit(data);

            var graph = OnnxModelIO.Parse(large.OnnxModel!, "result").Graph;
            var matMuls = graph.Node.Where(n => n.OpType == "MatMul").ToList();
            Assert.IsTrue(matMuls.Count > 0);
            foreach (var m in matMuls)
            {
                Assert.IsTrue(graph.Node.Any(c => c.OpType == "Cast" && c.Output[0] == m.Input[1]), $"{m.Name} reads its weight through a Cast");
                Assert.IsTrue(graph.Node.Any(c => c.OpType == "Mul" && c.Input[0] == m.Output[0]), $"{m.Name}'s product is scaled");
            }
            StringAssert.Contains(large.Report.Final.Description, "the scale multiplies the product");
            Assert.IsNotNull(large.Report.Stages[0].RowsPerSecond);
            var expected = small.Report.Final.TensorErrors!.ToDictionary(e => e.Name, e => e.SqnrDb);
            Assert.AreEqual(expected.Count, large.Report.Final.TensorErrors!.Count);
            foreach (var e in large.Report.Final.TensorErrors!)
                Assert.AreEqual(expected[e.Name], e.SqnrDb, 0.05, e.Name);
        });
    }

    /// <summary>
    /// A large file whose output has a dimension the batch scorer cannot size (a sequence length, as a Transformer
    /// encoder's last_hidden_state): its rows/s is read row by row, as for a small graph, after the attempt to read it
    /// from the file in batches let the parsed graph go (that path once left the stage with no model: a
    /// NullReferenceException at Fit on the pretrained encoder given as a path).
    /// </summary>
    [TestCategory("Slow")]
    [TestMethod]
    public void ALargeFileThatCannotBeScoredInBatchesIsMeasuredRowByRowAndQuantized()
    {
        InTempFolder(folder =>
        {
            var ml = new MLContext(seed: 1);
            var data = TestData.Head(ml, TestData.Spam(ml), 32);
            var model = OnnxModelIO.Load(TestData.Network("spam_mlp"));
            var output = model.Graph.Output[0].Type.TensorType.Shape.Dim;
            output[^1] = new TensorShapeProto.Types.Dimension { DimParam = "classes" }; // no fixed size: ML.NET gives a vector of variable size
            model.Graph.Initializer.Add(Ballast());
            var path = Path.Combine(folder, "large.onnx");
            using (var file = File.Create(path)) model.WriteTo(file);
            Assert.IsTrue(new FileInfo(path).Length >= LargeGraphMemory.LargeBytes);

            using var quantized = ml.Compression().Quantize(path, new QuantizationOptions { Precision = Precision.Int8 }).Fit(data);
            Assert.IsNotNull(quantized.Report.Stages[0].RowsPerSecond, "the original's rows/s, read row by row");
            Assert.IsNotNull(quantized.Report.Final.RowsPerSecond);
            var scores = quantized.Transform(data).GetColumn<float[]>(model.Graph.Output[0].Name).ToList();
            Assert.AreEqual(32, scores.Count);
            Assert.IsTrue(scores.All(v => v.Length == 2 && v.All(float.IsFinite)));

            Assert.IsTrue(quantized.OnnxModel!.Length >= LargeGraphMemory.LargeBytes, "the result is large too (the ballast stays float)");
            // Saved and loaded (both large-graph paths: the save-only writer, the deferred LoadModel) it scores the same.
            var zip = new MemoryStream();
            ml.Model.Save(quantized, data.Schema, zip);
            using var loaded = ml.Compression().LoadModel(new MemoryStream(zip.ToArray()), out _);
            var again = loaded.Transform(data).GetColumn<float[]>(model.Graph.Output[0].Name).ToList();
            for (int i = 0; i < scores.Count; i++) CollectionAssert.AreEqual(scores[i], again[i]);
            var plain = ml.Model.Load(new MemoryStream(zip.ToArray()), out _);
            var byMlNet = plain.Transform(data).GetColumn<float[]>(model.Graph.Output[0].Name).ToList();
            for (int i = 0; i < scores.Count; i++) CollectionAssert.AreEqual(scores[i], byMlNet[i]);
            (plain as IDisposable)?.Dispose();
            // ... and saved again from the loaded model (its chain built on demand), it loads in ML.NET alone the same.
            var resaved = new MemoryStream();
            ml.Model.Save(loaded, data.Schema, resaved);
            var reloaded = ml.Model.Load(new MemoryStream(resaved.ToArray()), out _);
            var third = reloaded.Transform(data).GetColumn<float[]>(model.Graph.Output[0].Name).ToList();
            for (int i = 0; i < scores.Count; i++) CollectionAssert.AreEqual(scores[i], third[i]);
            (reloaded as IDisposable)?.Dispose();
        });
    }

    /// <summary>A 2048×8192 float initializer (64 MB) that no node reads: it makes a fixture graph large.</summary>
    private static TensorProto Ballast() => new() { Name = "ballast", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 2048, 8192 }, RawData = ByteString.CopyFrom(new byte[2048 * 8192 * 4]) };

    /// <summary>Runs <paramref name="test"/> in a new folder under the temp path, deleted afterwards.</summary>
    private static void InTempFolder(Action<string> test)
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlcompression-largesource-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try { test(folder); }
        finally { Directory.Delete(folder, recursive: true); }
    }

    /// <summary>The graph with each Gemm (alpha = beta = 1) written as MatMul + Add, its weight transposed where Gemm read it so.</summary>
    private static ModelProto WithMatMuls(ModelProto model)
    {
        var g = model.Graph;
        for (int i = 0; i < g.Node.Count; i++)
        {
            var n = g.Node[i];
            if (n.OpType != "Gemm") continue;
            Assert.IsTrue(n.Attribute.All(a => a.Name is "transB" or "transA" or "alpha" or "beta" && (a.Name != "transA" || a.I == 0) && (a.Name is not ("alpha" or "beta") || a.F == 1f)));
            var w = g.Initializer.Single(t => t.Name == n.Input[1]);
            if (n.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1)
            {
                var values = OnnxTensors.ReadFloats(w);
                long rows = w.Dims[0], columns = w.Dims[1];
                var transposed = new float[values.Length];
                for (long r = 0; r < rows; r++)
                    for (long c = 0; c < columns; c++) transposed[c * rows + r] = values[r * columns + c];
                g.Initializer.Remove(w);
                g.Initializer.Add(OnnxTensors.Float(w.Name, transposed, new[] { columns, rows }));
            }
            var product = n.Output[0] + "_product";
            g.Node[i] = new NodeProto { OpType = "MatMul", Name = n.Name, Input = { n.Input[0], n.Input[1] }, Output = { product } };
            g.Node.Insert(i + 1, new NodeProto { OpType = "Add", Name = n.Name + "_bias", Input = { product, n.Input[2] }, Output = { n.Output[0] } });
        }
        return model;
    }
}
