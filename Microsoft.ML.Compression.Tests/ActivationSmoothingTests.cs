using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Quantization;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary><see cref="NetworkQuantizationOptions.SmoothActivations"/>: outliers moved from a MatMul input into its weights, exactly in float.</summary>
[TestClass]
public sealed class ActivationSmoothingTests
{
    private const int Tokens = 4, Width = 16, Rows = 32;

    private sealed class Row
    {
        public float[] x { get; set; } = Array.Empty<float>();
    }

    [TestMethod]
    public void SmoothingIsExactInFloatAndEvensOutTheChannels()
    {
        var random = new Random(7);
        // x [batch, 4, 16] read by two MatMuls (as a LayerNorm output feeds Q, K and V): one scale vector for both.
        var g = new GraphProto { Name = "smoothing" };
        g.Input.Add(OnnxGraphEditor.TensorValue("x", OnnxType.Float, -1, Tokens, Width));
        foreach (var o in new[] { "a", "b" }) g.Output.Add(OnnxGraphEditor.TensorValue(o, OnnxType.Float, -1, Tokens, Width));
        foreach (var w in new[] { "Wa", "Wb" }) g.Initializer.Add(OnnxTensors.Float(w, Enumerable.Range(0, Width * Width).Select(_ => random.NextSingle() - 0.5f).ToArray(), Width, Width));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "x", "Wa" }, new[] { "a" }, "mma"));
        g.Node.Add(OnnxGraphEditor.Node("MatMul", new[] { "x", "Wb" }, new[] { "b" }, "mmb"));
        var model = new ModelProto { IrVersion = 8, Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        // Channel 3 is 30× the others, as in a Transformer's LayerNorm output.
        var rows = Enumerable.Range(0, Rows).Select(_ => Enumerable.Range(0, Tokens * Width).Select(i => (i % Width == 3 ? 30f : 1f) * (random.NextSingle() - 0.5f)).ToArray()).ToArray();
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema["x"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Tokens * Width);
        var context = new GraphEditContext { ML = ml, GraphInputData = ml.Data.LoadFromEnumerable(rows.Select(r => new Row { x = r }).ToArray(), schema), GraphInputs = new[] { "x" } };

        var smoothed = model.Clone();
        ActivationSmoothing.Apply(smoothed, WeightTensors.Find(smoothed.Graph), new QuantizationOptions(), context);
        var mul = smoothed.Graph.Node.Single(n => n.OpType == "Mul");
        Assert.IsTrue(smoothed.Graph.Node.Where(n => n.OpType == "MatMul").All(n => n.Input[0] == mul.Output[0]), "both MatMuls read the smoothed input");

        // Exact in float: the same outputs.
        var input = rows.SelectMany(r => r).ToArray();
        float[] Run(ModelProto m, string output)
        {
            using var session = new InferenceSession(OnnxModelIO.ToBytes(m));
            using var x = OrtValue.CreateTensorValueFromMemory(input, new long[] { Rows, Tokens, Width });
            using var run = new RunOptions();
            using var result = session.Run(run, new[] { "x" }, new[] { x }, new[] { output });
            return result[0].GetTensorDataAsSpan<float>().ToArray();
        }
        foreach (var o in new[] { "a", "b" })
        {
            var before = Run(model, o);
            var after = Run(smoothed, o);
            Assert.IsTrue(before.Zip(after).Max(p => Math.Abs(p.First - p.Second)) < 1e-4, o);
        }
        // The activation's largest channel over its median channel shrinks (30× before).
        var capture = TensorCapture.Capture(smoothed, new[] { mul.Output[0] }, context, Rows)[mul.Output[0]];
        var channelMax = Enumerable.Range(0, Width).Select(c => capture.SelectMany(r => r.Where((_, i) => i % Width == c)).Max(Math.Abs)).OrderBy(v => v).ToArray();
        Assert.IsTrue(channelMax[^1] / channelMax[Width / 2] < 10, $"{channelMax[^1] / channelMax[Width / 2]}");
    }
}
