#!/usr/bin/env python3
"""Writes examples/notebooks/*.ipynb (C# / .NET Interactive) without outputs. Edit the cells here, then run
    python3 tools/make_notebooks.py
"""
import json, os, re

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ROOT = os.path.join(REPO, "examples", "notebooks")


def _versions():
    """The package versions of the build (Directory.Build.props, Directory.Packages.props; default ML.NET), so that
    the notebooks restore exactly what the library was built and tested against."""
    build = open(os.path.join(REPO, "Directory.Build.props"), encoding="utf-8").read()
    packages = open(os.path.join(REPO, "Directory.Packages.props"), encoding="utf-8").read()
    prop = lambda name: re.search(r"<%s>([^<$]+)</%s>" % (name, name), build).group(1)
    mlnet = prop("MlNetDefaultVersion")
    extras = re.search(r"<MlNetExtrasVersion Condition=\"[^\"]*'%s'\">([^<]+)<" % re.escape(mlnet), build).group(1)
    pinned = dict(re.findall(r'<PackageVersion Include="([^"]+)" Version="([^"$]+)"', packages))
    return {"mlnet": mlnet, "extras": extras, "onnxruntime": prop("MicrosoftMLOnnxRuntimeVersion"), **pinned}


V = _versions()

REFS = f'''// The library from this repository's own Release build (run build.sh first), its formatter for notebooks,
// and the packages the library depends on.
#r "../../Microsoft.ML.Compression/bin/Release/net10.0/Microsoft.ML.Compression.dll"
#r "../../Microsoft.ML.Compression.Interactive/bin/Release/net10.0/Microsoft.ML.Compression.Interactive.dll"
#r "nuget: Microsoft.ML, {V["mlnet"]}"
#r "nuget: Microsoft.ML.FastTree, {V["mlnet"]}"
#r "nuget: Microsoft.ML.OnnxTransformer, {V["mlnet"]}"
#r "nuget: Microsoft.ML.OnnxConverter, {V["extras"]}"
#r "nuget: Microsoft.ML.OnnxRuntime, {V["onnxruntime"]}"
#r "nuget: OnnxSharp, {V["OnnxSharp"]}"
#r "nuget: System.IO.Hashing, {V["System.IO.Hashing"]}"'''


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip("\n").splitlines(keepends=True)}


def code(text):
    return {"cell_type": "code", "execution_count": None,
            "metadata": {"dotnet_interactive": {"language": "csharp"}, "polyglot_notebook": {"kernelName": "csharp"}},
            "outputs": [], "source": text.strip("\n").splitlines(keepends=True)}


def notebook(cells):
    return {"cells": cells,
            "metadata": {"kernelspec": {"display_name": ".NET (C#)", "language": "C#", "name": ".net-csharp"},
                         "language_info": {"file_extension": ".cs", "mimetype": "text/x-csharp", "name": "C#",
                                           "pygments_lexer": "csharp", "version": "13.0"},
                         "polyglot_notebook": {"kernelInfo": {"defaultKernelName": "csharp",
                                                              "items": [{"aliases": [], "name": "csharp"}]}}},
            "nbformat": 4, "nbformat_minor": 5}


