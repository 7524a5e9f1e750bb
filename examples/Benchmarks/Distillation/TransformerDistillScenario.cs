using System.Diagnostics;
using Benchmarks.Common;
using Benchmarks.Trees;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;
using Microsoft.ML.Transforms.Text;

namespace Benchmarks.Distillation;

/// <summary>
/// (e) A Transformer network onto a cheap model: data/models/spam_transformer.onnx (2.7 MB, SpamAssassin e-mails as
/// 128 token ids) distilled into 50 trees × 16 leaves, or a linear model, over a bag of the token ids' 1- and 2-grams
/// (the student's own featurization), with and without unlabeled e-mails as extra transfer rows.
/// </summary>
public static class TransformerDistillScenario
{
    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var train = Load(ml, "spamassassin_tokens_calib_512.csv");
        var test = Load(ml, "spamassassin_tokens_test_1000.csv");
        var unlabeledFull = Load(ml, "spamassassin_tokens_transfer_2000.csv");
        var unlabeled = ml.Data.Cache(ml.Transforms.DropColumns("Label").Fit(unlabeledFull).Transform(unlabeledFull));
        var teacher = ml.Transforms.ApplyOnnxModel(Settings.DataPath(Path.Combine("models", "spam_transformer.onnx"))).Fit(train);
        int trees = s.Quick ? 20 : 50;

