using System.Collections;
using System.Diagnostics;
using Benchmarks.Common;
using Benchmarks.Distillation;
using Benchmarks.Linear;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;
using Microsoft.ML.Transforms.Text;

namespace Benchmarks.Trees;

/// <summary>
/// "native models": pruned and quantized ML.NET tree ensembles and linear models stay ML.NET models. Every variant
/// (the source model too) is saved with <c>ml.Model.Save</c>, loaded back with plain <c>ml.Model.Load</c>, and the
/// loaded model is what is measured: batch Transform and PredictionEngine rows/s (in turns), zip bytes, the task's
/// metric on the test rows, the trees it holds, and whether anything in it is an OnnxTransformer (it must not be)
/// or comes from this library's assembly. One table per part, the source model first (the ratios divide by it):
/// tree teachers on wa_churn, letter and cps1988 vs Prune(0.8) and Prune + Quantize(INT8); a 500-tree teacher vs
/// Distill → Prune → Quantize into at most 50 trees (wa_churn, cps1988); FeaturizeText + SDCA on spamassassin and
/// SDCA on wa_churn vs Prune and Prune + Quantize.
/// </summary>
public static class NativeModelsScenario
{
    private enum Kind { Binary, Multiclass, Regression }

    /// <summary>The scenario group's entries for Program.cs: every name starts with "native models".</summary>
    public static (string Name, Func<ScenarioResult> Run)[] Entries(Settings s) => new (string, Func<ScenarioResult>)[]
    {
        ("native models: wa_churn trees", () => TreeTeacher(s, "wa_churn.csv", Kind.Binary)),
        ("native models: letter trees", () => TreeTeacher(s, "letter.csv", Kind.Multiclass)),
        ("native models: cps1988 trees", () => TreeTeacher(s, "cps1988.csv", Kind.Regression)),
        ("native models: wa_churn 500 to 50 trees", () => Student(s, "wa_churn.csv", Kind.Binary)),
        ("native models: cps1988 500 to 50 trees", () => Student(s, "cps1988.csv", Kind.Regression)),
        ("native models: spamassassin text linear", () => TextLinear(s)),
        ("native models: wa_churn linear", () => TabularLinear(s)),
    };

    private const double TreeSparsity = 0.8;
    private const double StudentSparsity = 0.5;
    private const double TextSparsity = 0.5;
    private const double LinearSparsity = 0.5;

    // ---------------------------------------------------------------- the parts