quickstart = notebook([
    md('''
# Microsoft.ML.Compression: quick start

Trains a 500-tree FastTree churn model (IBM Telco customer churn, `data/wa_churn.csv`), then compresses it in one
chain: **distill** into a 20-tree student, **prune** half of its trees, **quantize** its leaves to INT8. Shows the
compression report and compares teacher and compressed model on held-out data.

Run `bash build.sh` in the repository root first: the notebook loads the library from the Release build. Paths are
relative to this notebook's folder (`examples/notebooks`), which must be the working directory of the kernel
(VS Code Polyglot Notebooks and `.ci/notebooks.sh` both do that).
'''),
    code(REFS),
    code('''
using System.IO;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Interactive;

CompressionFormatters.Register();   // a CompressionReport at the end of a cell shows as an HTML table
var ml = new MLContext(seed: 1);
'''),
    md('''
## Data

`Label` is `Yes`/`No`; nine numeric columns (a few `total_charges` are empty: read as NaN) and ten categorical ones.
80/20 train/test split with a fixed seed.
'''),
    code('''
string dataPath = Path.Combine("..", "..", "data", "wa_churn.csv");
string[] numeric = { "female", "senior_citizen", "partner", "dependents", "tenure", "phone_service", "paperless_billing", "monthly_charges", "total_charges" };
string[] categorical = { "multiple_lines", "internet_service", "online_security", "online_backup", "device_protection", "tech_support", "streaming_tv", "streaming_movies", "contract", "payment_method" };
string[] header = File.ReadLines(dataPath).First().Split(',');
var loader = ml.Data.CreateTextLoader(new TextLoader.Options
{
    Columns = header.Select((name, i) => new TextLoader.Column(name, numeric.Contains(name) ? DataKind.Single : DataKind.String, i)).ToArray(),
    Separators = new[] { ',' },
    HasHeader = true,
    MissingRealsAsNaNs = true,
});
var split = ml.Data.TrainTestSplit(loader.Load(dataPath), testFraction: 0.2, seed: 1);
IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
$"{train.GetColumn<string>("Label").Count()} train rows, {test.GetColumn<string>("Label").Count()} test rows"
'''),
    md('''
## Teacher

Featurization shared by teacher and student (Yes/No → Boolean label, one-hot categoricals, NaN → mean), then FastTree
with 500 trees.
'''),
    code('''
IEstimator<ITransformer> Featurize() =>
    ml.Transforms.Conversion.MapValue("Label", new[] { new KeyValuePair<string, bool>("Yes", true), new KeyValuePair<string, bool>("No", false) })
        .Append(ml.Transforms.Categorical.OneHotEncoding(categorical.Select(c => new InputOutputColumnPair(c + "_onehot", c)).ToArray()))
        .Append(ml.Transforms.ReplaceMissingValues(numeric.Select(c => new InputOutputColumnPair(c + "_filled", c)).ToArray()))
        .Append(ml.Transforms.Concatenate("Features", categorical.Select(c => c + "_onehot").Concat(numeric.Select(c => c + "_filled")).ToArray()));

ITransformer teacher = Featurize().Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 500)).Fit(train);
'''),
    md('''
## Compress: Distill → Prune → Quantize
'''),
    code('''
var compress = ml.Compression()
    .Distill(teacher, Featurize().Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, exampleWeightColumnName: "Weight")))
    .Append(ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 }))
    .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }))
    .WithEvaluationData(test);
CompressedModel compressed = compress.Fit(train);
compressed.Report
'''),
    md('''
Without the formatter package, the same table is `display(HTML(compressed.Report.ToHtml()))`; as text,
`compressed.Report.ToString()`; as JSON, `compressed.Report.ToJson()`.

## Teacher vs compressed on the test set
'''),
    code('''
long ZipBytes(ITransformer model)
{
    string zip = Path.Combine(Path.GetTempPath(), $"nb-{Guid.NewGuid():N}.zip");
    ml.Model.Save(model, train.Schema, zip);
    long bytes = new FileInfo(zip).Length;
    File.Delete(zip);
    return bytes;
}

var rows = new[] { ("teacher", teacher), ("compressed", (ITransformer)compressed) }.Select(m =>
{
    var metrics = ml.BinaryClassification.Evaluate(m.Item2.Transform(test));
    return new { model = m.Item1, AUC = Math.Round(metrics.AreaUnderRocCurve, 4), accuracy = Math.Round(metrics.Accuracy, 4),
                 F1 = Math.Round(metrics.F1Score, 4), zipBytes = ZipBytes(m.Item2) };
}).ToList();
rows
'''),
    code('''
var r = compressed.Report;
$"{r.Original.ZipBytes / (double)r.Final.ZipBytes:F1}x smaller zip; test AUC {r.Original.EvaluationMetric:F4} -> {r.Final.EvaluationMetric:F4}"
'''),
    md('''
## Save, and load it back in the application

The compressed student is still a native ML.NET model (a tree ensemble with fewer trees, its leaves on the INT8
grid), so the saved zip is an ordinary ML.NET model: the application loads it with `ml.Model.Load`, as it always did,
without this library or ONNX Runtime (`examples/Consumer` does exactly that).
'''),
    code('''
string saved = Path.Combine(Path.GetTempPath(), $"nb-churn-{Guid.NewGuid():N}.zip");
ml.Model.Save(compressed, train.Schema, saved);
var app = new MLContext();
ITransformer deployed = app.Model.Load(saved, out var inputSchema);
File.Delete(saved);
var reloaded = app.BinaryClassification.Evaluate(deployed.Transform(test));
$"loaded back with ml.Model.Load: {deployed.GetType().Name}, test AUC {reloaded.AreaUnderRocCurve:F4}"
'''),
])

