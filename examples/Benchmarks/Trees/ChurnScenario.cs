using System.Diagnostics;
using Benchmarks.Common;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace Benchmarks.Trees;

/// <summary>(a) FastTree teacher on wa_churn vs the distilled + pruned + INT8 student (as in the QuickStart).</summary>
public static class ChurnScenario
{
    private static readonly string[] Numeric = { "female", "senior_citizen", "partner", "dependents", "tenure", "phone_service", "paperless_billing", "monthly_charges", "total_charges" };
    private static readonly string[] Categorical = { "multiple_lines", "internet_service", "online_security", "online_backup", "device_protection", "tech_support", "streaming_tv", "streaming_movies", "contract", "payment_method" };

    /// <summary>The leaf pruning tolerance of the "+ leaves" variant.</summary>
    private const double LeafTolerance = 0.1;

    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        string path = Settings.DataPath("wa_churn.csv");
        string[] header = File.ReadLines(path).First().Split(',');
        var loader = ml.Data.CreateTextLoader(new TextLoader.Options
        {
            Columns = header.Select((name, i) => new TextLoader.Column(name, Numeric.Contains(name) ? DataKind.Single : DataKind.String, i)).ToArray(),
            Separators = new[] { ',' }, HasHeader = true, AllowQuoting = true, MissingRealsAsNaNs = true,
        });
        var split = ml.Data.TrainTestSplit(loader.Load(path), testFraction: 0.2, seed: 1);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);

        IEstimator<ITransformer> Featurize() =>
            ml.Transforms.Conversion.MapValue("Label", new[] { new KeyValuePair<string, bool>("Yes", true), new KeyValuePair<string, bool>("No", false) })
                .Append(ml.Transforms.Categorical.OneHotEncoding(Categorical.Select(c => new InputOutputColumnPair(c + "_onehot", c)).ToArray()))
                .Append(ml.Transforms.ReplaceMissingValues(Numeric.Select(c => new InputOutputColumnPair(c + "_filled", c)).ToArray()))
                .Append(ml.Transforms.Concatenate("Features", Categorical.Select(c => c + "_onehot").Concat(Numeric.Select(c => c + "_filled")).ToArray()));

        var sw = Stopwatch.StartNew();
        var teacher = Featurize().Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: s.ChurnTeacherTrees)).Fit(train);
        double trainSeconds = sw.Elapsed.TotalSeconds;

        var seconds = new List<double>();
        CompressedModel Compress(string name, double leafTolerance)
        {
            sw.Restart();
            var model = StageProgress.Run(name, progress => ml.Compression()
                .Distill(teacher, Featurize().Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: s.ChurnStudentTrees)))
                .Append(ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5, Trees = { LeafPruningTolerance = leafTolerance } }))
                .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }))
                .WithProgress(progress)
                .Fit(train));
            seconds.Add(sw.Elapsed.TotalSeconds);
            return model;
        }
        using var compressed = Compress("churn", 0);
        using var leaves = Compress("churn + leaves", LeafTolerance);

        var rows = ml.Data.CreateEnumerable<ChurnRow>(test, reuseRowObject: false).ToList();
        var models = new ITransformer[] { teacher, compressed, leaves };
        var sizes = models.Select(m => TreeModelMeasure.Size(TreeModelMeasure.Onnx(ml, m, train))).ToArray();

        var result = new ScenarioResult
        {
            Name = "Trees: wa_churn, FastTree teacher vs distilled + pruned + INT8 student",
            Description = $"Teacher FastTree {s.ChurnTeacherTrees} trees; student FastTree {s.ChurnStudentTrees} trees distilled from it, half of its trees pruned (LeafPruningTolerance 0), leaves INT8; "
                + $"\"+ leaves\": the same with leaf/node pruning in the Prune stage (LeafPruningTolerance {LeafTolerance}). "
                + $"80/20 split (seed 1), {rows.Count} test rows. Throughput measured in turns (one pass of each model per round), medians; CPU µs/row is the process's CPU time per row. Teacher trained in {trainSeconds:F1} s, compression took {string.Join(" / ", seconds.Select(x => x.ToString("F1")))} s.",
            Variants = new[] { "teacher", "compressed", "compressed + leaves" },
        };
        result.Add("AUC (test)", "AUC", true, "F4", models.Select(m => (double?)ml.BinaryClassification.Evaluate(m.Transform(test)).AreaUnderRocCurve).ToArray());
        result.Add("tree nodes (leaves included)", "nodes", false, "F0", sizes.Select(x => (double?)x.Nodes).ToArray());
        result.Add("ONNX (whole pipeline)", "bytes", false, "F0", sizes.Select(x => (double?)x.OnnxBytes).ToArray());
        result.Add("saved zip", "bytes", false, "F0", models.Select(m => (double?)SavedBytes(ml, m, train.Schema)).ToArray());
        // Last: the throughput turns dispose their PredictionEngines (see SpamScenario).
        var speed = TreeModelMeasure.ThroughputInTurns(ml, s, models, test, rows);
        result.Add("batch Transform", "rows/s", true, "F0", speed.Select(x => (double?)x.BatchRowsPerSecond).ToArray());
        result.Add("batch Transform CPU", "µs/row", false, "F2", speed.Select(x => (double?)x.BatchCpuMicrosecondsPerRow).ToArray());
        result.Add("PredictionEngine", "rows/s", true, "F0", speed.Select(x => (double?)x.EngineRowsPerSecond).ToArray());
        result.Add("PredictionEngine CPU", "µs/row", false, "F2", speed.Select(x => (double?)x.EngineCpuMicrosecondsPerRow).ToArray());
        result.Notes.Add($"compressed + leaves, Prune stage: {leaves.Report.Stages.First(st => st.Stage == "Prune").Description}");
        return result;
    }

    private static long SavedBytes(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(model, schema, zip);
        return zip.Length;
    }
}
