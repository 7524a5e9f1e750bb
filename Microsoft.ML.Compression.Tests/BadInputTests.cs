using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Bad input gets a typed exception that names the problem, and nothing is written or modified.</summary>
[TestClass]
public sealed class BadInputTests
{
    private static MLContext _ml = null!;
    private static IDataView _spam = null!;
    private static ITransformer _linear = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _spam = _ml.Data.Cache(TestData.SpamBool(_ml));
        _linear = _ml.BinaryClassification.Trainers.SdcaLogisticRegression().Fit(_spam);
    }

    private static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "bad-input-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    [TestMethod]
    public void CorruptOnnxFileIsRejectedWithInvalidModelExceptionAndLeftUntouched()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "corrupt.onnx");
        var bytes = File.ReadAllBytes(TestData.Network("letter_mlp")).Take(3000).ToArray();
        File.WriteAllBytes(path, bytes);
        var e = Assert.ThrowsExactly<InvalidModelException>(() => _ml.Compression().Quantize(path));
        StringAssert.Contains(e.Message, "corrupt.onnx");
        CollectionAssert.AreEqual(bytes, File.ReadAllBytes(path));
        CollectionAssert.AreEqual(new[] { "corrupt.onnx" }, Directory.GetFiles(dir).Select(Path.GetFileName).ToArray());
        Directory.Delete(dir, true);
    }

    [TestMethod]
    public void NotAnOnnxFileIsRejected()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "text.onnx");
        File.WriteAllText(path, "this is not a model");
        Assert.ThrowsExactly<InvalidModelException>(() => _ml.Compression().Prune(path));
        Directory.Delete(dir, true);
    }

    [TestMethod]
    public void MissingOnnxFileIsAFileNotFoundException()
        => Assert.ThrowsExactly<FileNotFoundException>(() => _ml.Compression().Quantize("/no/such/model.onnx"));

    [TestMethod]
    [TestCategory("Slow")] // about a second in the fast tier, which read 62 s in CI
    public void OnnxGraphWithNothingToQuantizeIsUnsupported()
    {
        // A graph of one Relu: valid ONNX, nothing learned in it.
        var model = new global::Onnx.ModelProto { IrVersion = 7, Graph = new global::Onnx.GraphProto { Name = "relu" } };
        model.OpsetImport.Add(new global::Onnx.OperatorSetIdProto { Domain = "", Version = 13 });
        var node = new global::Onnx.NodeProto { OpType = "Relu" };
        node.Input.Add("Features"); node.Output.Add("Score");
        model.Graph.Node.Add(node);
        model.Graph.Input.Add(Microsoft.ML.Compression.Onnx.OnnxGraphEditor.TensorValue("Features", 1, -1, 57));
        model.Graph.Output.Add(Microsoft.ML.Compression.Onnx.OnnxGraphEditor.TensorValue("Score", 1, -1, 57));
        using var stream = new MemoryStream(Google.Protobuf.MessageExtensions.ToByteArray(model));
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Quantize(stream).Fit(_spam));
        StringAssert.Contains(e.Message, "no float MatMul");
    }

    [TestMethod]
    public void NanWeightsAreRejectedNamingTheTensor()
    {
        var model = Microsoft.ML.Compression.Onnx.OnnxModelIO.Load(TestData.Network("letter_mlp"));
        var weight = model.Graph.Initializer.First(t => t.Dims.Count == 2);
        var values = Microsoft.ML.Compression.Onnx.OnnxTensors.ReadFloats(weight);
        values[3] = float.NaN;
        model.Graph.Initializer[model.Graph.Initializer.IndexOf(weight)] = Microsoft.ML.Compression.Onnx.OnnxTensors.Float(weight.Name, values, weight.Dims.ToArray());
        using var stream = new MemoryStream(Google.Protobuf.MessageExtensions.ToByteArray(model));
        var letter = TestData.Letter(_ml);
        var e = Assert.ThrowsExactly<InvalidModelException>(() => _ml.Compression().Quantize(stream).Fit(letter));
        StringAssert.Contains(e.Message, weight.Name);
    }

    [TestMethod]
    [DataRow(-0.1)]
    [DataRow(1.0)]
    [DataRow(double.NaN)]
    public void SparsityOutsideZeroToOneIsRejectedUpFront(double sparsity)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Prune(new PruningOptions { TargetSparsity = sparsity }));
        Assert.AreEqual(nameof(PruningOptions.TargetSparsity), e.ParamName);
    }

    [TestMethod]
    public void InvalidPrecisionAndDistillationOptionsAreRejectedUpFront()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Quantize(new QuantizationOptions { Precision = (Precision)42 }));
        var student = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(_linear, student, new DistillationOptions { Temperature = 0 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(_linear, student, new DistillationOptions { Alpha = 1.5 }));
    }

    [TestMethod]
    public void StudentThatIsNotATrainerIsRejected()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_linear, _ml.Transforms.NormalizeMinMax("Features")));
        StringAssert.Contains(e.Message, "trainer");
    }

    [TestMethod]
    public void StudentOfAnotherTaskIsRejectedBeforeTraining()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_linear, _ml.Regression.Trainers.Sdca()).Fit(_spam));
        StringAssert.Contains(e.Message, "Regression");
    }

    [TestMethod]
    public void EmptyDataViewIsRejected()
    {
        var empty = _ml.Data.SkipRows(_spam, int.MaxValue);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Quantize(_linear).Fit(empty));
        StringAssert.Contains(e.Message, "no rows");
    }

    [TestMethod]
    public void MissingFeatureColumnIsNamed()
    {
        var wrong = _ml.Transforms.CopyColumns("Other", "Features").Append(_ml.Transforms.DropColumns("Features")).Fit(_spam).Transform(_spam);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Prune(_linear).Fit(wrong));
        Assert.AreEqual("Features", e.ColumnName);
    }

    [TestMethod]
    public void MistypedFeatureColumnIsNamed()
    {
        var wrong = _ml.Transforms.DropColumns("Features").Append(_ml.Transforms.Conversion.MapValue("Features",
            new Dictionary<bool, string> { [true] = "a", [false] = "b" }, "Label")).Fit(_spam).Transform(_spam);
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Quantize(_linear).Fit(wrong));
        Assert.AreEqual("Features", e.ColumnName);
    }

    [TestMethod]
    public void ModelWithoutPredictorIsUnsupported()
    {
        var normalizer = _ml.Transforms.NormalizeMinMax("Features").Fit(_spam);
        Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Quantize(normalizer));
    }

    [TestMethod]
    public void AlreadyQuantizedModelIsNotQuantizedTwice()
    {
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Quantize(_linear, new QuantizationOptions { Form = ModelForm.Onnx })
            .Append(_ml.Compression().Quantize()).Fit(_spam));
        StringAssert.Contains(e.Message, "already quantized");
    }

    [TestMethod]
    public void ChainStartingWithoutAModelExplainsWhatToDo()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Quantize().Fit(_spam));
        StringAssert.Contains(e.Message, "no model");
    }

    [TestMethod]
    public void EvaluationDataWithoutTheModelsColumnsIsADataMismatchBeforeAnyStageRuns()
    {
        var noFeatures = _ml.Transforms.DropColumns("Features").Fit(_spam).Transform(_spam);
        var progress = new List<CompressionProgress>();
        var chain = _ml.Compression().Distill(_linear, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5))
            .WithEvaluationData(noFeatures).WithProgress(new InlineProgress(progress));
        var e = Assert.ThrowsExactly<DataMismatchException>(() => chain.Fit(_spam));
        StringAssert.Contains(e.Message, "WithEvaluationData");
        Assert.IsNotNull(e.InnerException, "what ML.NET said is kept");
        Assert.AreEqual(0, progress.Count, "no stage started");
    }

    private sealed class InlineProgress(List<CompressionProgress> seen) : IProgress<CompressionProgress>
    {
        public void Report(CompressionProgress value) => seen.Add(value);
    }
}