onnx = notebook([
    md('''
# Compressing an ONNX network

Quantizes and prunes `data/models/fashion_mlp.onnx` (Fashion-MNIST MLP: 784 → 300 → 100 → 10, 266,611 weights),
calibrating on `data/fashion_mnist_calib_512.csv` (512 rows of the training split) and measuring accuracy on
`data/fashion_mnist_test_1000.csv` (1,000 rows of the official test split, which the network never saw).

Run `bash build.sh` in the repository root first. Paths are relative to this notebook's folder.
'''),
    code(REFS),
    code('''
using System.IO;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Interactive;

CompressionFormatters.Register();
var ml = new MLContext(seed: 1);
string modelPath = Path.Combine("..", "..", "data", "models", "fashion_mlp.onnx");

// Label (class id 0-9), then 784 raw pixels 0-255 as the float vector "Features", the network's input.
IDataView Load(string file) => ml.Data.LoadFromTextFile(Path.Combine("..", "..", "data", file), new TextLoader.Options
{
    HasHeader = true, Separators = new[] { ',' },
    Columns = new[] { new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, 784) },
});
IDataView calibration = ml.Data.Cache(Load("fashion_mnist_calib_512.csv"));
IDataView test = ml.Data.Cache(Load("fashion_mnist_test_1000.csv"));
int[] labels = test.GetColumn<float>("Label").Select(l => (int)l).ToArray();

// The network outputs logits ("Score"); the predicted class is the argmax.
double Accuracy(ITransformer model)
{
    var logits = model.Transform(test).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray());
    return labels.Zip(logits).Count(p => Array.IndexOf(p.Second, p.Second.Max()) == p.First) / (double)labels.Length;
}
'''),
    md('''
## Variants

Each variant is fitted on the calibration data; the file itself is never changed.
'''),
    code('''
var variants = new (string Name, Func<CompressedModel> Fit)[]
{
    ("INT8 weights", () => ml.Compression().Quantize(modelPath, new QuantizationOptions { Precision = Precision.Int8 }).Fit(calibration)),
    ("INT8 static (QDQ)", () => ml.Compression().Quantize(modelPath, new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 256 } }).Fit(calibration)),
    ("INT4 block-wise", () => ml.Compression().Quantize(modelPath, new QuantizationOptions { Precision = Precision.Int4 }).Fit(calibration)),
    ("prune 80%", () => ml.Compression().Prune(modelPath, new PruningOptions { TargetSparsity = 0.8 }).Fit(calibration)),
    ("prune 50% neurons", () => ml.Compression().Prune(modelPath, new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } }).Fit(calibration)),
    ("prune 50% neurons + INT8", () => ml.Compression().Prune(modelPath, new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured } })
        .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 })).Fit(calibration)),
};

double dense = Accuracy(ml.Transforms.ApplyOnnxModel(modelPath).Fit(calibration));
long denseBytes = new FileInfo(modelPath).Length;
var results = new List<object> { new { variant = "original FP32", accuracy = dense, onnxBytes = denseBytes, zipBytes = (long?)null, sparsity = 0.0 } };
var reports = new Dictionary<string, CompressionReport>();
foreach (var (name, fit) in variants)
{
    using var model = fit();
    reports[name] = model.Report;
    results.Add(new { variant = name, accuracy = Accuracy(model), onnxBytes = model.OnnxModel!.LongLength,
                      zipBytes = (long?)model.Report.Final.ZipBytes, sparsity = Math.Round(model.Report.Final.Sparsity ?? 0, 3) });
}
results
'''),
    md('''
## The report of the last variant
'''),
    code('''
reports["prune 50% neurons + INT8"]
'''),
])

PLOT_REFS = f'''// Charts: the optional plotting assembly of this repository (ScottPlot 5 inside; the core library does not
// depend on it) and ScottPlot itself, which draws with SkiaSharp (its Linux native library comes with it).
#r "../../Microsoft.ML.Compression.Plotting/bin/Release/net10.0/Microsoft.ML.Compression.Plotting.dll"
#r "nuget: ScottPlot, {V["ScottPlot"]}"'''