    /// <summary>1. An early-stopped LightGBM teacher vs Prune(0.8) and Prune(0.8) + Quantize(INT8).</summary>
    private static ScenarioResult TreeTeacher(Settings s, string file, Kind task)
    {
        var ml = new MLContext(seed: 1);
        var (train, valid, test, featureCount) = Split(ml, file, task);
        var sw = Stopwatch.StartNew();
        int cap = task == Kind.Multiclass ? (s.Quick ? 10 : 300) : (s.Quick ? 100 : 1000);
        var teacher = EarlyStoppedTeacher(ml, task, cap, train, valid);
        double teacherSeconds = sw.Elapsed.TotalSeconds;

        var seconds = new List<double>();
        sw.Restart();
        using var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = TreeSparsity }).Fit(train);
        seconds.Add(sw.Elapsed.TotalSeconds);
        sw.Restart();
        using var quantized = ml.Compression().Quantize(pruned, new QuantizationOptions { Precision = Precision.Int8 }).Fit(train);
        seconds.Add(sw.Elapsed.TotalSeconds);

        var variants = new (string Name, ITransformer Model)[] { ("teacher", teacher), ($"pruned {TreeSparsity:P0}", pruned), ($"pruned {TreeSparsity:P0} + INT8", quantized) };
        string teacherText = task == Kind.Multiclass
            ? $"LightGBM multiclass (one tree per class per round) up to {cap} rounds × 32 leaves, learning rate 0.1, early-stopped after 20 rounds without gain"
            : $"LightGBM up to {cap} trees × 64 leaves, learning rate {(task == Kind.Binary ? "0.03" : "0.01")}, early-stopped after 100 rounds without gain";
        var result = NewResult($"Native models: {Title(file, task)}, early-stopped LightGBM teacher vs Prune({TreeSparsity}) and Prune + Quantize(INT8)",
            $"data/{file}, 60/20/20 split (seed 42; the 20 % validation part only early-stops the teacher), {featureCount} features after one-hot (featurized once outside the models, as in the distillation scenarios). "
            + $"Teacher: {teacherText}; trained in {teacherSeconds:F1} s. Pruned: ml.Compression().Prune(teacher, TargetSparsity {TreeSparsity}) (lasso tree selection and re-weighting), {seconds[0]:F1} s; "
            + $"+ INT8: ml.Compression().Quantize(pruned, Int8), {seconds[1]:F1} s. {Method}",
            variants.Select(v => v.Name).ToArray());
        Measure(ml, s, result, task, variants, train.Schema, test);
        result.Notes.Add($"Prune stage: {pruned.Report.Final.Description}");
        result.Notes.Add($"Quantize stage: {quantized.Report.Final.Description}");
        Target(s, result, "batch Transform", 1, 1.0, "pruned is not slower than its teacher (batch Transform)");
        Target(s, result, "PredictionEngine", 1, 1.0, "pruned is not slower than its teacher (PredictionEngine)");
        Target(s, result, "batch Transform", 2, 1.0, "pruned + INT8 is not slower than its teacher (batch Transform)");
        Target(s, result, "PredictionEngine", 2, 1.0, "pruned + INT8 is not slower than its teacher (PredictionEngine)");
        Target(s, result, "saved zip", 1, 1.0, "pruned zip is not larger than the teacher's", atMost: true);
        Target(s, result, "saved zip", 2, 1.0, "pruned + INT8 zip is not larger than the teacher's", atMost: true);
        return result;
    }

    /// <summary>2. A fixed 500-tree LightGBM teacher vs Distill (50 trees) → Prune(0.5) → Quantize(INT8).</summary>
    private static ScenarioResult Student(Settings s, string file, Kind task)
    {
        var ml = new MLContext(seed: 1);
        var (train, _, test, featureCount) = Split(ml, file, task);
        int teacherTrees = s.Quick ? 100 : 500, studentTrees = s.Quick ? 10 : 50;
        var sw = Stopwatch.StartNew();
        ITransformer teacher = task == Kind.Binary
            ? ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
            {
                NumberOfIterations = teacherTrees, NumberOfLeaves = 64, LearningRate = 0.03, MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
            }).Fit(train)
            : ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
            {
                NumberOfIterations = teacherTrees, NumberOfLeaves = 64, LearningRate = 0.01, MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
            }).Fit(train);
        double teacherSeconds = sw.Elapsed.TotalSeconds;

        // The students of the distillation scenarios: LightGBM × 16 leaves, soft targets through a weight column (binary)
        // or the teacher's scores (regression), with RegressionDistillScenario's learning rate rule.
        double rate = task == Kind.Binary ? 0.1 : Math.Min(0.3, 1.5 / studentTrees);
        IEstimator<ITransformer> student = task == Kind.Binary
            ? Tabular.BinaryStudent(ml, studentTrees, rate, "Weight")
            : ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
            {
                NumberOfIterations = studentTrees, NumberOfLeaves = 16, LearningRate = rate, MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
            });
        var seconds = new List<double>();
        sw.Restart();
        using var distilled = ml.Compression().Distill(teacher, student, new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).Fit(train);
        seconds.Add(sw.Elapsed.TotalSeconds);
        sw.Restart();
        using var pruned = ml.Compression().Prune(distilled, new PruningOptions { TargetSparsity = StudentSparsity }).Fit(train);
        seconds.Add(sw.Elapsed.TotalSeconds);
        sw.Restart();
        using var quantized = ml.Compression().Quantize(pruned, new QuantizationOptions { Precision = Precision.Int8 }).Fit(train);
        seconds.Add(sw.Elapsed.TotalSeconds);

        var variants = new (string Name, ITransformer Model)[]
        {
            ($"teacher {teacherTrees} trees", teacher), ($"distilled {studentTrees} trees", distilled),
            ("distilled + pruned", pruned), ("distilled + pruned + INT8", quantized),
        };
        var result = NewResult($"Native models: {Title(file, task)}, {teacherTrees}-tree teacher vs Distill ({studentTrees} trees) → Prune → Quantize",
            $"data/{file}, 60/20/20 split (seed 42; the validation part is unused here), {featureCount} features after one-hot (featurized once outside the models). "
            + $"Teacher: LightGBM {teacherTrees} trees × 64 leaves (learning rate {(task == Kind.Binary ? "0.03" : "0.01")}, no early stopping), trained in {teacherSeconds:F1} s. "
            + $"Student: LightGBM {studentTrees} trees × 16 leaves (learning rate {rate:G2}) distilled from it ({seconds[0]:F1} s), then Prune(TargetSparsity {StudentSparsity}) ({seconds[1]:F1} s) "
            + $"and Quantize(Int8) ({seconds[2]:F1} s), each stage fitted on the previous stage's CompressedModel. {Method}",
            variants.Select(v => v.Name).ToArray());
        var trees = Measure(ml, s, result, task, variants, train.Schema, test);
        result.Notes.Add($"Distill stage: {distilled.Report.Final.Description}");
        result.Notes.Add($"Prune stage: {pruned.Report.Final.Description}");
        result.Notes.Add($"Quantize stage: {quantized.Report.Final.Description}");
        if (!s.Quick)
        {
            result.Notes.Add($"target: the final model has at most 50 trees: {trees[^1]?.ToString() ?? "?"} — {(trees[^1] is int t && t <= 50 ? "met" : "MISSED")}");
            Target(s, result, "batch Transform", 3, 10.0, "Distill → Prune → Quantize is at least 10× the teacher's rows/s (batch Transform)");
            Target(s, result, "PredictionEngine", 3, 10.0, "Distill → Prune → Quantize is at least 10× the teacher's rows/s (PredictionEngine)");
        }
        else result.Notes.Add("--quick: a 100-tree teacher and a 10-tree student, so the 10× and 50-tree targets of the full run are not checked.");
        return result;
    }

    /// <summary>3. FeaturizeText + SdcaLogisticRegression on spamassassin vs Prune(0.5) and Prune + Quantize(INT8).</summary>
    private static ScenarioResult TextLinear(Settings s)
    {
        var ml = new MLContext(seed: 1);
        // TextVocabularyScenario's data and teacher (no L1 term, so that pruning is what removes coefficients).
        int rows = s.Quick ? 600 : 3000;
        var (train, test, teacher, teacherSeconds, width) = TextVocabularyScenario.SpamTextTeacher(ml, rows);
        var (pruned, quantized, seconds) = PruneAndQuantize(ml, teacher, train, TextSparsity);
        using var _p = pruned;
        using var _q = quantized;
        var variants = new (string Name, ITransformer Model)[] { ("teacher", teacher), ($"pruned {TextSparsity:P0}", pruned), ($"pruned {TextSparsity:P0} + INT8", quantized) };
        var result = NewResult($"Native models: spamassassin FeaturizeText + SDCA vs Prune({TextSparsity}) and Prune + Quantize(INT8)",
            $"data/spamassassin_3000.csv, first {rows} rows, 70/30 split (seed 7); FeaturizeText(KeepDiacritics = true) on subject and on body, concatenated: {width} features; "
            + $"SdcaLogisticRegression(l1Regularization: 0), trained in {teacherSeconds:F1} s. Pruned: Prune(teacher, TargetSparsity {TextSparsity}) of the coefficients only "
            + $"(the featurizer and its vocabulary stay ML.NET's; PruneFeaturizerVocabulary would make it an ONNX graph), {seconds[0]:F1} s; + INT8: Quantize(pruned, Int8), {seconds[1]:F1} s. {Method}",
            variants.Select(v => v.Name).ToArray());
        Measure(ml, s, result, Kind.Binary, variants, train.Schema, test, textRows: true);
        result.Notes.Add($"Prune stage: {pruned.Report.Final.Description}");
        result.Notes.Add($"Quantize stage: {quantized.Report.Final.Description}");
        Target(s, result, "batch Transform", 1, 1.0, "pruned is at least 1× the teacher's rows/s (batch Transform)");
        Target(s, result, "PredictionEngine", 1, 1.0, "pruned is at least 1× the teacher's rows/s (PredictionEngine)");
        Target(s, result, "batch Transform", 2, 1.0, "pruned + INT8 is at least 1× the teacher's rows/s (batch Transform)");
        Target(s, result, "PredictionEngine", 2, 1.0, "pruned + INT8 is at least 1× the teacher's rows/s (PredictionEngine)");
        return result;
    }

    /// <summary>4. NormalizeMinMax + SdcaLogisticRegression on wa_churn vs Prune(0.5) and Prune + Quantize(INT8).</summary>
    private static ScenarioResult TabularLinear(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var (train, _, test, featureCount) = Split(ml, "wa_churn.csv", Kind.Binary);
        var sw = Stopwatch.StartNew();
        var teacher = ml.Transforms.NormalizeMinMax("Features").Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression()).Fit(train);
        double teacherSeconds = sw.Elapsed.TotalSeconds;
        var (pruned, quantized, seconds) = PruneAndQuantize(ml, teacher, train, LinearSparsity);
        using var _p = pruned;
        using var _q = quantized;
        var variants = new (string Name, ITransformer Model)[] { ("SDCA", teacher), ($"pruned {LinearSparsity:P0}", pruned), ($"pruned {LinearSparsity:P0} + INT8", quantized) };
        var result = NewResult($"Native models: wa_churn NormalizeMinMax + SDCA vs Prune({LinearSparsity}) and Prune + Quantize(INT8)",
            $"data/wa_churn.csv, 60/20/20 split (seed 42; validation unused), {featureCount} features after one-hot (featurized once outside the models); the model: NormalizeMinMax(Features) + "
            + $"SdcaLogisticRegression (defaults), trained in {teacherSeconds:F1} s. Pruned: Prune(model, TargetSparsity {LinearSparsity}) with refit of the kept coefficients, {seconds[0]:F1} s; "
            + $"+ INT8: Quantize(pruned, Int8), {seconds[1]:F1} s. {Method}",
            variants.Select(v => v.Name).ToArray());
        Measure(ml, s, result, Kind.Binary, variants, train.Schema, test);
        result.Notes.Add($"Prune stage: {pruned.Report.Final.Description}");
        result.Notes.Add($"Quantize stage: {quantized.Report.Final.Description}");
        Target(s, result, "batch Transform", 1, 1.0, "pruned is not slower than the original (batch Transform)");
        Target(s, result, "PredictionEngine", 1, 1.0, "pruned is not slower than the original (PredictionEngine)");
        return result;
    }

    // ---------------------------------------------------------------- data and models

    private static string Title(string file, Kind task) => $"{Path.GetFileNameWithoutExtension(file)} ({task.ToString().ToLowerInvariant()})";

    /// <summary>The distillation scenarios' loading (Tabular.Load) and 60/20/20 split (seed 42); binary labels mapped to bool.</summary>
    private static (IDataView Train, IDataView Valid, IDataView Test, int FeatureCount) Split(MLContext ml, string file, Kind task)
    {
        var (data, featureCount) = Tabular.Load(ml, file, task == Kind.Regression ? DataKind.Single : DataKind.String);
        if (task == Kind.Binary)
            data = ml.Data.Cache(ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["Yes"] = true, ["No"] = false }, "Label").Fit(data).Transform(data));
        var first = ml.Data.TrainTestSplit(data, 0.2, seed: 42);
        var second = ml.Data.TrainTestSplit(first.TrainSet, 0.25, seed: 42);
        return (ml.Data.Cache(second.TrainSet), ml.Data.Cache(second.TestSet), ml.Data.Cache(first.TestSet), featureCount);
    }

    private static ITransformer EarlyStoppedTeacher(MLContext ml, Kind task, int cap, IDataView train, IDataView valid) => task switch
    {
        Kind.Binary => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
        {
            NumberOfIterations = cap, NumberOfLeaves = 64, LearningRate = 0.03, EarlyStoppingRound = 100, MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
        }).Fit(train, valid),
        Kind.Regression => ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
        {
            NumberOfIterations = cap, NumberOfLeaves = 64, LearningRate = 0.01, EarlyStoppingRound = 100, MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
        }).Fit(train, valid),
        _ => MulticlassTeacher(ml, cap, train, valid),
    };

    /// <summary>MapValueToKey(Label) + LightGBM multiclass, early-stopped on <paramref name="valid"/>.</summary>
    private static ITransformer MulticlassTeacher(MLContext ml, int cap, IDataView train, IDataView valid)
    {
        var key = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        var gbm = ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
        {
            NumberOfIterations = cap, NumberOfLeaves = 32, LearningRate = 0.1, EarlyStoppingRound = 20, MinimumExampleCountPerLeaf = 5, NumberOfThreads = 1, Seed = 1,
        }).Fit(key.Transform(train), key.Transform(valid));
        return new TransformerChain<ITransformer>(key, gbm);
    }

    private static (CompressedModel Pruned, CompressedModel Quantized, double[] Seconds) PruneAndQuantize(MLContext ml, ITransformer model, IDataView train, double sparsity)
    {
        var sw = Stopwatch.StartNew();
        var pruned = ml.Compression().Prune(model, new PruningOptions { TargetSparsity = sparsity }).Fit(train);
        double a = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var quantized = ml.Compression().Quantize(pruned, new QuantizationOptions { Precision = Precision.Int8 }).Fit(train);
        return (pruned, quantized, new[] { a, sw.Elapsed.TotalSeconds });
    }

    // ---------------------------------------------------------------- measuring the loaded models

    private const string Method = "Every variant (the source model too) is saved with ml.Model.Save and loaded back with plain ml.Model.Load; "
        + "the loaded model is measured: batch Transform of the test rows with every prediction column read, and a PredictionEngine over the test rows, the models in turns "
        + "(one pass of each per round, each after a GC.Collect, medians of the passes): wall-clock rows/s, and CPU µs/row: the process's for batch Transform "
        + "(ML.NET's cursor spreads the rows over worker threads), the calling thread's for the PredictionEngine, which moves far less than wall time when other jobs share the cores. "
        + "A \"not slower\" target counts as met within run-to-run noise at 0.97× or more.";

    private static string CpuKind => ThreadCpuTime.Available ? "thread CPU" : "process CPU";

    private static string CpuRow(string metric) => metric == "PredictionEngine" ? $"PredictionEngine {CpuKind}" : $"{metric} process CPU";

    private static ScenarioResult NewResult(string name, string description, string[] variants)
        => new() { Name = name, Description = description, Variants = variants };

    /// <summary>A variant as ml.Model.Load gives it back from the zip ml.Model.Save wrote.</summary>
    private sealed record Loaded(ITransformer Model, long ZipBytes, int? Trees, int OnnxTransformers, string[] Assemblies, string Predictor);

    private static Loaded SaveAndLoad(MLContext ml, ITransformer model, DataViewSchema inputSchema)
    {
        byte[] zip;
        using (var stream = new MemoryStream())
        {
            ml.Model.Save(model, inputSchema, stream);
            zip = stream.ToArray();
        }
        ITransformer loaded;
        using (var stream = new MemoryStream(zip)) loaded = ml.Model.Load(stream, out _);
        var flat = Flatten(loaded).ToList();
        var predictors = flat.Select(t => Prop(t, "Model")).Where(p => p != null).Select(p => p!).ToList();
        var assemblies = flat.Cast<object>().Concat(predictors.SelectMany(p => Parts(p, 0)))
            .Select(o => o.GetType().Assembly.GetName().Name ?? "?").Distinct().OrderBy(n => n).ToArray();
        int? trees = null;
        foreach (var p in predictors) if (CountTrees(p, 0) is int n) trees = (trees ?? 0) + n;
        int onnx = flat.Count(t => t.GetType().FullName?.Contains("Onnx", StringComparison.OrdinalIgnoreCase) == true);
        string predictor = string.Join(", ", predictors.Select(p => Describe(p, 0)));
        return new Loaded(loaded, zip.LongLength, trees, onnx, assemblies, predictor);
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer model)
    {
        if (model is IEnumerable<ITransformer> chain)
        {
            foreach (var t in chain)
                foreach (var inner in Flatten(t)) yield return inner;
        }
        else yield return model;
    }

    private static object? Prop(object? o, string name)
        => o?.GetType().GetProperties(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)
            .FirstOrDefault(p => p.Name == name && p.GetIndexParameters().Length == 0)?.GetValue(o);

    /// <summary>The model parameters inside a predictor: itself, its SubModel (calibrated), its SubModelParameters (one-versus-all).</summary>
    private static IEnumerable<object> Parts(object predictor, int depth)
    {
        yield return predictor;
        if (depth > 4) yield break;
        foreach (var inner in Inner(predictor))
            foreach (var part in Parts(inner, depth + 1)) yield return part;
    }

    private static IEnumerable<object> Inner(object predictor)
    {
        if (Prop(predictor, "SubModel") is { } sub) yield return sub;
        if (Prop(predictor, "SubModelParameters") is IEnumerable subs)
            foreach (var m in subs) if (m != null) yield return m;
    }

    /// <summary>Trees of a tree predictor (LightGBM, FastTree; calibrated, or one ensemble per class in one-versus-all), or null.</summary>
    private static int? CountTrees(object? predictor, int depth)
    {
        if (predictor == null || depth > 4) return null;
        if (Prop(predictor, "TrainedTreeEnsemble") is { } ensemble) return (Prop(ensemble, "Trees") as ICollection)?.Count;
        int? total = null;
        foreach (var inner in Inner(predictor)) if (CountTrees(inner, depth + 1) is int n) total = (total ?? 0) + n;
        return total;
    }

    /// <summary>The predictor's type and the types inside it, e.g. OneVersusAllModelParameters[26 × LightGbmBinaryModelParameters].</summary>
    private static string Describe(object predictor, int depth)
    {
        string name = predictor.GetType().Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        var inner = depth > 4 ? new List<string>() : Inner(predictor).Select(p => Describe(p, depth + 1)).ToList();
        if (inner.Count == 0) return name;
        var groups = inner.GroupBy(x => x).Select(g => g.Count() > 1 ? $"{g.Count()} × {g.Key}" : g.Key);
        return $"{name}[{string.Join(", ", groups)}]";
    }

    /// <summary>Saves, loads and measures every variant; adds its rows to <paramref name="result"/>; returns the trees of each.</summary>
    private static int?[] Measure(MLContext ml, Settings s, ScenarioResult result, Kind task, (string Name, ITransformer Model)[] variants,
        DataViewSchema inputSchema, IDataView test, bool textRows = false)
    {
        var loaded = variants.Select(v => SaveAndLoad(ml, v.Model, inputSchema)).ToArray();
        string metricName = task switch { Kind.Binary => "AUC (test)", Kind.Multiclass => "accuracy (test)", _ => "RMSE (test)" };
        double Metric(ITransformer m)
        {
            var scored = m.Transform(test);
            return task switch
            {
                Kind.Binary => ml.BinaryClassification.Evaluate(scored).AreaUnderRocCurve,
                Kind.Multiclass => ml.MulticlassClassification.Evaluate(scored).MicroAccuracy,
                _ => ml.Regression.Evaluate(scored).RootMeanSquaredError,
            };
        }
        var metric = loaded.Select(l => Metric(l.Model)).ToArray();
        // The loaded model must score as the in-memory one did.
        for (int i = 0; i < variants.Length; i++)
        {
            double before = Metric(variants[i].Model);
            if (Math.Abs(before - metric[i]) > 1e-6)
                result.Notes.Add($"{variants[i].Name}: {metricName} {before:F6} in memory but {metric[i]:F6} after ml.Model.Load.");
        }

        var engines = new List<IDisposable>();
        try
        {
            var enginePasses = loaded.Select(l => task switch
            {
                Kind.Binary when textRows => EnginePass<SpamAssassinRow, BinaryPrediction>(ml, l.Model, test, engines),
                Kind.Binary => EnginePass<FeatureRow, BinaryPrediction>(ml, l.Model, test, engines),
                Kind.Multiclass => EnginePass<StringLabelRow, MulticlassPrediction>(ml, l.Model, test, engines),
                _ => EnginePass<FloatLabelRow, RegressionPrediction>(ml, l.Model, test, engines),
            }).ToArray();
            var speed = InTurns(s, loaded.Select(l => (Func<long>)(() => ScoreAll(l.Model, test))).ToArray(), enginePasses);

            result.Add(metricName, task == Kind.Regression ? "USD/week" : "fraction", task != Kind.Regression, "F4", metric.Select(m => (double?)m).ToArray());
            result.Add("trees", "count", false, "F0", loaded.Select(l => (double?)l.Trees).ToArray());
            result.Add("saved zip", "bytes", false, "F0", loaded.Select(l => (double?)l.ZipBytes).ToArray());
            result.Add("batch Transform", "rows/s", true, "F0", speed.Select(x => (double?)x.BatchRowsPerSecond).ToArray());
            result.Add("batch Transform process CPU", "µs/row", false, "F2", speed.Select(x => (double?)x.BatchCpuMicrosecondsPerRow).ToArray());
            result.Add("PredictionEngine", "rows/s", true, "F0", speed.Select(x => (double?)x.EngineRowsPerSecond).ToArray());
            result.Add($"PredictionEngine {CpuKind}", "µs/row", false, "F2", speed.Select(x => (double?)x.EngineCpuMicrosecondsPerRow).ToArray());
            result.Add("OnnxTransformer in the loaded model", "count", false, "F0", loaded.Select(l => (double?)l.OnnxTransformers).ToArray());
        }
        finally
        {
            foreach (var e in engines) e.Dispose();
        }
        for (int i = 0; i < variants.Length; i++)
            result.Notes.Add($"{variants[i].Name}, loaded: {string.Join(" → ", Flatten(loaded[i].Model).Select(t => t.GetType().Name))}; predictor {loaded[i].Predictor}; assemblies: {string.Join(", ", loaded[i].Assemblies)}.");
        var foreign = loaded.SelectMany(l => l.Assemblies).Where(a => a.Contains("Compression", StringComparison.OrdinalIgnoreCase) || a.Contains("Onnx", StringComparison.OrdinalIgnoreCase)).Distinct().ToArray();
        bool noOnnx = loaded.All(l => l.OnnxTransformers == 0) && foreign.Length == 0;
        result.Notes.Add($"target: no loaded model contains an OnnxTransformer or a type of this library — {(noOnnx ? "met" : $"MISSED ({string.Join(", ", foreign)})")}");
        return loaded.Select(l => l.Trees).ToArray();
    }

    private static Func<long> EnginePass<TIn, TOut>(MLContext ml, ITransformer model, IDataView test, List<IDisposable> owned)
        where TIn : class, new() where TOut : class, new()
    {
        var definition = SchemaDefinition.Create(typeof(TIn));
        foreach (var column in definition)
            if (test.Schema.GetColumnOrNull(column.ColumnName) is { Type: VectorDataViewType vector }) column.ColumnType = vector;
        var rows = ml.Data.CreateEnumerable<TIn>(test, reuseRowObject: false, schemaDefinition: definition).ToList();
        var engine = ml.Model.CreateSharedPredictionEngine<TIn, TOut>(model, test.Schema);
        owned.Add(engine);
        var output = new TOut();
        return () => { foreach (var row in rows) engine.Predict(row, ref output); return rows.Count; };
    }

    /// <summary>Transforms the whole test set and reads every prediction column (PredictedLabel, Score, Probability) of every row.</summary>
    private static long ScoreAll(ITransformer model, IDataView test)
    {
        var scored = model.Transform(test);
        var cols = new[] { "PredictedLabel", "Score", "Probability" }.Select(c => scored.Schema.GetColumnOrNull(c)).Where(c => c != null).Select(c => c!.Value).ToArray();
        using var cursor = scored.GetRowCursor(cols);
        var readers = cols.Select(c => c.Type switch
        {
            BooleanDataViewType => Reader<bool>(cursor, c),
            KeyDataViewType => Reader<uint>(cursor, c),
            VectorDataViewType => Reader<VBuffer<float>>(cursor, c),
            _ => Reader<float>(cursor, c),
        }).ToArray();
        long n = 0;
        while (cursor.MoveNext()) { foreach (var read in readers) read(); n++; }
        return n;
    }

    private static Action Reader<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var getter = cursor.GetGetter<T>(column);
        T value = default!;
        return () => getter(ref value);
    }

    /// <summary>
    /// <see cref="TreeModelMeasure.ThroughputInTurns"/> for any task: one batch and one PredictionEngine pass of each
    /// model per round, each round starting at the next model, until every model had at least 5 rounds and
    /// Runs × SecondsPerRun × 2 seconds each; medians of the per-pass wall rows/s and process CPU µs/row.
    /// </summary>
    private static Throughput[] InTurns(Settings s, Func<long>[] batchPasses, Func<long>[] enginePasses)
    {
        int count = batchPasses.Length;
        // Warm-up: every pass in turns until the tiered JIT has settled: at least 3 rounds and 1 s (2 s full), then on
        // until a round is no longer faster than the best earlier one by 3 % (at most 4 s; 10 s full). A single
        // warm-up pass left the first scenario of a process timed partly at tier 0, several times slower.
        var warm = Stopwatch.StartNew();
        double best = double.MaxValue, min = s.Quick ? 1.0 : 2.0, max = s.Quick ? 4.0 : 10.0;
        for (int round = 0; ; round++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int k = 0; k < count; k++) { batchPasses[k](); enginePasses[k](); }
            double t = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            bool settled = t > 0.97 * best;
            best = Math.Min(best, t);
            if (warm.Elapsed.TotalSeconds >= max || (round >= 2 && warm.Elapsed.TotalSeconds >= min && settled)) break;
        }
        var batch = Enumerable.Range(0, count).Select(_ => (Wall: new List<double>(), Cpu: new List<double>())).ToArray();
        var engine = Enumerable.Range(0, count).Select(_ => (Wall: new List<double>(), Cpu: new List<double>())).ToArray();
        using var process = Process.GetCurrentProcess();
        void Time(Func<long> pass, (List<double> Wall, List<double> Cpu) into, bool threadCpu)
        {
            // Each pass starts on a collected heap, so that it does not pay for the garbage of the pass before it
            // (FeaturizeText allocates much more per row than a tree ensemble).
            GC.Collect();
            // CPU time: the calling thread's for the PredictionEngine (it scores on the calling thread), where the
            // platform has it: the work of the pass without the time spent waiting for a core, which moves little
            // when other jobs share the machine. The process's for batch Transform: ML.NET's cursor over a cached
            // data view splits the rows over worker threads.
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            double thread0 = ThreadCpuTime.Microseconds();
            long t0 = Stopwatch.GetTimestamp();
            long n = pass();
            double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            double thread = ThreadCpuTime.Microseconds() - thread0;
            process.Refresh();
            into.Wall.Add(n / wall);
            into.Cpu.Add((threadCpu && ThreadCpuTime.Available ? thread : (process.TotalProcessorTime - cpu0).TotalMicroseconds) / n);
        }
        var clock = Stopwatch.StartNew();
        for (int round = 0; batch[0].Wall.Count < 5 || clock.Elapsed.TotalSeconds < count * s.Runs * s.SecondsPerRun * 2; round++)
            for (int j = 0; j < count; j++)
            {
                int k = (j + round) % count;
                Time(batchPasses[k], batch[k], threadCpu: false);
                Time(enginePasses[k], engine[k], threadCpu: true);
            }
        return Enumerable.Range(0, count).Select(k => new Throughput(
            Timing.Median(batch[k].Wall), Timing.Median(batch[k].Cpu), Timing.Median(engine[k].Wall), Timing.Median(engine[k].Cpu))).ToArray();
    }

    /// <summary>A note saying whether <paramref name="metric"/>'s ratio of <paramref name="variant"/> to the first column meets <paramref name="threshold"/>.</summary>
    private static void Target(Settings s, ScenarioResult result, string metric, int variant, double threshold, string what, bool atMost = false)
    {
        var row = result.Rows.First(r => r.Metric == metric);
        var ratio = ScenarioResult.Ratio(row, variant);
        bool met = ratio is double r && (atMost ? r <= threshold : r >= threshold);
        // Beside a wall-clock rows/s ratio: the same ratio from the CPU time per row (source µs ÷ variant µs).
        string cpu = "";
        string cpuName = CpuRow(metric);
        if (result.Rows.FirstOrDefault(x => x.Metric == cpuName) is { } cpuRow && ScenarioResult.Ratio(cpuRow, variant) is double c && c > 0)
            cpu = $" (from {cpuName[(metric.Length + 1)..]} per row: {1 / c:F2}×)";
        // Speed ratios of 1× targets: within ±3 % the run-to-run noise decides (the README's rule for "not slower").
        bool noise = !met && !atMost && threshold == 1.0 && ratio is double q && q >= 0.97;
        result.Notes.Add($"target: {what} ({(atMost ? "≤" : "≥")} {threshold:0.##}×): {ratio?.ToString("F2") ?? "–"}×{cpu} — {(met ? "met" : noise ? "met within noise (≥ 0.97×)" : "MISSED")}"
            + (s.Quick && !atMost ? " (--quick: short timing, indicative only; the full run judges the speed targets)" : ""));
    }
}

/// <summary>A featurized row whose label is a string (letter): what a PredictionEngine is fed.</summary>
public sealed class StringLabelRow
{
    public string Label { get; set; } = "";
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>A featurized row whose label is a number (cps1988).</summary>
public sealed class FloatLabelRow
{
    public float Label { get; set; }
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>A multiclass prediction: the class key and the per-class scores.</summary>
public sealed class MulticlassPrediction
{
    public uint PredictedLabel { get; set; }
    public float[] Score { get; set; } = Array.Empty<float>();
}

/// <summary>A regression prediction.</summary>
public sealed class RegressionPrediction
{
    public float Score { get; set; }
}
