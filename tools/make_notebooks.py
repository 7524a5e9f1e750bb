#!/usr/bin/env python3
"""Writes examples/notebooks/*.ipynb (C# / .NET Interactive) without outputs. Edit the cells here, then run
    python3 tools/make_notebooks.py
"""
import json, os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "notebooks")

REFS = '''// The library from this repository's own Release build (run build.sh first), its formatter for notebooks,
// and the packages the library depends on.
#r "../../Microsoft.ML.Compression/bin/Release/net10.0/Microsoft.ML.Compression.dll"
#r "../../Microsoft.ML.Compression.Interactive/bin/Release/net10.0/Microsoft.ML.Compression.Interactive.dll"
#r "nuget: Microsoft.ML, 5.0.1"
#r "nuget: Microsoft.ML.FastTree, 5.0.1"
#r "nuget: Microsoft.ML.OnnxTransformer, 5.0.1"
#r "nuget: Microsoft.ML.OnnxConverter, 0.23.1"
#r "nuget: Microsoft.ML.OnnxRuntime, 1.31.1"
#r "nuget: OnnxSharp, 0.3.2"'''


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
    .Distill(teacher, Featurize().Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20)))
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
    ("INT8 static (QDQ)", () => ml.Compression().Quantize(modelPath, new QuantizationOptions { Mode = QuantizationMode.Static, MaxCalibrationRows = 256 }).Fit(calibration)),
    ("INT4 block-wise", () => ml.Compression().Quantize(modelPath, new QuantizationOptions { Precision = Precision.Int4 }).Fit(calibration)),
    ("prune 80%", () => ml.Compression().Prune(modelPath, new PruningOptions { TargetSparsity = 0.8 }).Fit(calibration)),
    ("prune 50% neurons", () => ml.Compression().Prune(modelPath, new PruningOptions { Granularity = PruningGranularity.Structured, TargetSparsity = 0.5 }).Fit(calibration)),
    ("prune 50% neurons + INT8", () => ml.Compression().Prune(modelPath, new PruningOptions { Granularity = PruningGranularity.Structured, TargetSparsity = 0.5 })
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

os.makedirs(ROOT, exist_ok=True)
for name, nb in [("quickstart.ipynb", quickstart), ("onnx-network.ipynb", onnx)]:
    with open(os.path.join(ROOT, name), "w", encoding="utf-8", newline="\n") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")