        // The student's featurization: each token id a key, then a bag of the 4,000 most frequent 1- and 2-grams of the
        // rows it is fitted on (term frequencies, L2-normalized); the dictionary is most of a student's saved size.
        IEstimator<ITransformer> Bag() => ml.Transforms.Conversion.MapValueToKey("Tokens", "Features")
            .Append(ml.Transforms.Text.ProduceNgrams("Bag", "Tokens", ngramLength: 2, useAllLengths: true, maximumNgramsCount: 4000, weighting: NgramExtractingEstimator.WeightingCriteria.Tf))
            .Append(ml.Transforms.NormalizeLpNorm("Bag"));
        IEstimator<ITransformer> FastTree(string? weight) => Bag().Append(ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options
        {
            FeatureColumnName = "Bag", ExampleWeightColumnName = weight, NumberOfTrees = trees, NumberOfLeaves = 16, NumberOfThreads = 1,
        }));
        IEstimator<ITransformer> LightGbm(string? weight) => Bag().Append(ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
        {
            FeatureColumnName = "Bag", ExampleWeightColumnName = weight, NumberOfIterations = trees, NumberOfLeaves = 16, NumberOfThreads = 1, Seed = 1,
        }));
        IEstimator<ITransformer> Sdca(string? weight) => Bag().Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression("Label", "Bag", weight));

        var labelsOnly = new List<ITransformer>();
        var distilled = new List<CompressedModel>();
        var seconds = new List<double>();
        var sw = Stopwatch.StartNew();
        CompressedModel Distill(IEstimator<ITransformer> student, bool withUnlabeled)
        {
            sw.Restart();
            var model = ml.Compression().Distill(teacher, student, new DistillationOptions { UnlabeledData = withUnlabeled ? unlabeled : null, Selection = { TrainLabelOnlyBaseline = false } })
                .WithEvaluationData(test).Fit(train);
            seconds.Add(sw.Elapsed.TotalSeconds);
            return model;
        }
        labelsOnly.Add(FastTree(null).Fit(train));
        distilled.Add(Distill(FastTree("Weight"), false));
        distilled.Add(Distill(FastTree("Weight"), true));
        labelsOnly.Add(LightGbm(null).Fit(train));
        distilled.Add(Distill(LightGbm("Weight"), true));
        labelsOnly.Add(Sdca(null).Fit(train));
        distilled.Add(Distill(Sdca("Weight"), true));
        // In the order of the variants.
        var students = new ITransformer[] { labelsOnly[0], distilled[0], distilled[1], labelsOnly[1], distilled[2], labelsOnly[2], distilled[3] };

        var y = test.GetColumn<bool>("Label").ToArray();
        var logits = teacher.Transform(test).GetColumn<float[]>("Score").ToArray();
        var teacherSpam = logits.Select(l => l[1] > l[0]).ToArray();
        // The network's own metrics by ML.NET's evaluator: its score is logit 1 − logit 0, spam when positive.
        var teacherScored = ml.Data.LoadFromEnumerable(logits.Zip(y, (l, label) => new TeacherScore { Label = label, Score = l[1] - l[0], PredictedLabel = l[1] > l[0] }));
        var teacherMetrics = ml.BinaryClassification.EvaluateNonCalibrated(teacherScored);
        double Agreement(ITransformer m) => m.Transform(test).GetColumn<bool>("PredictedLabel").Zip(teacherSpam).Count(p => p.First == p.Second) / (double)y.Length;

        var rows = ml.Data.CreateEnumerable<TokenRow>(test, reuseRowObject: false).ToList();
        var teacherFigures = MeasureTeacher(ml, s, teacher, train.Schema, test, rows);
        var studentFigures = students.Select(m => BinaryModelMeasure.Measure(ml, s, m, train.Schema, test, rows)).ToArray();
        var metrics = students.Select(m => ml.BinaryClassification.Evaluate(m.Transform(test))).ToArray();

        var result = new ScenarioResult
        {
            Name = $"Distillation: ONNX Transformer spam_transformer → {trees} trees × 16 leaves or SDCA over a bag of token n-grams",
            Description = "data/models/spam_transformer.onnx (2-layer Transformer encoder, 675,076 parameters; SpamAssassin e-mails as 128 token ids, logits ham/spam) "
                + $"read as a binary teacher. Labelled transfer rows: data/spamassassin_tokens_calib_512.csv (512 e-mails the Transformer was trained on); "
                + "unlabeled transfer rows: data/spamassassin_tokens_transfer_2000.csv (2,000 more of its training e-mails, labels dropped; tools/make_transformer_transfer.py); "
                + "test: data/spamassassin_tokens_test_1000.csv (1,000 e-mails neither saw). "
                + $"Students read the token ids through their own featurization (MapValueToKey → ProduceNgrams: the 4,000 most frequent 1–2-grams, term frequency → L2 norm): FastTree and LightGBM {trees} trees × 16 leaves "
                + "and SDCA logistic regression, each on the 512 labels alone and distilled (soft targets through a weight column) on the 512 rows, or on them plus the 2,000 unlabeled rows. "
                + $"Distillation seconds: {string.Join(" / ", seconds.Select(x => x.ToString("F1")))}.",
            Variants = new[] { "Transformer teacher", "FastTree labels only", "FastTree distilled", "FastTree + 2,000 unlabeled",
                "LightGBM labels only", "LightGBM + 2,000 unlabeled", "SDCA labels only", "SDCA + 2,000 unlabeled" },
        };
        result.Add("AUC (test)", "AUC", true, "F4", new double?[] { teacherMetrics.AreaUnderRocCurve }.Concat(metrics.Select(m => (double?)m.AreaUnderRocCurve)).ToArray());
        result.Add("accuracy (test)", "fraction", true, "F4", new double?[] { teacherMetrics.Accuracy }.Concat(metrics.Select(m => (double?)m.Accuracy)).ToArray());
        result.Add("agreement with teacher (test)", "fraction", true, "F4", new double?[] { 1.0 }.Concat(students.Select(m => (double?)Agreement(m))).ToArray());
        result.Add("saved zip", "bytes", false, "F0", new double?[] { teacherFigures.ZipBytes }.Concat(studentFigures.Select(f => (double?)f.ZipBytes)).ToArray());
        result.Add("batch Transform", "rows/s", true, "F0", new double?[] { teacherFigures.BatchRowsPerSecond }.Concat(studentFigures.Select(f => (double?)f.BatchRowsPerSecond)).ToArray());
        result.Add("PredictionEngine", "rows/s", true, "F0", new double?[] { teacherFigures.EngineRowsPerSecond }.Concat(studentFigures.Select(f => (double?)f.EngineRowsPerSecond)).ToArray());
        foreach (var d in distilled) d.Dispose();
        return result;
    }

    /// <summary>Token ids as Features, Label as Boolean (the CSVs hold 0/1).</summary>
    private static IDataView Load(MLContext ml, string file)
    {
        var raw = ml.Data.LoadFromTextFile(Settings.DataPath(file), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' },
            Columns = new[] { new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, 128) },
        });
        return ml.Data.Cache(ml.Transforms.Conversion.ConvertType("Label", outputKind: DataKind.Boolean).Fit(raw).Transform(raw));
    }

    /// <summary>The network as ML.NET runs it (OnnxTransformer, logits only): zip size, batch and PredictionEngine rows/s.</summary>
    private static BinaryFigures MeasureTeacher(MLContext ml, Settings s, ITransformer teacher, DataViewSchema schema, IDataView test, List<TokenRow> rows)
    {
        long zipBytes;
        using (var zip = new MemoryStream())
        {
            ml.Model.Save(teacher, schema, zip);
            zipBytes = zip.Length;
        }
        double batch = Timing.RowsPerSecond(s, () =>
        {
            var scored = teacher.Transform(test);
            using var cursor = scored.GetRowCursor(new[] { scored.Schema["Score"] });
            var get = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            VBuffer<float> v = default;
            long n = 0;
            while (cursor.MoveNext()) { get(ref v); n++; }
            return n;
        });
        using var engine = ml.Model.CreateSharedPredictionEngine<TokenRow, LogitsPrediction>(teacher, test.Schema);
        var output = new LogitsPrediction();
        double engineRate = Timing.RowsPerSecond(s, () => { foreach (var r in rows) engine.Predict(r, ref output); return rows.Count; });
        return new BinaryFigures(double.NaN, zipBytes, batch, engineRate, double.NaN);
    }

    public sealed class TeacherScore
    {
        public bool Label { get; set; }
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }

    public sealed class TokenRow
    {
        public bool Label { get; set; }
        [VectorType(128)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class LogitsPrediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }
}
