using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Quantization;
using Microsoft.ML.Data;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>What the report says about a network: the accuracy columns when the data has labels, and SQNR that is exact for an exact variant.</summary>
[TestClass]
public sealed class NetworkReportTests
{
    [TestMethod]
    [TestCategory("Slow")] // 25 s on 2 shared cores under load (quantize, report on 512 + 1,000 rows)
    public void NetworkMetricColumnsAreTheArgmaxAccuracyWhenTheDataHasLabels()
    {
        var ml = new MLContext(seed: 1);
        var calib = ml.Data.Cache(TestData.Fashion(ml, "fashion_mnist_calib_512.csv"));
        var test = ml.Data.Cache(TestData.Fashion(ml, "fashion_mnist_test_1000.csv"));
        var path = TestData.Network("fashion_mlp");
        using var model = ml.Compression().Quantize(path, new QuantizationOptions()).WithEvaluationData(test).Fit(calib);
        var report = model.Report;
        Console.WriteLine(report);
        Assert.AreEqual(TestData.LogitAccuracy(ml.Transforms.ApplyOnnxModel(path).Fit(test), test), report.Original.EvaluationMetric!.Value, 1e-9);
        Assert.AreEqual(TestData.LogitAccuracy(model, test), report.Final.EvaluationMetric!.Value, 1e-9);
        Assert.AreEqual(TestData.LogitAccuracy(model, calib), report.Final.Metric!.Value, 1e-9);
        Assert.IsTrue(report.HigherIsBetter);
    }

    private const int Sequence = 64, Width = 8192, Rows = 40;

    private sealed class Row
    {
        public float[] x { get; set; } = Array.Empty<float>();
    }

    /// <summary>
    /// x [batch, 64, 8192] → Transpose → t [64, batch, 8192] (sequence first, as PyTorch's attention lays it out) →
    /// MatMul W → Transpose → y. t's rows are 0.5M floats, so the float capture (t and y, under its float budget)
    /// and the quantized one ran different batch sizes, and t's first-axis slices were compared across batches.
    /// </summary>
    [TestCategory("Slow")]
    [TestMethod]
    public void SqnrOfASequenceFirstTensorIsExactWhenTheTensorIsUnchanged()
    {
        var random = new Random(3);
        var g = new GraphProto { Name = "sequence_first" };
        g.Input.Add(OnnxGraphEditor.TensorValue("x", OnnxType.Float, -1, Sequence, Width));
        g.Output.Add(OnnxGraphEditor.TensorValue("y", OnnxType.Float, -1, Sequence, 4));
        g.Initializer.Add(OnnxTensors.Float("W", Enumerable.Range(0, Width * 4).Select(_ => random.NextSingle() - 0.5f).ToArray(), Width, 4));
        g.Node.Add(OnnxGraphEditor.Node("Transpose", new[] { "x" }, new[] { "t" }, "to_sequence_first").WithInts("perm", new long[] { 1, 0, 2 }));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "t", "W" }, new[] { "m" }, "mm"));
        g.Node.Add(OnnxGraphEditor.Node("Transpose", new[] { "m" }, new[] { "y" }, "to_batch_first").WithInts("perm", new long[] { 1, 0, 2 }));
        var model = new ModelProto { IrVersion = 8, Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });

        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema["x"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Sequence * Width);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, Rows).Select(_ => new Row { x = Enumerable.Range(0, Sequence * Width).Select(_ => random.NextSingle()).ToArray() }).ToArray(), schema);
        var context = new GraphEditContext { ML = ml, GraphInputData = data, GraphInputs = new[] { "x" } };
        // The FP16 copy changes W only: t is the same tensor in both graphs.
        var fp16 = model.Clone();
        GraphQuantizer.Quantize(fp16, new QuantizationOptions { Precision = Precision.Float16 }, context);
        var errors = QuantizationMeasurements.Sqnr(model, fp16, new[] { "t" }, context, Rows);
        Console.WriteLine(string.Join(", ", errors));
        Assert.AreEqual(TensorError.MaxSqnrDb, errors.Single(e => e.Name == "t").SqnrDb);
        Assert.IsTrue(errors.Single(e => e.Name == "y").SqnrDb > 60, "FP16 weights: the output stays close");
    }
}
