"""The package-extension notebook of .ci/notebooks.sh: what a notebook user who only restores the package writes.

  package-notebook.py write NOTEBOOK FEED VERSION CSV   writes the notebook (no outputs)
  package-notebook.py check EXECUTED_NOTEBOOK           exits 1, naming the cell, unless the kernel loaded the
                                                         package's extension, a report and a model came out as its
                                                         HTML table with its size plot, a sweep as its plot (one
                                                         SVG marker per measured model) and table, and a pruning
                                                         sensitivity sweep as its line plot

The notebook restores Microsoft.ML.Compression from FEED (an absolute folder: a relative one fails with "Invalid
URI", see docs/notebooks.md), never #r's a dll and never calls CompressionFormatters.Register(): the HTML must come
from the extension that the package carries under interactive-extensions/dotnet/.
"""
import json
import sys

EXTENSION = "interactive-extensions/dotnet/Microsoft.ML.Compression.Interactive.dll"

# A 20-tree FastTree churn model (the README's featurization), pruned and quantized; seconds on 2 cores.
COMPRESS = '''using System.IO;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
var ml = new MLContext(seed: 1);
string path = @"{csv}";
string[] numeric = {{ "tenure", "monthly_charges", "total_charges" }};
string[] categorical = {{ "contract", "internet_service", "payment_method" }};
var header = File.ReadLines(path).First().Split(',');
var data = ml.Data.LoadFromTextFile(path, new TextLoader.Options
{{
    HasHeader = true, Separators = new[] {{ ',' }}, AllowQuoting = true, MissingRealsAsNaNs = true,
    Columns = header.Select((name, i) => new TextLoader.Column(name, numeric.Contains(name) ? DataKind.Single : DataKind.String, i)).ToArray(),
}});
var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: 1);
var model = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> {{ ["Yes"] = true, ["No"] = false }}, "Label")
    .Append(ml.Transforms.Categorical.OneHotEncoding(categorical.Select(c => new InputOutputColumnPair(c)).ToArray()))
    .Append(ml.Transforms.ReplaceMissingValues(numeric.Select(c => new InputOutputColumnPair(c)).ToArray()))
    .Append(ml.Transforms.Concatenate("Features", categorical.Concat(numeric).ToArray()))
    .Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20))
    .Fit(split.TrainSet);
var compressed = ml.Compression().Prune(model, new PruningOptions {{ TargetSparsity = 0.5 }})
    .Append(ml.Compression().Quantize(new QuantizationOptions {{ Precision = Precision.Int8 }}))
    .WithEvaluationData(split.TestSet)
    .Fit(split.TrainSet);
compressed.Report'''


def code(source):
    return {"cell_type": "code", "execution_count": None, "outputs": [], "source": source,
            "metadata": {"dotnet_interactive": {"language": "csharp"}}}


def write(notebook, feed, version, csv):
    cells = [
        code(f'#i "nuget:{feed}"\n#r "nuget: Microsoft.ML.Compression, {version}"'),
        code(COMPRESS.format(csv=csv)),
        code("compressed"),
        # 2 sparsities x 2 precisions = 4 points (the teacher is the one with neither stage).
        code("new CompressionSweep(ml, model) { Sparsities = new[] { 0.0, 0.5 }, Precisions = new Precision?[] { null, Precision.Int8 } }\n"
             "    .Run(split.TrainSet, split.TestSet)"),
        # The shape PruningSensitivity returns (List<LayerSensitivity>): two layers at two sparsities.
        code("new List<LayerSensitivity>\n{\n"
             "    new() { Layer = \"fc1\", Weights = 1024, Baseline = 0.90, Metric = new Dictionary<double, double> { [0.5] = 0.90, [0.9] = 0.70 } },\n"
             "    new() { Layer = \"fc2\", Weights = 256, Baseline = 0.90, Metric = new Dictionary<double, double> { [0.5] = 0.88, [0.9] = 0.50 } },\n"
             "}"),
    ]
    document = {"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"display_name": ".NET (C#)", "language": "C#", "name": ".net-csharp"},
        "language_info": {"name": "C#"}}}
    with open(notebook, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1)


def check(executed):
    with open(executed, encoding="utf-8") as f:
        cells = json.load(f)["cells"]

    def texts(i, mime):
        return ["".join(o.get("data", {}).get(mime, [])) for o in cells[i].get("outputs", [])]

    problems = [f"cell {i}: {o.get('evalue', '')[:500]}" for i, c in enumerate(cells)
                for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if not any(EXTENSION in t for t in texts(0, "text/plain")):
        problems.append(f"cell 0: the kernel did not load the package's extension ({EXTENSION})")
    for i, what in ((1, "CompressionReport"), (2, "CompressedModel")):
        if not any('class="ml-compression-report"' in h and "<table>" in h and '<rect class="bar"' in h for h in texts(i, "text/html")):
            problems.append(f"cell {i}: the {what} was not displayed as the extension's HTML table with its size plot")
    sweeps = [h for h in texts(3, "text/html") if 'class="ml-compression-sweep"' in h]
    if not sweeps:
        problems.append("cell 3: the SweepResult was not displayed as the extension's plot and table")
    elif sweeps[0].count("<circle") != 4 or "<svg" not in sweeps[0] or sweeps[0].count("<tr>") != 5:
        problems.append(f"cell 3: the sweep's plot has {sweeps[0].count('<circle')} markers and its table "
                        f"{sweeps[0].count('<tr>') - 1} rows, not 4 models each")
    curves = [h for h in texts(4, "text/html") if 'class="ml-compression-sensitivity"' in h]
    if not curves or curves[0].count('<polyline class="series"') != 3:
        problems.append("cell 4: the pruning sensitivity sweep was not displayed as the extension's plot "
                        "(one line per layer and the unpruned line)")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["write"] and len(sys.argv) == 6:
        write(*sys.argv[2:])
    elif sys.argv[1:2] == ["check"] and len(sys.argv) == 3:
        sys.exit(check(sys.argv[2]))
    else:
        sys.exit(__doc__)