trees = notebook([
    md('''
# Distilling a large tree ensemble into a small one

A 500-tree LightGBM model (31 leaves per tree) is trained on Spambase (`data/spam.csv`, 2,000 e-mails, 57 numeric
features) and **distilled** into a 20-tree, 8-leaf LightGBM student: the student learns the teacher's
probabilities instead of the 0/1 labels. The compression report puts side by side the teacher, the student, the
same student trained **on the labels alone** (the baseline that tells whether distilling paid off) and the
student's **fidelity** to the teacher (how often they agree, and how far their probabilities are apart). Then
teacher and student are compared on size and scoring speed.

Run `bash build.sh` in the repository root first: the notebook loads the library from the Release build. Paths are
relative to this notebook's folder (`examples/notebooks`), which must be the working directory of the kernel.
'''),
    code(REFS + f'''
#r "nuget: Microsoft.ML.LightGbm, {V["mlnet"]}"'''),
    code('''
using System.Diagnostics;
using System.IO;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Interactive;

CompressionFormatters.Register();   // a CompressionReport at the end of a cell shows as an HTML table
var ml = new MLContext(seed: 1);
'''),
    md('''
## Data

`Label` is `spam` / `nonspam`, mapped to a Boolean once, before the split, so that teacher and student are plain
trainers over the 57-value `Features` vector. 70/30 train/test split with a fixed seed.
'''),
    code('''
public sealed class Email
{
    [LoadColumn(0)] public string Label { get; set; } = "";
    [LoadColumn(1, 57), VectorType(57)] public float[] Features { get; set; } = Array.Empty<float>();
}

var raw = ml.Data.LoadFromTextFile<Email>(Path.Combine("..", "..", "data", "spam.csv"), hasHeader: true, separatorChar: ',');
var data = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label").Fit(raw).Transform(raw);
var split = ml.Data.TrainTestSplit(data, testFraction: 0.3, seed: 7);
IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
$"{train.GetColumn<bool>("Label").Count()} train rows, {test.GetColumn<bool>("Label").Count()} test rows"
'''),
    md('''
## Teacher: 500 trees × 31 leaves
'''),
    code('''
var clock = Stopwatch.StartNew();
ITransformer teacher = ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
{
    NumberOfIterations = 500, NumberOfLeaves = 31, LearningRate = 0.05, MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
}).Fit(train);
$"teacher trained in {clock.Elapsed.TotalSeconds:F1} s"
'''),
    md('''
## Student: 20 trees × 8 leaves, distilled

The student trainer reads an example-weight column (`Weight`): the library then gives it the teacher's exact soft
targets as weighted rows. Without a weight column it would get 4 copies of each row with labels in proportion to
the teacher's probability. `Selection.TrainLabelOnlyBaseline` (on by default) also trains the same student on the true
labels, for the report's baseline line.
'''),
    code('''
LightGbmBinaryTrainer Student() => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
{
    NumberOfIterations = 20, NumberOfLeaves = 8, LearningRate = 0.2, MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
    ExampleWeightColumnName = "Weight",
});

clock.Restart();
CompressedModel student = ml.Compression()
    .Distill(teacher, Student(), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = true } })
    .WithEvaluationData(test)
    .Fit(train);
var distillSeconds = clock.Elapsed.TotalSeconds;
student.Report
'''),
    md('''
The **Teacher** row is the 500-tree model and the **Distill** row the student (AUC on the training rows, then on
the test rows). Below the table: the student's agreement with the teacher's predicted label and the mean squared
difference of their probabilities (train / test), and the AUC of the same student trained on the labels alone.
'''),
    code('''
var d = student.Report.Stages[1];
double? Round(double? x) => x is double v ? Math.Round(v, 4) : null;
new[]
{
    new { model = "teacher (500 × 31)", testAUC = Round(student.Report.Original.EvaluationMetric), agreementWithTeacher = (double?)1.0, zipBytes = student.Report.Original.ZipBytes },
    new { model = "student on the labels alone (20 × 8)", testAUC = Round(d.BaselineEvaluationMetric), agreementWithTeacher = (double?)null, zipBytes = d.ZipBytes },
    new { model = "student distilled (20 × 8)", testAUC = Round(d.EvaluationMetric), agreementWithTeacher = Round(d.EvaluationAgreement), zipBytes = d.ZipBytes },
}
'''),
    md('''
## Size and speed

Saved zip size, batch scoring of the whole test set (`Transform`, the probability column read) and one row at a
time through a `PredictionEngine`. Each rate is the best of three half-second windows after a warm-up, on
whatever machine runs the notebook: read the ratios, not the absolute numbers.
'''),
    code('''
public sealed class Prediction
{
    public bool PredictedLabel { get; set; }
    public float Score { get; set; }
    public float Probability { get; set; }
}

long ZipBytes(ITransformer model)
{
    using var stream = new MemoryStream();
    ml.Model.Save(model, train.Schema, stream);
    return stream.Length;
}

// Runs `pass` (which returns how many rows it scored) for half a second, three times; the best rate in rows/s.
double RowsPerSecond(Func<long> pass)
{
    pass();
    double best = 0;
    for (int i = 0; i < 3; i++)
    {
        long rows = 0;
        var window = Stopwatch.StartNew();
        while (window.Elapsed.TotalSeconds < 0.5) rows += pass();
        best = Math.Max(best, rows / window.Elapsed.TotalSeconds);
    }
    return best;
}

var rows = ml.Data.CreateEnumerable<Email>(raw, reuseRowObject: false).Take(500).ToList();
var speed = new[] { ("teacher", teacher), ("student", (ITransformer)student) }.Select(m =>
{
    long Batch() => m.Item2.Transform(test).GetColumn<float>("Probability").LongCount();
    using var engine = ml.Model.CreatePredictionEngine<Email, Prediction>(m.Item2, inputSchema: raw.Schema);
    long Single() { foreach (var r in rows) engine.Predict(r); return rows.Count; }
    return new { model = m.Item1, zipBytes = ZipBytes(m.Item2), batchRowsPerSecond = Math.Round(RowsPerSecond(Batch)),
                 predictionEngineRowsPerSecond = Math.Round(RowsPerSecond(Single)) };
}).ToList();
speed
'''),
    code('''
$"student: {speed[0].zipBytes / (double)speed[1].zipBytes:F0}x smaller, batch {speed[1].batchRowsPerSecond / speed[0].batchRowsPerSecond:F1}x and PredictionEngine {speed[1].predictionEngineRowsPerSecond / speed[0].predictionEngineRowsPerSecond:F1}x the teacher's speed; test AUC {d.EvaluationMetric:F4} vs teacher {student.Report.Original.EvaluationMetric:F4} (distilled in {distillSeconds:F1} s)"
'''),
    md('''
## When distillation pays: few labels, many unlabeled rows (LETTER.p2)

On Spambase the big teacher is hardly better than the small model, so there is little to distil. LETTER.p2 (Letter
Recognition read as letters A–M against N–Z) is a task where it is: 3,973 labelled rows (`data/letter.csv`, 80 %),
1,027 validation rows that early-stop the teacher, 5,033 test rows (half of `data/letter_extra.csv`) — and 9,054 more
Letter rows **without labels** (the other half of `letter_extra.csv` and `data/letter_unlabeled.csv`). The data has
no `Label` column there: `DistillationOptions.UnlabeledData` hands them to the teacher, which labels them. The same 50-tree × 16-leaf student is trained on the labels
alone, distilled on the labelled rows, and distilled on the labelled plus the unlabeled rows.
'''),
    code('''
public sealed class Letter
{
    [LoadColumn(0)] public string Label { get; set; } = "";
    [LoadColumn(1, 16), VectorType(16)] public float[] Features { get; set; } = Array.Empty<float>();
}

IDataView LetterP2(string file)
{
    var rows = ml.Data.LoadFromTextFile<Letter>(Path.Combine("..", "..", "data", file), hasHeader: true, separatorChar: ',');
    return ml.Data.Cache(ml.Transforms.Conversion.MapValue("Label", Enumerable.Range('A', 26).ToDictionary(c => ((char)c).ToString(), c => c <= 'M'), "Label").Fit(rows).Transform(rows));
}
var labelled = ml.Data.TrainTestSplit(LetterP2("letter.csv"), testFraction: 0.2, seed: 42);
var extra = ml.Data.TrainTestSplit(LetterP2("letter_extra.csv"), testFraction: 0.5, seed: 42);
IDataView p2Train = ml.Data.Cache(labelled.TrainSet), p2Valid = ml.Data.Cache(labelled.TestSet), p2Test = ml.Data.Cache(extra.TestSet);

// The unlabeled rows: half of letter_extra.csv and all of letter_unlabeled.csv, as one view with Features only.
public sealed class FeaturesOnly { [VectorType(16)] public float[] Features { get; set; } = Array.Empty<float>(); }
IDataView unlabeled = ml.Data.Cache(ml.Data.LoadFromEnumerable(new[] { extra.TrainSet, LetterP2("letter_unlabeled.csv") }
    .SelectMany(d => d.GetColumn<float[]>("Features")).Select(f => new FeaturesOnly { Features = f }).ToList()));

ITransformer p2Teacher = ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
{
    NumberOfIterations = 1000, NumberOfLeaves = 64, LearningRate = 0.03, EarlyStoppingRound = 100,
    MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
}).Fit(p2Train, p2Valid);
LightGbmBinaryTrainer P2Student(string? weight, double rate, int minLeaf) => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
{
    NumberOfIterations = 50, NumberOfLeaves = 16, LearningRate = rate, MinimumExampleCountPerLeaf = minLeaf, NumberOfThreads = 1, Seed = 1,
    ExampleWeightColumnName = weight,
});
$"{p2Train.GetRowCount()} labelled and {unlabeled.GetRowCount()} unlabeled rows; teacher early-stopped"
'''),
    code('''
// Each student gets the learning rate and minimum leaf size with the best AUC on the validation rows (never the test rows).
double Auc(ITransformer m, IDataView d) => ml.BinaryClassification.Evaluate(m.Transform(d)).AreaUnderRocCurve;
ITransformer Tuned(Func<double, int, ITransformer> fit)
    => (from rate in new[] { 0.5, 0.8 } from minLeaf in new[] { 10, 20, 40 } select fit(rate, minLeaf)).MaxBy(m => Auc(m, p2Valid))!;
double P2Auc(ITransformer m) => Math.Round(Auc(m, p2Test), 4);
var noBaseline = new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }; // the labels-only student is trained on its own below
var labelsOnly = Tuned((rate, minLeaf) => P2Student(null, rate, minLeaf).Fit(p2Train));
var onLabelled = Tuned((rate, minLeaf) => ml.Compression().Distill(p2Teacher, P2Student("Weight", rate, minLeaf), noBaseline).Fit(p2Train));
// DistillationOptions.UnlabeledData: the teacher labels these rows too, and the student learns from them after the labelled ones.
var withUnlabeled = Tuned((rate, minLeaf) => ml.Compression().Distill(p2Teacher, P2Student("Weight", rate, minLeaf),
    new DistillationOptions { UnlabeledData = unlabeled, Selection = { TrainLabelOnlyBaseline = false } }).Fit(p2Train));
new[]
{
    new { model = "teacher (early-stopped LightGBM, 64 leaves)", testAUC = P2Auc(p2Teacher) },
    new { model = "student on the 3,973 labels alone (50 × 16)", testAUC = P2Auc(labelsOnly) },
    new { model = "student distilled on the 3,973 labelled rows", testAUC = P2Auc(onLabelled) },
    new { model = "student distilled on those + 9,054 unlabeled rows", testAUC = P2Auc(withUnlabeled) },
}
'''),
    md('''
Distilling on the labelled rows alone gives the student nothing the labels did not: on its own training rows the
teacher's probabilities are almost the labels. The unlabeled rows are what pay — the teacher's knowledge reaches the student through rows nobody
labelled (benchmark: 0.9831 against 0.9806, and better than labels-only on five of five splits; see docs/benchmarks.md,
"LETTER.p2", also for throughput and size).
'''),
])

