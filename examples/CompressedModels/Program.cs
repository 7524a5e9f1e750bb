// CompressedModels: trains ML.NET teachers on the data under data/, compresses them with Microsoft.ML.Compression,
// and writes, per scenario, into the folder given as the first argument:
//   <scenario>.zip              the compressed model, saved with ml.Model.Save: a plain ML.NET model
//   <scenario>.input.csv        the data file's header and its first 200 test rows, byte for byte
//   <scenario>.predictions.csv  this app's predictions (CompressedModel.Transform) on those rows
// examples/Consumer then loads the zips without the library and checks that it predicts the same.
// It also checks that no saved zip holds an ONNX model (exit code 1 if one does, or if a scenario fails).
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Examples.CompressedModels;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: CompressedModels <output folder>");
    return 2;
}
string outDir = Path.GetFullPath(args[0]);
Directory.CreateDirectory(outDir);
var work = Directory.CreateTempSubdirectory("compressed-models-");
var total = Stopwatch.StartNew();
var ml = new MLContext(seed: 1);
const int SavedRows = 200;

// Train/test split of each data file, on its lines: 20 % of the rows (seeded shuffle, then kept in source order)
// are the test rows. The data files have one record per line (data/README.md), so the first 200 test rows can be
// copied byte for byte into <scenario>.input.csv, which the Consumer loads with the same TextLoader options.
var splits = new Dictionary<string, (IDataView Train, IDataView Test, string Header, string[] TestLines)>();
(IDataView Train, IDataView Test, string Header, string[] TestLines) Split(string dataFile)
{
    if (splits.TryGetValue(dataFile, out var cached)) return cached;
    var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Data", dataFile));
    string header = lines[0];
    var rows = lines.Skip(1).Where(l => l.Length > 0).ToArray();
    int multiline = Array.FindIndex(rows, l => l.Count(c => c == '"') % 2 != 0);
    if (multiline >= 0) throw new InvalidDataException($"{dataFile}: line {multiline + 2} has an unclosed quote (a record over several lines)");
    var order = Enumerable.Range(0, rows.Length).ToArray();
    new Random(7).Shuffle(order);
    int testCount = rows.Length / 5;
    var testIdx = order.Take(testCount).Order().ToArray();
    var trainIdx = order.Skip(testCount).Order().ToArray();
    string trainPath = Path.Combine(work.FullName, "train-" + dataFile), testPath = Path.Combine(work.FullName, "test-" + dataFile);
    File.WriteAllText(trainPath, header + "\n" + string.Join("\n", trainIdx.Select(i => rows[i])) + "\n");
    File.WriteAllText(testPath, header + "\n" + string.Join("\n", testIdx.Select(i => rows[i])) + "\n");
    var split = (ml.Data.Cache(DataFiles.Load(ml, dataFile, trainPath)), ml.Data.Cache(DataFiles.Load(ml, dataFile, testPath)),
        header, testIdx.Select(i => rows[i]).ToArray());
    splits[dataFile] = split;
    return split;
}

// Churn featurization, as the tests have it: Yes/No -> Boolean label, one-hot categoricals, NaN -> mean.
IEstimator<ITransformer> ChurnFeaturize() =>
    ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["Yes"] = true, ["No"] = false }, "Label")
        .Append(ml.Transforms.Categorical.OneHotEncoding(DataFiles.ChurnCategorical.Select(c => new InputOutputColumnPair(c + "_onehot", c)).ToArray()))
        .Append(ml.Transforms.ReplaceMissingValues(DataFiles.ChurnNumeric.Select(c => new InputOutputColumnPair(c + "_filled", c)).ToArray()))
        .Append(ml.Transforms.Concatenate("Features", DataFiles.ChurnCategorical.Select(c => c + "_onehot").Concat(DataFiles.ChurnNumeric.Select(c => c + "_filled")).ToArray()));

ITransformer? churnTeacher = null;
ITransformer ChurnTeacher(IDataView train) =>
    churnTeacher ??= ChurnFeaturize().Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 200)).Fit(train);

var int8 = new QuantizationOptions { Precision = Precision.Int8 };

