using System.Diagnostics;
using Benchmarks.Common;
using Benchmarks.Trees;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;

namespace Benchmarks.Linear;

/// <summary>
/// A FeaturizeText + SDCA spam filter (SpamAssassin) with 90% of its coefficients pruned: the coefficients alone, then
/// with the featurizer's vocabulary cut to the kept n-grams (PruningOptions.Text.PruneFeaturizerVocabulary), then also INT8.
/// </summary>
public static class TextVocabularyScenario
{
    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        int rows = s.Quick ? 1000 : 3000;
        var (train, test, teacher, trainSeconds, width) = SpamTextTeacher(ml, rows);
        var sw = new Stopwatch();

        var fitSeconds = new List<double>();
        CompressedModel Fit(Func<IEstimator<CompressedModel>> chain)
        {
            sw.Restart();
            var model = chain().Fit(train);
            fitSeconds.Add(sw.Elapsed.TotalSeconds);
            return model;
        }
        using var coefficients = Fit(() => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.9 }));
        using var vocabulary = Fit(() => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.9, Text = { PruneFeaturizerVocabulary = true } }));
        using var int8 = Fit(() => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.9, Text = { PruneFeaturizerVocabulary = true } })
            .Append(ml.Compression().Quantize()));
        var models = new ITransformer[] { teacher, coefficients, vocabulary, int8 };

        var result = new ScenarioResult
        {
            Name = "Linear text: spamassassin FeaturizeText + SDCA, 90% of coefficients pruned, with and without the featurizer vocabulary",
            Description = $"data/spamassassin_3000.csv, first {rows} rows, 70/30 split (seed 7), {CountRows(test)} test rows; FeaturizeText(KeepDiacritics = true) on subject and on body, "
                + $"concatenated: {width} features; SdcaLogisticRegression(l1Regularization: 0), trained in {trainSeconds:F1} s. "
                + "'coefficients' prunes the predictor only (the featurization stays ML.NET's, with its whole vocabulary); 'vocabulary' also cuts the "
                + "FeaturizeText n-grams whose coefficients are zero (exported with ConvertToOnnx, run as an OnnxTransformer) and refits the kept coefficients; "
                + $"'vocabulary+int8' then quantizes the coefficients. Fit took {string.Join(", ", fitSeconds.Select(x => $"{x:F1} s"))}. "
                + "Scoring (TreeModelMeasure.ThroughputInTurns): Transform of the test rows with every prediction column read, and a PredictionEngine over the rows, "
                + "the models in turns, medians of the passes; wall-clock rows/s (ML.NET's featurization and ONNX Runtime partly run on other threads).",
            Variants = new[] { "teacher", "coefficients", "vocabulary", "vocabulary+int8" },
        };
        var metrics = models.Select(m => ml.BinaryClassification.Evaluate(m.Transform(test))).ToArray();
        result.Add("accuracy (test)", "accuracy", true, "F4", metrics.Select(m => (double?)m.Accuracy).ToArray());
        result.Add("AUC (test)", "AUC", true, "F4", metrics.Select(m => (double?)m.AreaUnderRocCurve).ToArray());
        result.Add("saved zip", "bytes", false, "F0", models.Select(m => (double?)ZipBytes(ml, m, train.Schema)).ToArray());

        var inputs = ml.Data.CreateEnumerable<SpamAssassinRow>(test, reuseRowObject: false).ToList();
        var throughput = TreeModelMeasure.ThroughputInTurns(ml, s, models, test, inputs);
        result.Add("batch Transform", "rows/s", true, "F0", throughput.Select(t => (double?)t.BatchRowsPerSecond).ToArray());
        result.Add("PredictionEngine", "rows/s", true, "F0", throughput.Select(t => (double?)t.EngineRowsPerSecond).ToArray());
        result.Notes.Add(vocabulary.Report.Stages[^1].Description);
        return result;
    }

    private static long CountRows(IDataView data)
    {
        long n = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext()) n++;
        return n;
    }

    private static long ZipBytes(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(model, schema, zip);
        return zip.Length;
    }
    /// <summary>
    /// The first <paramref name="rows"/> SpamAssassin e-mails split 70/30 (seed 7), and the FeaturizeText + SDCA teacher
    /// trained on the 70 %: KeepDiacritics = true and one FeaturizeText per text column (what ML.NET's ONNX export of
    /// FeaturizeText needs), no L1 term (SDCA's default alone zeroes ~99% of the coefficients, and pruning should be
    /// what removes them).
    /// </summary>
    internal static (IDataView Train, IDataView Test, ITransformer Teacher, double Seconds, int Width) SpamTextTeacher(MLContext ml, int rows)
    {
        var data = ml.Data.LoadFromTextFile(Settings.DataPath("spamassassin_3000.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("subject", DataKind.String, 1), new TextLoader.Column("body", DataKind.String, 2) },
        });
        var split = ml.Data.TrainTestSplit(ml.Data.TakeRows(data, rows), testFraction: 0.3, seed: 7);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
        var sw = Stopwatch.StartNew();
        var text = new TextFeaturizingEstimator.Options { KeepDiacritics = true };
        var teacher = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["ham"] = false }, "Label")
            .Append(ml.Transforms.Text.FeaturizeText("SubjectFeatures", text, "subject"))
            .Append(ml.Transforms.Text.FeaturizeText("BodyFeatures", text, "body"))
            .Append(ml.Transforms.Concatenate("Features", "SubjectFeatures", "BodyFeatures"))
            .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression(l1Regularization: 0))
            .Fit(train);
        double seconds = sw.Elapsed.TotalSeconds;
        int width = ((VectorDataViewType)teacher.Transform(test).Schema["Features"].Type).Size;
        return (train, test, teacher, seconds, width);
    }
}

/// <summary>One e-mail as the data file has it.</summary>
public sealed class SpamAssassinRow
{
    public string Label { get; set; } = "";
    public string subject { get; set; } = "";
    public string body { get; set; } = "";
}
