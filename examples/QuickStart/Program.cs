// QuickStart: compress a 500-tree FastTree churn model (IBM Telco customer churn data) into a 20-tree student,
// prune half of its trees, quantize its leaves to INT8, and compare it with the teacher.
using System.Diagnostics;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

var ml = new MLContext(seed: 1);
var total = Stopwatch.StartNew();

// 1. Data: Label is "Yes"/"No"; numeric fields may be empty (missing), read as NaN.
string dataPath = Path.Combine(AppContext.BaseDirectory, "Data", "wa_churn.csv");
string[] numeric = { "female", "senior_citizen", "partner", "dependents", "tenure", "phone_service", "paperless_billing", "monthly_charges", "total_charges" };
string[] categorical = { "multiple_lines", "internet_service", "online_security", "online_backup", "device_protection", "tech_support", "streaming_tv", "streaming_movies", "contract", "payment_method" };
string[] header = File.ReadLines(dataPath).First().Split(',');
var columns = header.Select((name, i) => new TextLoader.Column(name,
    numeric.Contains(name) ? DataKind.Single : DataKind.String, i)).ToArray();
var loader = ml.Data.CreateTextLoader(new TextLoader.Options
{
    Columns = columns,
    Separators = new[] { ',' },
    HasHeader = true,
    AllowQuoting = true,
    MissingRealsAsNaNs = true,
});
IDataView data = loader.Load(dataPath);
var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: 1);
// A fifth of the training rows is kept from the teacher: Distill chooses its student on them (see step 4).
var fit = ml.Data.TrainTestSplit(split.TrainSet, testFraction: 0.2, seed: 1);
IDataView train = ml.Data.Cache(fit.TrainSet), validation = ml.Data.Cache(fit.TestSet), test = ml.Data.Cache(split.TestSet);
long testRows = test.GetRowCount() ?? ml.Data.CreateEnumerable<ChurnRow>(test, reuseRowObject: true).LongCount();
Console.WriteLine($"Data: {Path.GetFileName(dataPath)}, {ml.Data.CreateEnumerable<ChurnRow>(train, true).Count()} train rows, " +
    $"{ml.Data.CreateEnumerable<ChurnRow>(validation, true).Count()} validation rows, {testRows} test rows.");

// 2. Featurization shared by teacher and student: Yes/No -> Boolean label, one-hot categoricals, NaN -> mean.
IEstimator<ITransformer> Featurize() =>
    ml.Transforms.Conversion.MapValue("Label", new[] { new KeyValuePair<string, bool>("Yes", true), new KeyValuePair<string, bool>("No", false) })
        .Append(ml.Transforms.Categorical.OneHotEncoding(categorical.Select(c => new InputOutputColumnPair(c + "_onehot", c)).ToArray()))
        .Append(ml.Transforms.ReplaceMissingValues(numeric.Select(c => new InputOutputColumnPair(c + "_filled", c)).ToArray()))
        .Append(ml.Transforms.Concatenate("Features", categorical.Select(c => c + "_onehot").Concat(numeric.Select(c => c + "_filled")).ToArray()));

// 3. Teacher: FastTree with 500 trees.
var sw = Stopwatch.StartNew();
ITransformer teacher = Featurize().Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 500)).Fit(train);
Console.WriteLine($"Teacher (FastTree, 500 trees) trained in {sw.Elapsed.TotalSeconds:F1} s.");

// 4. Compress: distill into 20 trees, prune half of them, quantize the leaves to INT8. The student's trainer reads
//    an example-weight column, so it learns the teacher's exact soft targets (one weighted row per class; Distill
//    adds the column). Distill trains the student on the labels alone too, and returns it when no distilled student
//    beats it on the validation rows: rows the teacher never saw, because a teacher's own training rows flatter the
//    students that learned from it (docs/stages.md). The chain reports each stage's start and end to an IProgress;
//    StageProgress shows them as a live progress bar on a terminal and as plain lines when the output is redirected.
sw.Restart();
var compress = ml.Compression()
    .Distill(teacher, Featurize().Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, exampleWeightColumnName: "Weight")),
        new DistillationOptions { Selection = { ValidationData = validation } })
    .Append(ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 }))
    .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }))
    .WithEvaluationData(test);
using CompressedModel compressed = StageProgress.Run("compress", progress => compress.WithProgress(progress).Fit(train));
Console.WriteLine($"Compressed in {sw.Elapsed.TotalSeconds:F1} s.");
Console.WriteLine();
Console.WriteLine(compressed.Report);