sensitivity = notebook([
    md('''
# Pruning sensitivity of a network, layer by layer

How much can each layer of `data/models/fashion_mlp.onnx` (Fashion-MNIST MLP: 784 → 300 → 100 → 10, 266,611
weights) be pruned? `ml.Compression().PruningSensitivity(...)` prunes **one layer at a time** (the others stay
dense) at several sparsities and measures a metric each time. The sweep then sets a sparsity per layer: the
largest one that costs at most half a point of accuracy. The pruned network is quantized to static INT8, and the
per-tensor quantization error (SQNR) shows where the INT8 network departs from the float one.

Data: calibration rows `data/fashion_mnist_calib_512.csv` (from the training split: pruning records activations
on them); `data/fashion_mnist_test_1000.csv` (the official test split, never seen by the network) is cut in two
halves: a **validation** half on which the sweep's accuracies are measured and the sparsities chosen, and a
**test** half that only measures the final models (choosing on the test rows would flatter the result).

Run `bash build.sh` in the repository root first. Paths are relative to this notebook's folder.
'''),
    code(REFS + "\n" + PLOT_REFS),
    code('''
using System.Diagnostics;
using System.IO;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Interactive;
using Microsoft.ML.Compression.Plotting;

CompressionFormatters.Register();
var ml = new MLContext(seed: 1);
string modelPath = Path.Combine("..", "..", "data", "models", "fashion_mlp.onnx");

// Label (class id 0-9), then 784 raw pixels 0-255 as the float vector "Features", the network's input.
IDataView Load(string file) => ml.Data.LoadFromTextFile(Path.Combine("..", "..", "data", file), new TextLoader.Options
{
    HasHeader = true, Separators = new[] { ',' },
    Columns = new[] { new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, 784) },
});
IDataView calibration = ml.Data.Cache(Load("fashion_mnist_calib_512.csv"));
var halves = ml.Data.TrainTestSplit(Load("fashion_mnist_test_1000.csv"), testFraction: 0.5, seed: 1);
IDataView validation = ml.Data.Cache(halves.TrainSet), test = ml.Data.Cache(halves.TestSet);

// The network outputs logits ("Score"); the predicted class is the argmax.
double Accuracy(ITransformer model, IDataView data)
{
    var labels = data.GetColumn<float>("Label").Select(l => (int)l).ToArray();
    var logits = model.Transform(data).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray());
    return labels.Zip(logits).Count(p => Array.IndexOf(p.Second, p.Second.Max()) == p.First) / (double)labels.Length;
}
// Shows a ScottPlot chart in the notebook, as a PNG.
void Show(ScottPlot.Plot plot, int height = 460) => display(HTML(plot.GetPngHtml(860, height)));
'''),
    md('''
## The sweep

Each layer alone at 50, 80 and 90 % sparsity, with the library's default pruning (magnitude × input spread, then
least-squares reconstruction of the kept weights on the calibration rows): 3 layers × 3 sparsities = 9 pruned
networks. Add sparsities for a finer picture; each costs one pruned network per layer.
'''),
    code('''
var clock = Stopwatch.StartNew();
IReadOnlyList<LayerSensitivity> sweep = ml.Compression().PruningSensitivity(modelPath, calibration, m => Accuracy(m, validation), 0.5, 0.8, 0.9);
var sweepSeconds = clock.Elapsed.TotalSeconds;
sweep.Select(l => new
{
    layer = l.Layer, weights = l.Weights, unpruned = Math.Round(l.Baseline, 4),
    at50 = Math.Round(l.Metric[0.5], 4), at80 = Math.Round(l.Metric[0.8], 4), at90 = Math.Round(l.Metric[0.9], 4),
})
'''),
    code('''
const double tolerance = 0.005;   // half a point of validation accuracy
Show(CompressionPlots.PruningSensitivity(sweep, "validation accuracy", tolerance, title: $"fashion_mlp: one layer pruned at a time ({sweepSeconds:F0} s)"));
'''),
    md('''
## Prune with a sparsity per layer

`LargestSparsityWithin(tolerance)` gives, for each layer, the largest swept sparsity whose accuracy stayed within
the tolerance; `PruningOptions.Network.LayerSparsity` applies them all at once. The errors of several pruned layers add
up, so the result is checked on the test half, against **uniform** pruning that removes the same share of all
weights from every layer.
'''),
    code('''
var chosen = sweep.ToDictionary(l => l.Layer, l => l.LargestSparsityWithin(tolerance));
double overall = sweep.Sum(l => l.Weights * chosen[l.Layer]) / sweep.Sum(l => l.Weights);
chosen.Select(kv => new { layer = kv.Key, sparsity = kv.Value }).Append(new { layer = "all weights", sparsity = Math.Round(overall, 4) })
'''),
    code('''
var perLayerOptions = new PruningOptions { Network = { LayerSparsity = chosen } };
var perLayer = ml.Compression().Prune(modelPath, perLayerOptions).Fit(calibration);
var perLayerInt8 = ml.Compression().Prune(modelPath, perLayerOptions)
    .Append(ml.Compression().Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }))
    .Fit(calibration);
var uniform = ml.Compression().Prune(modelPath, new PruningOptions { TargetSparsity = overall }).Fit(calibration);
var dense = ml.Transforms.ApplyOnnxModel(modelPath).Fit(calibration);
double TestAccuracy(ITransformer model) => Math.Round(Accuracy(model, test), 4);
new[]
{
    new { model = "original FP32", testAccuracy = TestAccuracy(dense), zipBytes = perLayer.Report.Original.ZipBytes },
    new { model = $"uniform: {overall:P0} of every layer", testAccuracy = TestAccuracy(uniform), zipBytes = uniform.Report.Final.ZipBytes },
    new { model = "per-layer sparsities", testAccuracy = TestAccuracy(perLayer), zipBytes = perLayer.Report.Final.ZipBytes },
    new { model = "per-layer sparsities + static INT8", testAccuracy = TestAccuracy(perLayerInt8), zipBytes = perLayerInt8.Report.Final.ZipBytes },
}
'''),
    md('''
## The report of the pruned and quantized network
'''),
    code('''
perLayerInt8.Report
'''),
    md('''
## Where quantization loses precision

The Quantize row measured, on the calibration rows, the SQNR between the float and the INT8 network of every
quantized operator's input (as the operator sees it, after its `DequantizeLinear`) and of the output `Score`:
about 6 dB per bit; 40 dB or more is a close match, under 20 dB a visible loss.
'''),
    code('''
var errors = perLayerInt8.Report.Final.TensorErrors!;
Show(CompressionPlots.TensorErrors(errors, "fashion_mlp, per-layer pruning + static INT8"), CompressionPlots.TensorErrorsHeight(errors.Count));
'''),
])

