using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Pruned and quantized tree ensembles and linear models stay ML.NET models: in memory ML.NET's own transformers,
/// saved as a plain ML.NET zip (no ONNX graph inside) that ml.Model.Load reads back with identical scores; the
/// pipeline around the predictor is kept whole; the input model is never changed.
/// </summary>
[TestClass]
public sealed class NativeModelTests
{
    private static MLContext _ml = null!;
    private static IDataView _spamTrain = null!, _spamTest = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_spamTrain, _spamTest) = TestData.Split(_ml, TestData.SpamBool(_ml));
    }

    /// <summary>The shared contract: native transformers, a zip with no ONNX in it, identical scores after Save + Load, same output columns.</summary>
    private static void AssertNativeContract(CompressedModel compressed, ITransformer source, IDataView data, string scoreColumn = "Score")
    {
        Assert.IsNull(compressed.OnnxModel, "a native result holds no ONNX graph");
        Assert.IsFalse(MlNetTransformers(compressed.Transformers).Any(t => t is OnnxTransformer), "no OnnxTransformer in the compressed model");
        using var zip = new MemoryStream();
        _ml.Model.Save(compressed, data.Schema, zip);
        zip.Position = 0;
        using (var archive = new ZipArchive(new MemoryStream(zip.ToArray()), ZipArchiveMode.Read))
            Assert.IsFalse(archive.Entries.Any(e => e.FullName.Contains("Onnx", StringComparison.OrdinalIgnoreCase)), "the zip holds no ONNX model");
        var loaded = _ml.Model.Load(zip, out var schema);
        Assert.IsNotNull(schema);
        var inMemory = TestData.Scores(compressed.Transform(data), scoreColumn);
        var reloaded = TestData.Scores(loaded.Transform(data), scoreColumn);
        CollectionAssert.AreEqual(inMemory, reloaded, "Save + Load changes no score");
        var sourceColumns = source.GetOutputSchema(data.Schema).Select(c => (c.Name, c.Type.ToString())).ToList();
        var compressedColumns = loaded.GetOutputSchema(data.Schema).Select(c => (c.Name, c.Type.ToString())).ToList();
        CollectionAssert.AreEqual(sourceColumns, compressedColumns, "the compressed model writes the source model's columns");
    }

    private static IEnumerable<ITransformer> MlNetTransformers(ITransformer t)
        => t is IEnumerable<ITransformer> chain ? chain.SelectMany(MlNetTransformers) : new[] { t };

    private static int TreeCount(ITransformer model)
    {
        var predictor = MlNetTransformers(model).OfType<ISingleFeaturePredictionTransformer<object>>().Last();
        var parameters = predictor.GetType().GetProperty("Model")!.GetValue(predictor)!;
        var trees = parameters as TreeEnsembleModelParametersBasedOnRegressionTree
            ?? (TreeEnsembleModelParametersBasedOnRegressionTree)parameters.GetType().GetProperties().First(p => p.Name == "SubModel").GetValue(parameters)!;
        return trees.TrainedTreeEnsemble.Trees.Count;
    }

    [TestMethod]
    public void UnchangedTreesRoundTripThroughTheNativeWriterExactly()
    {
        // Nothing pruned: the edited ensemble must be the same ensemble (the writer's own correctness).
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 40).Fit(_spamTrain);
        using var same = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0 }).Fit(_spamTrain);
        var a = TestData.Scores(teacher.Transform(_spamTest));
        var b = TestData.Scores(same.Transform(_spamTest));
        Assert.AreEqual(0, a.Zip(b, (x, y) => Math.Abs(x - y)).Max(), 1e-5);
        AssertNativeContract(same, teacher, _spamTest);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PrunedFastTreeIsAFastTreeWithFewerTreesAndTheInputModelIsUnchanged()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 100).Fit(_spamTrain);
        var before = TestData.Scores(teacher.Transform(_spamTest));
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.8 }).Fit(_spamTrain);
        Assert.AreEqual(20, TreeCount(pruned.Transformers));
        Assert.AreEqual(100, TreeCount(teacher));
        CollectionAssert.AreEqual(before, TestData.Scores(teacher.Transform(_spamTest)), "the teacher is unchanged");
        double teacherAuc = _ml.BinaryClassification.Evaluate(teacher.Transform(_spamTest)).AreaUnderRocCurve;
        double auc = _ml.BinaryClassification.Evaluate(pruned.Transform(_spamTest)).AreaUnderRocCurve;
        Assert.IsTrue(auc >= teacherAuc - 0.01, $"teacher {teacherAuc}, pruned {auc}");
        AssertNativeContract(pruned, teacher, _spamTest);
        StringAssert.Contains(pruned.Report.Final.Description, "native ML.NET model");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PrunedThenQuantizedLightGbmStaysNativeAndLeavesSitOnTheGrid()
    {
        var teacher = _ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 60).Fit(_spamTrain);
        using var compressed = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5, Trees = { LeafPruningTolerance = 0.02 } })
            .Append(_ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 })).Fit(_spamTrain);
        Assert.AreEqual(30, TreeCount(compressed.Transformers));
        AssertNativeContract(compressed, teacher, _spamTest);
        StringAssert.Contains(compressed.Report.Final.Description, "distinct leaf values");
    }

    [TestMethod]
    public void FastForestRegressionKeepsItsAverageWhenTreesAreDropped()
    {
        var cps = TestData.Cps(_ml);
        var (train, test) = TestData.Split(_ml, cps);
        var teacher = _ml.Transforms.Concatenate("Features", "education", "experience").Append(_ml.Regression.Trainers.FastForest(numberOfTrees: 30)).Fit(train);
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5, Trees = { Selection = TreeSelection.LeastVarying } }).Fit(train);
        double teacherRmse = _ml.Regression.Evaluate(teacher.Transform(test)).RootMeanSquaredError;
        double rmse = _ml.Regression.Evaluate(pruned.Transform(test)).RootMeanSquaredError;
        Assert.IsTrue(rmse <= teacherRmse * 1.05, $"teacher {teacherRmse}, pruned {rmse}");
        AssertNativeContract(pruned, teacher, test);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MulticlassWithStringLabelsKeepsMapKeyToValueSoAPredictionClassBinds()
    {
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var teacher = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 20))
            .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(train);
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(train);
        AssertNativeContract(pruned, teacher, test);
        var engine = _ml.Model.CreatePredictionEngine<LetterRow, LetterPrediction>(pruned, new PredictionEngineOptions { OwnsTransformer = false });
        var row = _ml.Data.CreateEnumerable<LetterRow>(test, reuseRowObject: false).First();
        var prediction = engine.Predict(row);
        Assert.IsTrue(prediction.PredictedLabel is { Length: 1 } && char.IsUpper(prediction.PredictedLabel[0]), $"PredictedLabel '{prediction.PredictedLabel}'");
        double teacherAccuracy = _ml.MulticlassClassification.Evaluate(teacher.Transform(test)).MicroAccuracy;
        double accuracy = _ml.MulticlassClassification.Evaluate(pruned.Transform(test)).MicroAccuracy;
        Assert.IsTrue(accuracy >= teacherAccuracy - 0.03, $"teacher {teacherAccuracy}, pruned {accuracy}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void LinearModelsOfEveryKindStayNative()
    {
        var binary = _ml.BinaryClassification.Trainers.SdcaLogisticRegression().Fit(_spamTrain);
        using (var pruned = _ml.Compression().Prune(binary, new PruningOptions { TargetSparsity = 0.5 }).Fit(_spamTrain))
        {
            AssertNativeContract(pruned, binary, _spamTest);
                var predictor = MlNetTransformers(pruned.Transformers).Last();
            var calibrated = predictor.GetType().GetProperty("Model")!.GetValue(predictor)!;
            var weights = ((Microsoft.ML.Trainers.LinearBinaryModelParameters)calibrated.GetType().GetProperties().First(p => p.Name == "SubModel").GetValue(calibrated)!).Weights;
            Assert.IsTrue(weights.Count(w => w == 0) >= weights.Count / 2, $"{weights.Count(w => w == 0)} of {weights.Count} weights are zero");
        }
        var perceptron = _ml.BinaryClassification.Trainers.AveragedPerceptron().Fit(_spamTrain);
        using (var quantized = _ml.Compression().Quantize(perceptron, new QuantizationOptions { Precision = Precision.Int8 }).Fit(_spamTrain))
            AssertNativeContract(quantized, perceptron, _spamTest);

        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var maxEnt = _ml.Transforms.Conversion.MapValueToKey("Label").Append(_ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()).Fit(train);
        using (var pruned = _ml.Compression().Prune(maxEnt, new PruningOptions { TargetSparsity = 0.5 }).Fit(train))
            AssertNativeContract(pruned, maxEnt, test);
    }

    [TestMethod]
    public void OnnxFormIsStillAvailableOnRequest()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20).Fit(_spamTrain);
        using var onnx = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5, Form = ModelForm.Onnx }).Fit(_spamTrain);
        Assert.IsNotNull(onnx.OnnxModel);
        Assert.IsTrue(MlNetTransformers(onnx.Transformers).Any(t => t is OnnxTransformer));
    }

    [TestMethod]
    public void ANativeModelExportsToOneOnnxFileThatOnnxRuntimeScoresAlike()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 30).Fit(_spamTrain);
        using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(_spamTrain);
        using var file = new MemoryStream();
        var unlabeled = _ml.Transforms.SelectColumns("Features").Fit(_spamTest).Transform(_spamTest);
        pruned.ExportToOnnx(_ml, unlabeled, file);
        var path = Path.Combine(Path.GetTempPath(), $"native-export-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, file.ToArray());
        try
        {
            var onnxScores = _ml.Transforms.ApplyOnnxModel(new[] { "Score.output" }, new[] { "Features" }, path).Fit(unlabeled).Transform(unlabeled);
            var expected = TestData.Scores(pruned.Transform(_spamTest));
            // OnnxTransformer names the column after the graph output's column ("Score"), a vector of one.
            var actual = onnxScores.GetColumn<VBuffer<float>>("Score").Select(v => v.GetValues()[0]).ToArray();
            Assert.AreEqual(0, expected.Zip(actual, (x, y) => Math.Abs(x - y)).Max(), 1e-4);
        }
        finally { File.Delete(path); }
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void TreesWithCategoricalSplitsAreRefusedWithWhatToDo()
    {
        // LightGBM with categorical splits: the native writer does not edit those trees yet, and ML.NET's ONNX export
        // of them does not load in ONNX Runtime, so there is no form to fall back to.
        var churn = TestData.Churn(_ml);
        var teacher = TestData.ChurnFeaturize(_ml).Append(_ml.BinaryClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmBinaryTrainer.Options
        {
            NumberOfIterations = 10, UseCategoricalSplit = true,
        })).Fit(churn);
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Quantize(teacher).Fit(churn));
        StringAssert.Contains(e.Message, "UseCategoricalSplit = false");
    }

    private sealed class LetterRow
    {
        [LoadColumn(0)] public string Label = "";
        [VectorType(16)] public float[] Features = Array.Empty<float>();
    }

    private sealed class LetterPrediction
    {
        public string PredictedLabel = "";
        public float[] Score = Array.Empty<float>();
    }
}
