using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>The fluent chain, the one-model guarantee, and save/load round trips.</summary>
[TestClass]
public sealed class ChainTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.Spam(_ml));
        _teacher = Featurize(_ml).Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 300, numberOfLeaves: 16)).Fit(_train);
    }

    // The raw label is "spam"/"nonspam": teacher and student both convert it, as an ML.NET user would.
    private static IEstimator<ITransformer> Featurize(MLContext ml)
        => ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label");

    private static CompressionEstimator Chain() => _ml.Compression()
        .Distill(_teacher, Featurize(_ml).Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 16)))
        .Append(_ml.Compression().Prune(new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }))
        .Append(_ml.Compression().Quantize(new QuantizationOptions { Form = ModelForm.Onnx, Precision = Precision.Int8 }));

    [TestCategory("Slow")]
    [TestMethod]
    public void DistillPruneQuantizeChainGivesOneSmallModelThatEvaluatesWithMlNetMetrics()
    {
        using var compressed = Chain().WithEvaluationData(_test).Fit(_train);
        var teacherAuc = _ml.BinaryClassification.Evaluate(_teacher.Transform(_test)).AreaUnderRocCurve;
        var metrics = _ml.BinaryClassification.Evaluate(compressed.Transform(_test));
        Assert.IsTrue(metrics.AreaUnderRocCurve > teacherAuc - 0.03, $"teacher {teacherAuc}, compressed {metrics.AreaUnderRocCurve}");

        var report = compressed.Report;
        CollectionAssert.AreEqual(new[] { "Teacher", "Distill", "Prune", "Quantize" }, report.Stages.Select(s => s.Stage).ToArray());
        Assert.IsTrue(report.Final.ZipBytes * 10 < report.Original.ZipBytes, report.ToString());
        Assert.IsNotNull(report.Final.EvaluationMetric);
        Assert.AreEqual(metrics.AreaUnderRocCurve, report.Final.EvaluationMetric!.Value, 1e-6);
        StringAssert.Contains(report.ToString(), "Quantize");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void CompressedModelHoldsExactlyOneModelAndNoUncompressedCopy()
    {
        using var compressed = Chain().Fit(_train);
        var transformers = compressed.Transformers.ToList();
        Assert.AreEqual(1, transformers.Count(t => t is OnnxTransformer), "exactly one ONNX model");
        Assert.IsFalse(transformers.Any(t => t.GetType().Name.Contains("PredictionTransformer")), "no native predictor left in the chain");
        var path = Path.Combine(Path.GetTempPath(), $"one-model-{Guid.NewGuid():N}.zip");
        try
        {
            _ml.Model.Save(compressed, _train.Schema, path);
            long teacherBytes;
            using (var s = new MemoryStream()) { _ml.Model.Save(_teacher, _train.Schema, s); teacherBytes = s.Length; }
            Assert.IsTrue(new FileInfo(path).Length * 10 < teacherBytes, $"saved {new FileInfo(path).Length} vs teacher {teacherBytes}");
        }
        finally { File.Delete(path); }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void SavedZipLoadsAsStandardTransformersAndPredictsIdentically()
    {
        using var compressed = Chain().Fit(_train);
        var path = Path.Combine(Path.GetTempPath(), $"roundtrip-{Guid.NewGuid():N}.zip");
        try
        {
            _ml.Model.Save(compressed, _train.Schema, path);
            var fresh = new MLContext(seed: 2);
            fresh.Compression(); // as a notebook host would (not needed here: ML.NET loads the mappings' assembly by name)
            var loaded = fresh.Model.Load(path, out var schema);
            Assert.IsInstanceOfType<TransformerChain<ITransformer>>(loaded);
            Assert.IsFalse(((IEnumerable<ITransformer>)loaded).Any(t => t.GetType().Assembly == typeof(CompressedModel).Assembly));
            var before = TestData.Scores(compressed.Transform(_test));
            var after = TestData.Scores(loaded.Transform(_test));
            Assert.AreEqual(before.Length, after.Length);
            Assert.IsTrue(before.Zip(after).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5);
            Assert.AreEqual(NumberDataViewType.Single, loaded.Transform(_test).Schema["Probability"].Type);

            var report = CompressionReport.ReadFrom(path);
            Assert.IsNotNull(report);
            Assert.AreEqual(compressed.Report.Final.ZipBytes, report!.Final.ZipBytes);
            Assert.AreEqual(compressed.Report.Stages.Count, report.Stages.Count);
        }
        finally { File.Delete(path); }
    }

    [TestMethod]
    public void CompressionStagesAppendAfterStandardEstimatorsInAnEstimatorChain()
    {
        // The featurization is fitted by ML.NET's own chain; the stage compresses a predictor trained on its output.
        var featurize = Featurize(_ml).Append(_ml.Transforms.NormalizeMinMax("Features"));
        var featurized = featurize.Fit(_train).Transform(_train);
        var predictor = _ml.BinaryClassification.Trainers.LbfgsLogisticRegression().Fit(featurized);
        var pipeline = featurize.Append(_ml.Compression().Quantize(predictor));
        var model = pipeline.Fit(_train);
        var metrics = _ml.BinaryClassification.Evaluate(model.Transform(_test));
        var reference = _ml.BinaryClassification.Evaluate(predictor.Transform(featurize.Fit(_train).Transform(_test)));
        Assert.AreEqual(reference.AreaUnderRocCurve, metrics.AreaUnderRocCurve, 0.005);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void TheInputModelIsNeverModified()
    {
        var before = TestData.Scores(_teacher.Transform(_test));
        using var _ = Chain().Fit(_train);
        var after = TestData.Scores(_teacher.Transform(_test));
        CollectionAssert.AreEqual(before, after);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void ACompressedModelIsAcceptedAsTheModelOfANewChainAndStaysUnchanged()
    {
        // An ONNX result (distilled and pruned) quantized in a second chain, and used as a teacher.
        using var pruned = _ml.Compression()
            .Distill(_teacher, Featurize(_ml).Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 16)))
            .Append(_ml.Compression().Prune(new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 })).Fit(_train);
        var before = TestData.Scores(pruned.Transform(_test));
        using var quantized = _ml.Compression().Quantize(pruned, new QuantizationOptions { Form = ModelForm.Onnx, Precision = Precision.Int8 }).Fit(_train);
        CollectionAssert.AreEqual(new[] { "Original", "Quantize" }, quantized.Report.Stages.Select(s => s.Stage).ToArray());
        Assert.IsTrue(quantized.Report.Final.OnnxBytes < quantized.Report.Original.OnnxBytes, quantized.Report.ToString());
        var prunedAuc = _ml.BinaryClassification.Evaluate(pruned.Transform(_test)).AreaUnderRocCurve;
        var quantizedAuc = _ml.BinaryClassification.Evaluate(quantized.Transform(_test)).AreaUnderRocCurve;
        Assert.AreEqual(prunedAuc, quantizedAuc, 0.01);
        CollectionAssert.AreEqual(before, TestData.Scores(pruned.Transform(_test)), "the input model is not changed");
        var graph = global::Onnx.ModelProto.Parser.ParseFrom(quantized.OnnxModel!);
        Assert.AreEqual(1, graph.MetadataProps.Count(p => p.Key == "ml.compression.report"), "one report, the new chain's");

        using var student = _ml.Compression().Distill(pruned, Featurize(_ml).Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 10, numberOfLeaves: 8))).Fit(_train);
        Assert.IsTrue(student.Report.Stages[1].EvaluationAgreement is null && student.Report.Stages[1].Agreement > 0.9, student.Report.ToString());

        // A native result (a distilled student) pruned in a second chain.
        using var repruned = _ml.Compression().Prune(student, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(_train);
        Assert.AreEqual(_ml.BinaryClassification.Evaluate(student.Transform(_test)).AreaUnderRocCurve,
            _ml.BinaryClassification.Evaluate(repruned.Transform(_test)).AreaUnderRocCurve, 0.03);

        pruned.Dispose();
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ml.Compression().Quantize(pruned));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void ASavedAndLoadedCompressedModelCanBeCompressedAgain()
    {
        using var pruned = _ml.Compression()
            .Distill(_teacher, Featurize(_ml).Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 16)))
            .Append(_ml.Compression().Prune(new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 })).Fit(_train);
        var loaded = SaveAndLoad(pruned, _train.Schema);
        var before = TestData.Scores(loaded.Transform(_test));
        using var quantized = _ml.Compression().Quantize(loaded, new QuantizationOptions { Form = ModelForm.Onnx, Precision = Precision.Int8 }).WithEvaluationData(_test).Fit(_train);
        double loadedAuc = _ml.BinaryClassification.Evaluate(loaded.Transform(_test)).AreaUnderRocCurve;
        Assert.AreEqual(loadedAuc, quantized.Report.Original.EvaluationMetric!.Value, 1e-6, "the report's first row is the loaded model");
        Assert.AreEqual(loadedAuc, _ml.BinaryClassification.Evaluate(quantized.Transform(_test)).AreaUnderRocCurve, 0.01);
        Assert.IsTrue(quantized.Report.Final.ZipBytes < quantized.Report.Original.ZipBytes, quantized.Report.ToString());
        CollectionAssert.AreEqual(before, TestData.Scores(loaded.Transform(_test)), "the loaded model is not changed");

        // Multiclass: the class labels come back from the saved head.
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var toKey = _ml.Transforms.Conversion.MapValueToKey("Label");
        var teacher = toKey.Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfLeaves: 8, numberOfIterations: 30)).Fit(train);
        using var prunedLetter = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }).Fit(train);
        var loadedLetter = SaveAndLoad(prunedLetter, train.Schema);
        using var quantizedLetter = _ml.Compression().Quantize(loadedLetter, new QuantizationOptions { Form = ModelForm.Onnx, Precision = Precision.Float16 }).Fit(train);
        var expected = PredictedValues(loadedLetter.Transform(test));
        var actual = PredictedValues(quantizedLetter.Transform(test));
        Assert.IsTrue(expected.Zip(actual).Count(p => p.First == p.Second) >= 0.99 * expected.Length, "FP16 predicts the loaded model's classes, by value");
    }

    private static ITransformer SaveAndLoad(ITransformer model, DataViewSchema schema)
    {
        using var stream = new MemoryStream();
        _ml.Model.Save(model, schema, stream);
        stream.Position = 0;
        return _ml.Model.Load(stream, out _);
    }

    private static string[] PredictedValues(IDataView scored)
        => _ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<ReadOnlyMemory<char>>("PredictedValue").Select(v => v.ToString()).ToArray();

    [TestCategory("Slow")]
    [TestMethod]
    public void LoadModelGivesBackACompressedModelWithItsReportAndFastPaths()
    {
        using var compressed = Chain().Fit(_train);
        var path = Path.Combine(Path.GetTempPath(), $"load-{Guid.NewGuid():N}.zip");
        try
        {
            _ml.Model.Save(compressed, _train.Schema, path);
            var fresh = new MLContext(seed: 2);
            using var loaded = fresh.Compression().LoadModel(path, out var schema);
            var plain = fresh.Model.Load(path, out _);
            Assert.AreEqual(compressed.Report.Stages.Count, loaded.Report.Stages.Count);
            Assert.AreEqual(compressed.Report.Final.ZipBytes, loaded.Report.Final.ZipBytes);
            CollectionAssert.AreEqual(compressed.OnnxModel, loaded.OnnxModel);
            var expected = TestData.Scores(plain.Transform(_test));
            var batch = TestData.Scores(loaded.Transform(_test));
            Assert.IsTrue(expected.Zip(batch).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5);

            // A PredictionEngine of the loaded model scores through the direct single-row path.
            long runs = loaded.SingleRowRuns;
            var engine = fresh.Model.CreatePredictionEngine<SpamRow, SpamPrediction>(loaded, new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = SpamRow.Schema(_train) });
            var rows = fresh.Data.CreateEnumerable<SpamRow>(_test, reuseRowObject: false, schemaDefinition: SpamRow.Schema(_train)).Take(20).ToList();
            var probabilities = rows.Select(r => engine.Predict(r).Probability).ToArray();
            Assert.AreEqual(runs + 20, loaded.SingleRowRuns);
            var chainProbabilities = TestData.Scores(plain.Transform(_test), "Probability").Take(20).ToArray();
            Assert.IsTrue(probabilities.Zip(chainProbabilities).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5);
        }
        finally { File.Delete(path); }
    }

    [TestMethod]
    public void LoadModelRejectsZipsThatAreNotCompressedGraphs()
    {
        using var stream = new MemoryStream();
        _ml.Model.Save(_teacher, _train.Schema, stream);
        stream.Position = 0;
        var e = Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().LoadModel(stream, out _));
        StringAssert.Contains(e.Message, "native ML.NET model");
    }

    public sealed class SpamRow
    {
        public string Label { get; set; } = "";
        public float[] Features { get; set; } = Array.Empty<float>();
        public static SchemaDefinition Schema(IDataView data)
        {
            var def = SchemaDefinition.Create(typeof(SpamRow));
            def["Features"].ColumnType = data.Schema["Features"].Type;
            return def;
        }
    }

    public sealed class SpamPrediction
    {
        public float Probability { get; set; }
    }
}