// 5. Teacher vs compressed on the test set.
var teacherStats = Measure("teacher", teacher);
var compressedStats = Measure("compressed", compressed);
Console.WriteLine($"{"",-22} {"teacher",12} {"compressed",12} {"ratio",8}");
Row("AUC (test)", teacherStats.Auc, compressedStats.Auc, "F4");
Row("saved zip (bytes)", teacherStats.ZipBytes, compressedStats.ZipBytes, "F0");
Row("batch rows/s", teacherStats.BatchRowsPerSecond, compressedStats.BatchRowsPerSecond, "F0");
Row("PredictionEngine rows/s", teacherStats.EngineRowsPerSecond, compressedStats.EngineRowsPerSecond, "F0");
Console.WriteLine();
Console.WriteLine($"(ratio = compressed / teacher; batch = median of 5 full passes over the {testRows} test rows)");

// 6. Save and load: the compressed tree student is still a native ML.NET model, so the app that uses it loads the
//    zip the way it always did, with ml.Model.Load: no ml.Compression(), no ONNX Runtime (examples/Consumer shows an
//    app that references only Microsoft.ML, FastTree and LightGbm).
string saved = Path.Combine(Path.GetTempPath(), $"quickstart-churn-{Guid.NewGuid():N}.zip");
ml.Model.Save(compressed, train.Schema, saved);
var app = new MLContext();
ITransformer loaded = app.Model.Load(saved, out _);
File.Delete(saved);
double reloadedAuc = app.BinaryClassification.Evaluate(loaded.Transform(test)).AreaUnderRocCurve;
Console.WriteLine($"Reloaded from zip with ml.Model.Load: {loaded.GetType().Name}, AUC (test) {reloadedAuc:F4}.");
var plainStats = Measure("reloaded", loaded);
Console.WriteLine($"{"reloaded:",-22} {"teacher",12} {"Model.Load",12} {"ratio",8}");
Row("batch rows/s", teacherStats.BatchRowsPerSecond, plainStats.BatchRowsPerSecond, "F0");
Row("PredictionEngine rows/s", teacherStats.EngineRowsPerSecond, plainStats.EngineRowsPerSecond, "F0");
Console.WriteLine($"Total run time {total.Elapsed.TotalSeconds:F1} s.");

(double Auc, double ZipBytes, double BatchRowsPerSecond, double EngineRowsPerSecond) Measure(string name, ITransformer model)
{
    double auc = ml.BinaryClassification.Evaluate(model.Transform(test)).AreaUnderRocCurve;

    string zip = Path.Combine(Path.GetTempPath(), $"quickstart-{name}-{Guid.NewGuid():N}.zip");
    ml.Model.Save(model, train.Schema, zip);
    long bytes = new FileInfo(zip).Length;
    File.Delete(zip);

    // Batch scoring: transform the whole test set and read every prediction column of every row.
    ScoreAll(model); // warm-up
    var times = new List<double>();
    for (int i = 0; i < 5; i++)
    {
        var t = Stopwatch.StartNew();
        long n = ScoreAll(model);
        times.Add(n / t.Elapsed.TotalSeconds);
    }
    times.Sort();

    // One row at a time through a PredictionEngine.
    var rows = ml.Data.CreateEnumerable<ChurnRow>(test, reuseRowObject: false).ToList();
    using var engine = ml.Model.CreateSharedPredictionEngine<ChurnRow, ChurnPrediction>(model, test.Schema);
    foreach (var r in rows.Take(100)) engine.Predict(r); // warm-up
    var e = Stopwatch.StartNew();
    int predicted = 0;
    while (e.Elapsed.TotalSeconds < 1.0 || predicted < rows.Count)
        foreach (var r in rows) { engine.Predict(r); predicted++; }
    return (auc, bytes, times[times.Count / 2], predicted / e.Elapsed.TotalSeconds);
}

long ScoreAll(ITransformer model)
{
    var scored = model.Transform(test);
    var cols = new[] { "PredictedLabel", "Score", "Probability" }.Select(c => scored.Schema[c]).ToArray();
    using var cursor = scored.GetRowCursor(cols);
    var label = cursor.GetGetter<bool>(cols[0]);
    var score = cursor.GetGetter<float>(cols[1]);
    var prob = cursor.GetGetter<float>(cols[2]);
    bool l = false; float s = 0, p = 0;
    long n = 0;
    while (cursor.MoveNext()) { label(ref l); score(ref s); prob(ref p); n++; }
    return n;
}

static void Row(string name, double teacher, double compressed, string format)
    => Console.WriteLine($"{name,-22} {teacher.ToString(format),12} {compressed.ToString(format),12} {(teacher != 0 ? (compressed / teacher).ToString("F2") + "x" : "-"),8}");

/// <summary>The model's prediction for one customer.</summary>
public sealed class ChurnPrediction
{
    public bool PredictedLabel { get; set; }
    public float Score { get; set; }
    public float Probability { get; set; }
}
