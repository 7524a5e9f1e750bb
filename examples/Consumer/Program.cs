// Consumer: an ML.NET app without Microsoft.ML.Compression (and without ONNX Runtime). For each scenario that
// examples/CompressedModels saved into the folder given as the first argument, it loads <scenario>.zip with
// ml.Model.Load, scores <scenario>.input.csv with batch Transform and with a typed PredictionEngine, and compares
// both with <scenario>.predictions.csv: |ΔScore| <= 1e-5 and the same PredictedLabel on every row.
// At the end it checks that no Microsoft.ML.Compression*, ONNX Runtime or OnnxTransformer assembly was loaded.
using System.Globalization;
using Examples.CompressedModels;
using Microsoft.ML;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Consumer <folder written by CompressedModels>");
    return 2;
}
string dir = Path.GetFullPath(args[0]);
const double Tolerance = 1e-5;
var ml = new MLContext(seed: 1);
var failures = new List<string>();

foreach (var scenario in Scenarios.All)
{
    try
    {
        foreach (var path in new[] { scenario.ZipPath(dir), scenario.InputPath(dir), scenario.PredictionsPath(dir) })
            if (!File.Exists(path)) throw new FileNotFoundException($"{path} is missing (did CompressedModels run into {dir}?)");
        ITransformer model = ml.Model.Load(scenario.ZipPath(dir), out _);
        var input = DataFiles.Load(ml, scenario.DataFile, scenario.InputPath(dir));
        var expected = PredictionCsv.Read(scenario.PredictionsPath(dir));

        var batch = PredictionCsv.FromScored(model.Transform(input));
        var engine = (scenario.DataFile, scenario.Kind) switch
        {
            (Scenarios.Churn, ScenarioKind.Binary) => PredictEach<ChurnRow, BinaryPrediction>(model, input),
            (Scenarios.Mails, ScenarioKind.Binary) => PredictEach<MailRow, BinaryPrediction>(model, input),
            (Scenarios.Letter, ScenarioKind.Multiclass) => PredictEach<LetterRow, MulticlassPrediction>(model, input),
            (Scenarios.Cps, ScenarioKind.Regression) => PredictEach<CpsRow, RegressionPrediction>(model, input),
            _ => throw new NotSupportedException($"no row type for {scenario.DataFile} ({scenario.Kind})"),
        };

        var (batchDelta, batchMismatch, batchProblem) = Compare(expected, batch);
        var (engineDelta, engineMismatch, engineProblem) = Compare(expected, engine);
        bool ok = batchProblem == null && engineProblem == null && batchDelta <= Tolerance && engineDelta <= Tolerance
            && batchMismatch == 0 && engineMismatch == 0 && expected.Count > 0;
        Console.WriteLine($"{(ok ? "OK  " : "FAIL")} {scenario.Name,-27} rows {expected.Count}: max|ΔScore| batch {batchDelta:G3}, engine {engineDelta:G3}; "
            + $"label mismatches batch {batchMismatch}, engine {engineMismatch}{(batchProblem ?? engineProblem) switch { null => "", var p => "; " + p }}");
        if (!ok) failures.Add($"{scenario.Name}: max|ΔScore| batch {batchDelta:G3} / engine {engineDelta:G3} (tolerance {Tolerance:G}), label mismatches {batchMismatch} / {engineMismatch}{(batchProblem ?? engineProblem) switch { null => "", var p => ", " + p }}");
    }
    catch (Exception ex)
    {
        Console.WriteLine($"FAIL {scenario.Name,-27} {ex.GetType().FullName}: {ex.Message}");
        failures.Add($"{scenario.Name}: {ex.GetType().FullName}: {ex.Message}");
    }
}

// The compressed models must need nothing beyond Microsoft.ML, FastTree and LightGbm.
var forbidden = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "")
    .Where(n => n.StartsWith("Microsoft.ML.Compression", StringComparison.OrdinalIgnoreCase)
        || n.Contains("OnnxRuntime", StringComparison.OrdinalIgnoreCase)
        || n.Equals("Microsoft.ML.OnnxTransformer", StringComparison.OrdinalIgnoreCase))
    .OrderBy(n => n).ToList();
var mlAssemblies = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "")
    .Where(n => n.StartsWith("Microsoft.ML", StringComparison.Ordinal)).OrderBy(n => n);
Console.WriteLine($"Loaded ML assemblies: {string.Join(", ", mlAssemblies)}");
if (forbidden.Count > 0)
{
    Console.WriteLine($"FAIL loaded assemblies that a plain ML.NET app must not need: {string.Join(", ", forbidden)}");
    failures.Add($"forbidden assemblies loaded: {string.Join(", ", forbidden)}");
}
else
    Console.WriteLine("OK   no Microsoft.ML.Compression*, OnnxRuntime or Microsoft.ML.OnnxTransformer assembly loaded");

if (failures.Count > 0)
{
    Console.WriteLine($"FAILED ({failures.Count}):");
    foreach (var f in failures) Console.WriteLine("  " + f);
    return 1;
}
Console.WriteLine($"OK: {Scenarios.All.Length} compressed models load and predict as in the compressing app, with ML.NET only.");
return 0;

// One row at a time through a typed PredictionEngine.
List<(float[] Score, string Label)> PredictEach<TIn, TOut>(ITransformer model, IDataView input)
    where TIn : class, new() where TOut : class, IPrediction, new()
{
    using var engine = ml.Model.CreatePredictionEngine<TIn, TOut>(model, input.Schema);
    return ml.Data.CreateEnumerable<TIn>(input, reuseRowObject: false)
        .Select(row => { var p = engine.Predict(row); return (p.GetScore().ToArray(), p.GetLabel()); }).ToList();
}

static (double MaxDelta, int LabelMismatches, string? Problem) Compare(List<(float[] Score, string Label)> expected, List<(float[] Score, string Label)> actual)
{
    if (expected.Count != actual.Count) return (double.NaN, 0, $"{actual.Count} rows scored, {expected.Count} expected");
    double max = 0;
    int mismatches = 0;
    for (int i = 0; i < expected.Count; i++)
    {
        var (e, a) = (expected[i], actual[i]);
        if (e.Score.Length != a.Score.Length) return (double.NaN, mismatches, $"row {i}: {a.Score.Length} scores, {e.Score.Length} expected");
        for (int k = 0; k < e.Score.Length; k++)
        {
            double d = float.IsNaN(e.Score[k]) && float.IsNaN(a.Score[k]) ? 0 : Math.Abs((double)e.Score[k] - a.Score[k]);
            if (double.IsNaN(d) || d > max) max = double.IsNaN(d) ? double.PositiveInfinity : d;
        }
        if (e.Label != a.Label) mismatches++;
    }
    return (max, mismatches, null);
}