text = notebook([
    md('''
# Compressing a text Transformer that takes token ids

`data/models/spam_token_transformer.onnx` is a 2-layer Transformer spam classifier with the inputs a shipped text
model has: int64 `input_ids` and `attention_mask`, `[batch, 128]` (272,007 weights, 97.6 % accuracy on held-out
e-mails). This notebook quantizes it (dynamic and static INT8, INT4) and prunes it (80 % of the weights; half of the
FFN neurons and attention heads), calibrating on `data/spamassassin_tokens_calib_512.csv` (training e-mails as token
ids) and measuring on `data/spamassassin_tokens_test_1000.csv` (1,000 e-mails it never saw). Then it does what an app
does: turns raw text into those ids with `ml.Compression().TokenizeText` and the model's own tokenizer, and scores
them with a compressed model saved and loaded back by plain ML.NET.

Run `bash build.sh` in the repository root first. Paths are relative to this notebook's folder.
'''),
    code(REFS + f'''
#r "nuget: Microsoft.ML.Tokenizers, {V["Microsoft.ML.Tokenizers"]}"'''),
    code('''
using System.IO;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Tokenizers;
using Microsoft.ML.Compression;
using Microsoft.ML.Compression.Interactive;

CompressionFormatters.Register();
var ml = new MLContext(seed: 1);
string Data(string file) => Path.Combine("..", "..", "data", file);
string modelPath = Data(Path.Combine("models", "spam_token_transformer.onnx"));

// One e-mail as the network takes it: 128 Int64 token ids (0 = padding) and a mask that is 1 where the id is not padding.
public sealed class Email
{
    public float Label { get; set; }                                                        // 0 = ham, 1 = spam
    [VectorType(128), ColumnName("input_ids")] public long[] InputIds { get; set; }
    [VectorType(128), ColumnName("attention_mask")] public long[] AttentionMask { get; set; }
}

IDataView Load(string file) => ml.Data.LoadFromEnumerable(File.ReadLines(Data(file)).Skip(1).Select(line =>
{
    long[] ids = line.Split(',').Skip(1).Select(long.Parse).ToArray();
    return new Email { Label = float.Parse(line.Split(',')[0]), InputIds = ids, AttentionMask = ids.Select(id => id != 0 ? 1L : 0L).ToArray() };
}).ToList());
IDataView calibration = Load("spamassassin_tokens_calib_512.csv");
IDataView test = Load("spamassassin_tokens_test_1000.csv");
int[] labels = test.GetColumn<float>("Label").Select(l => (int)l).ToArray();

// The network outputs two logits ("Score": ham, spam); the prediction is the larger.
int[] Predict(ITransformer model) => model.Transform(test).GetColumn<VBuffer<float>>("Score").Select(v => v.GetValues()[1] > v.GetValues()[0] ? 1 : 0).ToArray();
double Accuracy(int[] predicted) => labels.Zip(predicted).Count(p => p.First == p.Second) / (double)labels.Length;
'''),
    md('''
## Variants

Each variant is fitted on the calibration rows; the ONNX file itself is never changed. `agreement` is the share of
test e-mails on which the variant predicts what the original predicts. Unstructured pruning leaves zeros in place:
the zip shrinks, the ONNX file does not (it also carries the compression report, about 6 KB); structured pruning
removes whole neurons and heads, so the tensors shrink. Speed is measured side by side in the benchmark app
([docs/benchmarks.md](../../docs/benchmarks.md)), not here.
'''),
    code('''
var structured = new PruningOptions { TargetSparsity = 0.5, Network = { Granularity = PruningGranularity.Structured, AttentionHeadSparsity = 0.5 } };
var variants = new (string Name, Func<CompressedModel> Fit)[]
{
    ("dynamic INT8", () => ml.Compression().Quantize(modelPath, new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } }).Fit(calibration)),
    ("static INT8", () => ml.Compression().Quantize(modelPath, new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 256 } }).Fit(calibration)),
    ("INT4 weights", () => ml.Compression().Quantize(modelPath, new QuantizationOptions { Precision = Precision.Int4 }).Fit(calibration)),
    ("prune 80 %", () => ml.Compression().Prune(modelPath, new PruningOptions { TargetSparsity = 0.8 }).Fit(calibration)),
    ("prune half the FFN neurons and heads", () => ml.Compression().Prune(modelPath, structured).Fit(calibration)),
    ("the same + static INT8", () => ml.Compression().Prune(modelPath, structured)
        .Append(ml.Compression().Quantize(new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 256 } }))
        .WithEvaluationData(test).Fit(calibration)),   // the report also measures accuracy on the test rows
};

int[] original = Predict(ml.Transforms.ApplyOnnxModel(modelPath).Fit(calibration));
var results = new List<object> { new { variant = "original FP32", accuracy = Accuracy(original), agreement = 1.0, onnxBytes = new FileInfo(modelPath).Length, zipBytes = (long?)null } };
CompressedModel last = null;   // kept for the app's side below
foreach (var (name, fit) in variants)
{
    last?.Dispose();
    last = fit();
    int[] predicted = Predict(last);
    results.Add(new { variant = name, accuracy = Accuracy(predicted), agreement = original.Zip(predicted).Count(p => p.First == p.Second) / (double)labels.Length,
                      onnxBytes = last.OnnxModel!.LongLength, zipBytes = (long?)last.Report.Final.ZipBytes });
}
results
'''),
    md('''
## The report of the last variant

Parameters and non-zeros after each stage, bits per weight, sizes, accuracy on the calibration and test rows, and
what each stage did to each layer.
'''),
    code('''
last.Report
'''),
    md('''
## The app's side: raw text in, a compressed model loaded by plain ML.NET

The model's tokenizer (`tools/train_transformer.py`): lower-cased runs of ASCII letters and digits, looked up in
`spam_transformer_vocab.txt` (`<unk>` when absent), no special tokens, padded with 0 to 128. `TokenizeText` makes the
`input_ids` and `attention_mask` columns from a text column as the rows are read; the model is saved as a zip and
loaded back with `ml.Model.Load`, the way an app that knows nothing of this library loads it.
'''),
    code('''
var tokenizer = WordPieceTokenizer.Create(Data(Path.Combine("models", "spam_transformer_vocab.txt")), new WordPieceOptions
{
    UnknownToken = "<unk>", Normalizer = new LowerCaseNormalizer(), PreTokenizer = new RegexPreTokenizer(new Regex("[A-Za-z0-9]+"), null),
});
var texts = ml.Data.LoadFromEnumerable(new[]
{
    new { Text = "Congratulations! You have been selected to receive a FREE vacation. Click here now to claim your prize, limited time offer." },
    new { Text = "Hi all, the build broke again after last night's kernel update; I have attached the log. Can someone look at the patch before Monday?" },
});
var tokens = ml.Compression().TokenizeText(texts, "Text", tokenizer, maxTokens: 128, new TokenizedTextOptions { TokenTypeIdsColumnName = null });

string zip = Path.Combine(Path.GetTempPath(), $"spam-transformer-{Guid.NewGuid():N}.zip");
ml.Model.Save(last, calibration.Schema, zip);
last.Dispose();
var app = new MLContext();
ITransformer loaded = app.Model.Load(zip, out _);
var scores = loaded.Transform(tokens).GetColumn<VBuffer<float>>("Score").Select(v => v.GetValues().ToArray()).ToArray();
File.Delete(zip);
texts.GetColumn<string>("Text").Zip(scores, (text, s) => new { text, spamProbability = Math.Round(1 / (1 + Math.Exp(s[0] - s[1])), 3) })
'''),
])

os.makedirs(ROOT, exist_ok=True)
for name, nb in [("quickstart.ipynb", quickstart), ("onnx-network.ipynb", onnx), ("tree-distillation.ipynb", trees),
                 ("pruning-sensitivity.ipynb", sensitivity), ("text-transformer.ipynb", text)]:
    with open(os.path.join(ROOT, name), "w", encoding="utf-8", newline="\n") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")