// Each scenario: the teacher (trained on the training rows) and the compression estimator that makes the model saved.
var builders = new Dictionary<string, Func<IDataView, (ITransformer Teacher, Func<CompressedModel> Compress)>>
{
    // a. FastTree 200 trees, pruned to 20 % of its trees and leaves, then INT8 leaves.
    ["binary-fasttree"] = train =>
    {
        var teacher = ChurnTeacher(train);
        return (teacher, () => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.8 })
            .Append(ml.Compression().Quantize(int8)).Fit(train));
    },
    // b. The same teacher distilled into a 50-tree LightGBM student, then pruned and quantized.
    ["binary-distilled-lightgbm"] = train =>
    {
        var teacher = ChurnTeacher(train);
        return (teacher, () => ml.Compression()
            .Distill(teacher, ChurnFeaturize().Append(ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 50)))
            .Append(ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 }))
            .Append(ml.Compression().Quantize(int8)).Fit(train));
    },
    // c. String labels A..Z: MapValueToKey + LightGBM multiclass (20 iterations x 26 classes) + MapKeyToValue, pruned.
    ["multiclass-letter-lightgbm"] = train =>
    {
        var teacher = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 20))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(train);
        return (teacher, () => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(train));
    },
    // d. Wages: one-hot categoricals (as the tests do) + FastTree regression 200 trees, pruned + INT8.
    ["regression-cps-fasttree"] = train =>
    {
        var teacher = ml.Transforms.Categorical.OneHotEncoding(new[]
            {
                new InputOutputColumnPair("ethnicity"), new InputOutputColumnPair("smsa"),
                new InputOutputColumnPair("region"), new InputOutputColumnPair("parttime"),
            })
            .Append(ml.Transforms.Concatenate("Features", "education", "experience", "ethnicity", "smsa", "region", "parttime"))
            .Append(ml.Regression.Trainers.FastTree(numberOfTrees: 200)).Fit(train);
        return (teacher, () => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 })
            .Append(ml.Compression().Quantize(int8)).Fit(train));
    },
    // e. Calibrated SDCA logistic regression on the churn features (min-max normalized), half its weights pruned.
    ["linear-churn-sdca"] = train =>
    {
        var teacher = ChurnFeaturize().Append(ml.Transforms.NormalizeMinMax("Features"))
            .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression(maximumNumberOfIterations: 20)).Fit(train);
        return (teacher, () => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(train));
    },
    // f. Text: FeaturizeText on subject and body + SDCA logistic regression, half its weights pruned.
    ["text-spam-lbfgs"] = train =>
    {
        var teacher = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["ham"] = false }, "Label")
            .Append(ml.Transforms.Text.FeaturizeText("Features", new TextFeaturizingEstimator.Options(), "subject", "body"))
            .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression()).Fit(train);
        return (teacher, () => ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(train));
    },
};

// Further arguments, if any, pick scenarios by name (the Consumer checks all of them).
var selected = args.Length > 1 ? Scenarios.All.Where(s => args.Skip(1).Contains(s.Name)).ToArray() : Scenarios.All;
var failures = new List<string>();
foreach (var scenario in selected)
{
    var sw = Stopwatch.StartNew();
    string step = "split the data";
    Console.WriteLine($"== {scenario.Name}: {scenario.Description}");
    try
    {
        var (train, test, header, testLines) = Split(scenario.DataFile);
        step = "train the teacher";
        var (teacher, compress) = builders[scenario.Name](train);
        double teacherSeconds = sw.Elapsed.TotalSeconds;
        step = "compress (ml.Compression()...Fit)";
        using CompressedModel compressed = compress();
        double compressSeconds = sw.Elapsed.TotalSeconds - teacherSeconds;
        step = "evaluate";
        string metric = Metric(scenario, test, teacher, compressed);

        step = "save the zip";
        string zipPath = scenario.ZipPath(outDir);
        ml.Model.Save(compressed, train.Schema, zipPath);
        File.WriteAllText(scenario.InputPath(outDir), header + "\n" + string.Join("\n", testLines.Take(SavedRows)) + "\n");
        step = "predict the saved rows";
        var input = DataFiles.Load(ml, scenario.DataFile, scenario.InputPath(outDir));
        var predictions = PredictionCsv.FromScored(compressed.Transform(input));
        if (predictions.Count != SavedRows) throw new InvalidDataException($"{predictions.Count} predictions for {SavedRows} rows");
        PredictionCsv.Write(scenario.PredictionsPath(outDir), predictions);

        step = "check the zip";
        var findings = OnnxFindings(zipPath);
        Console.WriteLine($"   {metric}; zip {new FileInfo(zipPath).Length:N0} bytes ({compressed.Report.Original.ZipBytes:N0} before); "
            + $"{sw.Elapsed.TotalSeconds:F1} s (data + teacher {teacherSeconds:F1} s, compression {compressSeconds:F1} s)");
        Console.WriteLine($"   stages: {string.Join(" | ", compressed.Report.Stages.Skip(1).Select(s => $"{s.Stage}: {s.Description}"))}");
        if (findings.Count == 0)
            Console.WriteLine($"   ONNX in the zip: none ({Path.GetFileName(zipPath)}: {ZipEntryCount(zipPath)} entries checked)");
        else
        {
            Console.WriteLine($"   FAIL: the saved zip {zipPath} contains an ONNX model: {string.Join("; ", findings)}");
            failures.Add($"{scenario.Name}: the saved zip contains an ONNX model ({string.Join("; ", findings)})");
        }
    }
    catch (Exception ex)
    {
        string where = step.StartsWith("compress") ? "inside the library, " : "";
        Console.WriteLine($"   FAIL {where}at step '{step}': {ex.GetType().FullName}: {ex.Message}");
        Console.WriteLine(Indent(ex.ToString()));
        failures.Add($"{scenario.Name}: {where}at step '{step}': {ex.GetType().FullName}: {ex.Message}");
    }
}

work.Delete(recursive: true);
Console.WriteLine();
Console.WriteLine($"Output folder: {outDir}; total run time {total.Elapsed.TotalSeconds:F1} s.");
if (failures.Count > 0)
{
    Console.WriteLine($"FAILED: {failures.Count} of {selected.Length} scenarios:");
    foreach (var f in failures) Console.WriteLine("  " + f);
    return 1;
}
Console.WriteLine($"OK: {selected.Length} compressed models saved as plain ML.NET zips, none with an ONNX model.");
return 0;

// Teacher vs compressed on the test rows: AUC (binary), accuracy (multiclass), RMSE (regression).
string Metric(Scenario s, IDataView test, ITransformer teacher, ITransformer compressed)
{
    switch (s.Kind)
    {
        case ScenarioKind.Binary:
            double Auc(ITransformer m) => ml.BinaryClassification.EvaluateNonCalibrated(m.Transform(test)).AreaUnderRocCurve;
            return $"AUC teacher {Auc(teacher):F4}, compressed {Auc(compressed):F4}";
        case ScenarioKind.Multiclass:
            var truth = test.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString()).ToArray();
            double Accuracy(ITransformer m) => PredictionCsv.FromScored(m.Transform(test)).Zip(truth).Count(p => p.First.Label == p.Second) / (double)truth.Length;
            return $"accuracy teacher {Accuracy(teacher):F4}, compressed {Accuracy(compressed):F4}";
        default:
            double Rmse(ITransformer m) => ml.Regression.Evaluate(m.Transform(test)).RootMeanSquaredError;
            return $"RMSE teacher {Rmse(teacher):F2}, compressed {Rmse(compressed):F2}";
    }
}

// ONNX in a saved ML.NET zip: an entry named OnnxModel or *.onnx, or a Model.key whose header names the loader
// signature of ML.NET's OnnxTransformer ("OnnxTransform", ASCII in the header; UTF-16 checked as well).
static List<string> OnnxFindings(string zipPath)
{
    var found = new List<string>();
    using var zip = ZipFile.OpenRead(zipPath);
    foreach (var entry in zip.Entries)
    {
        if (entry.FullName.Contains("OnnxModel", StringComparison.OrdinalIgnoreCase) || entry.FullName.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            found.Add($"entry '{entry.FullName}'");
        if (entry.Name.Equals("Model.key", StringComparison.OrdinalIgnoreCase))
        {
            using var stream = entry.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.ToArray();
            if (bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes("OnnxTransform")) >= 0 || bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes("OnnxTransform")) >= 0)
                found.Add($"'{entry.FullName}' has the loader signature OnnxTransform");
        }
    }
    return found;
}

static int ZipEntryCount(string zipPath)
{
    using var zip = ZipFile.OpenRead(zipPath);
    return zip.Entries.Count;
}

static string Indent(string text) => string.Join("\n", text.Split('\n').Take(12).Select(l => "      " + l.TrimEnd()));
