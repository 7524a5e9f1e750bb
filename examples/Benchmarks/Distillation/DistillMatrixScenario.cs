using System.Diagnostics;
using System.Globalization;
using System.Text;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;
using Microsoft.ML.Transforms;

namespace Benchmarks.Distillation;

/// <summary>
/// Issue 16's matrix: on ten public data sets, an early-stopped LightGBM teacher, the 50 × 16 LightGBM student trained
/// on the labels alone, and the same student given to Distill with its default options (chosen on held-out rows,
/// default size), over several split seeds. Multiclass sets run a one-versus-all and a native multiclass student.
/// </summary>
public static class DistillMatrixScenario
{
    private enum Task { Binary, Multiclass, Regression }

    private sealed record DataSet(string File, Task Task, string? Positive = null, string? Negative = null);

    private static readonly DataSet[] Sets =
    {
        new("wa_churn.csv", Task.Binary, "Yes", "No"),
        new("spam.csv", Task.Binary, "spam", "nonspam"),
        new("lending_club.csv", Task.Binary, "bad", "good"),
        new("breast_cancer.csv", Task.Binary, "malignant", "benign"),
        new("letter.csv", Task.Multiclass),
        new("shuttle.csv", Task.Multiclass),
        new("digits.csv", Task.Multiclass),
        new("wine.csv", Task.Multiclass),
        new("cps1988.csv", Task.Regression),
        new("diamonds.csv", Task.Regression),
    };

    /// <summary>Rows kept of each set (a seeded sample), so that the matrix runs in minutes on two cores.</summary>
    private const int MaxRows = 3000;

    /// <summary>Classes with fewer rows than this are dropped (shuttle's rarest classes have 1–9 of 3,000 rows: a split can leave none to train on).</summary>
    private const int MinClassRows = 10;

    private const int StudentTrees = 50, StudentLeaves = 16;

    /// <summary>One (set, student) line of the matrix, figures per seed.</summary>
    private sealed class Line
    {
        public required string Name { get; init; }
        public required Task Task { get; init; }
        public int Rows, Features;
        public readonly List<double> Teacher = new(), LabelOnly = new(), LabelOnlySized = new(), Distilled = new(), ValidationGap = new();
        public readonly List<double> ZipRatio = new(), SpeedRatio = new(), OwnSpeedRatio = new(), TeacherTrees = new();
        public readonly List<string> Chosen = new();
    }

    public static ScenarioResult Run(Settings s)
    {
        int[] seeds = s.Quick ? new[] { 1 } : new[] { 1, 2, 3 };
        var lines = new List<Line>();
        var clock = Stopwatch.StartNew();
        double cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        // DISTILL_MATRIX_SETS=shuttle,digits reruns some sets alone (file names without .csv).
        var only = Environment.GetEnvironmentVariable("DISTILL_MATRIX_SETS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sets = only != null ? Sets.Where(x => only.Contains(Path.GetFileNameWithoutExtension(x.File))).ToArray()
            : s.Quick ? Sets.Where(x => x.File is "breast_cancer.csv" or "wine.csv" or "cps1988.csv").ToArray() : Sets;
        foreach (var set in sets)
        {
            var setClock = Stopwatch.StartNew();
            var ml = new MLContext(seed: 1);
            var (data, features) = LoadSet(ml, set);
            long rows = data.GetColumn<float[]>("Features").LongCount();
            string name = Path.GetFileNameWithoutExtension(set.File);
            var students = set.Task == Task.Multiclass ? new[] { "one-vs-all", "multiclass" } : new[] { "" };
            var setLines = students.Select(st => new Line { Name = st.Length == 0 ? name : $"{name} ({st})", Task = set.Task, Rows = (int)rows, Features = features }).ToArray();
            foreach (int seed in seeds)
            {
                // 60 / 20 / 20: train (teacher and students; Distill holds out its own 20 % of it), validation (the
                // teacher's early stopping, and teacher vs label-only), test.
                var first = ml.Data.TrainTestSplit(data, 0.2, seed: seed);
                var second = ml.Data.TrainTestSplit(first.TrainSet, 0.25, seed: seed);
                IDataView train = ml.Data.Cache(second.TrainSet), valid = ml.Data.Cache(second.TestSet), test = ml.Data.Cache(first.TestSet);
                var teacher = Teacher(ml, set.Task, train, valid);
                for (int k = 0; k < students.Length; k++)
                {
                    var line = setLines[k];
                    var labelOnly = Student(ml, set.Task, students[k], weight: null).Fit(train);
                    var options = new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false /* trained above */ }, StudentWeightColumnName = students[k] == "one-vs-all" ? "Weight" : null };
                    // DISTILL_MATRIX_GIVEN_VALIDATION=1: the choice on the teacher's early-stopping rows, which it did not train on
                    // (by default Distill holds out training rows the teacher has seen, which favours distilled candidates).
                    // Fewer than the 50 rows a choice needs (wine: 36): Distill's own folds, as without the variable.
                    if (Environment.GetEnvironmentVariable("DISTILL_MATRIX_GIVEN_VALIDATION") == "1" && valid.GetColumn<float[]>("Features").Count() >= 50 /* Distill's minimum */)
                        options.Selection.ValidationData = valid;
                    // DISTILL_MATRIX_TEMPERATURE=T: classification students learn the teacher's probabilities softened by T.
                    if (double.TryParse(Environment.GetEnvironmentVariable("DISTILL_MATRIX_TEMPERATURE"), System.Globalization.CultureInfo.InvariantCulture, out var temperature) && set.Task != Task.Regression)
                        options.Temperature = temperature;
                    // DISTILL_MATRIX_MUNGE=F: F MUNGE rows per training row, labelled by the teacher (Augmentation.Factor).
                    if (int.TryParse(Environment.GetEnvironmentVariable("DISTILL_MATRIX_MUNGE"), out var munge))
                        options.Augmentation.Factor = munge;
                    using var distilled = ml.Compression().Distill(teacher, Student(ml, set.Task, students[k], "Weight"), options).Fit(train);
                    var row = distilled.Report.Stages[1];
                    line.LabelOnlySized.Add(LabelOnlyAtDefaultSize(ml, set.Task, teacher, Student(ml, set.Task, students[k], "Weight"), options, train, test, distilled));
                    line.Teacher.Add(Metric(ml, set.Task, teacher, test));
                    line.LabelOnly.Add(Metric(ml, set.Task, labelOnly, test));
                    line.Distilled.Add(Metric(ml, set.Task, distilled, test));
                    // Teacher against the label-only student on the validation rows, as an error reduction (> 0: the teacher is better).
                    double t = Metric(ml, set.Task, teacher, valid), l = Metric(ml, set.Task, labelOnly, valid);
                    line.ValidationGap.Add(set.Task == Task.Regression ? (l - t) / l : t - l);
                    if (row.TeacherZipBytes is long tz) line.ZipRatio.Add(row.ZipBytes / (double)tz);
                    if (row.RowsPerSecond is double r && row.TeacherRowsPerSecond is double tr) line.SpeedRatio.Add(r / tr);
                    line.TeacherTrees.Add(Tabular.TreeCount(teacher) ?? double.NaN);
                    line.OwnSpeedRatio.Add(SpeedRatio(ml, teacher, distilled, test, s.Quick ? 2 : SpeedRounds));
                    line.Chosen.Add(row.Selection is { } sel ? sel.Chosen.Name : "not chosen: " + NotChosen(row.Description));
                    if (row.Selection is { } chosen)
                        Console.WriteLine($"        seed {seed} {line.Name}: {Short(chosen.Chosen.Name)}; best distilled gain {chosen.BestGain:+0.0000;-0.0000} ± {chosen.BestGainStandardError:0.0000} on {chosen.ValidationRows} rows; " +
                            $"teacher {chosen.TeacherValidationMetric:0.0000}, labels only {chosen.Candidates[0].ValidationMetric:0.0000} there; test distilled − labels only (default size) {line.Distilled[^1] - line.LabelOnlySized[^1]:+0.0000;-0.0000}");
                }
            }
            lines.AddRange(setLines);
            Console.WriteLine($"      {name}: {rows} rows in {setClock.Elapsed.TotalSeconds:F0} s ({Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpuAtStart:F0} s CPU so far)");
        }

        var result = new ScenarioResult
        {
            Name = "Distillation matrix: early-stopped LightGBM teacher, 50 × 16 student on the labels alone and through the default Distill",
            Description = $"Ten public data sets of data/ (at most {MaxRows} rows each, a seeded sample; classes under {MinClassRows} rows dropped), {seeds.Length} split seeds ({string.Join(", ", seeds)}), "
                + "60/20/20 train/validation/test per seed. Teacher: LightGBM up to 1000 rounds × 64 leaves (multiclass: softmax, 32 leaves), learning rate 0.1, early-stopped on the validation part "
                + "after 50 rounds without gain. Students: LightGBM 50 rounds × 16 leaves, learning rate 0.1 (one-vs-all: 50 × 16 per class; native multiclass: softmax), trained on the labels alone, "
                + "and the same student with a weight column given to Distill with default options ("
                + (Environment.GetEnvironmentVariable("DISTILL_MATRIX_GIVEN_VALIDATION") == "1"
                    ? "ChooseOnValidation on the teacher's early-stopping rows given as Selection.ValidationData (wine's 36 are too few: its own folds), "
                    : "ChooseOnValidation on its own 20 % of the training rows, ")
                + "MinimumErrorReduction 0.05, MinimumStandardErrors 1, StudentLeafFraction 0.5; TrainLabelOnlyBaseline off because the label-only student is trained here). "
                + "The label-only student at the default size is Distill's own label-only candidate (the returned student where the labels won, else the same choice forced to the labels). "
                + "Metrics on the test part: AUC, micro-accuracy, RMSE. "
                + "Sizes: the Distill row's saved-zip bytes and batch rows/s against the teacher's (measured side by side by the report), and the benchmark's own reading of the rows/s "
                + $"(the test rows, best of {(s.Quick ? 2 : SpeedRounds)} interleaved passes of at least {SpeedPassSeconds} s each). All single-threaded.",
            Variants = lines.Select(l => l.Name).ToArray(),
        };
        result.Add("teacher (test)", "metric", true, "F4", lines.Select(l => (double?)l.Teacher.Average()).ToArray());
        result.Add("labels only (test)", "metric", true, "F4", lines.Select(l => (double?)l.LabelOnly.Average()).ToArray());
        result.Add("labels only at the default size (test)", "metric", true, "F4", lines.Select(l => (double?)l.LabelOnlySized.Average()).ToArray());
        result.Add("distilled (test)", "metric", true, "F4", lines.Select(l => (double?)l.Distilled.Average()).ToArray());
        result.Add("distilled − labels only", "metric", true, "F4", lines.Select(l => (double?)(l.Distilled.Average() - l.LabelOnly.Average())).ToArray());
        result.Add("student zip / teacher zip", "ratio", false, "F3", lines.Select(l => (double?)l.ZipRatio.DefaultIfEmpty(double.NaN).Max()).ToArray());
        result.Add("student rows/s / teacher rows/s", "ratio", true, "F2", lines.Select(l => (double?)l.SpeedRatio.DefaultIfEmpty(double.NaN).Min()).ToArray());
        result.Add("student rows/s / teacher rows/s (benchmark's reading)", "ratio", true, "F2", lines.Select(l => (double?)l.OwnSpeedRatio.DefaultIfEmpty(double.NaN).Min()).ToArray());
        result.Notes.Add(Table(lines, seeds.Length));
        result.Notes.Add(Verdict(lines));
        result.Notes.Add($"Matrix time {clock.Elapsed.TotalSeconds:F0} s wall, {Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpuAtStart:F0} s CPU (the process's, both cores).");
        Console.WriteLine(Table(lines, seeds.Length));
        Console.WriteLine(Verdict(lines));
        return result;
    }

    /// <summary>The set's rows featurized (<see cref="Tabular.Load"/>), at most <see cref="MaxRows"/>, with the label the task's trainers read.</summary>
    private static (IDataView Data, int Features) LoadSet(MLContext ml, DataSet set)
    {
        var (raw, features) = Tabular.Load(ml, set.File, set.Task == Task.Regression ? DataKind.Single : DataKind.String);
        var data = ml.Data.TakeRows(ml.Data.ShuffleRows(raw, seed: 42), MaxRows);
        if (set.Task == Task.Binary)
            data = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { [set.Positive!] = true, [set.Negative!] = false }, "Label").Fit(data).Transform(data);
        if (set.Task == Task.Multiclass)
        {
            var counts = data.GetColumn<ReadOnlyMemory<char>>("Label").GroupBy(v => v.ToString()).ToDictionary(g => g.Key, g => g.Count());
            data = ml.Data.FilterByCustomPredicate<LabelRow>(data, r => counts[r.Label] < MinClassRows);
        }
        return (ml.Data.Cache(data), features);
    }

    private sealed class LabelRow { public string Label { get; set; } = ""; }

    private static IEstimator<ITransformer> Key(MLContext ml)
        => ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue);

    /// <summary>The early-stopped LightGBM teacher of the task.</summary>
    private static ITransformer Teacher(MLContext ml, Task task, IDataView train, IDataView valid)
    {
        switch (task)
        {
            case Task.Binary:
                return ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
                {
                    NumberOfIterations = 1000, NumberOfLeaves = 64, LearningRate = 0.1, EarlyStoppingRound = 50,
                    MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
                }).Fit(train, valid);
            case Task.Regression:
                return ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
                {
                    NumberOfIterations = 1000, NumberOfLeaves = 64, LearningRate = 0.1, EarlyStoppingRound = 50,
                    MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
                }).Fit(train, valid);
            default:
                var key = Key(ml).Fit(train);
                var model = ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
                {
                    NumberOfIterations = 1000, NumberOfLeaves = 32, LearningRate = 0.1, EarlyStoppingRound = 50,
                    MinimumExampleCountPerLeaf = 5, NumberOfThreads = 1, Seed = 1, UseSoftmax = true,
                }).Fit(key.Transform(train), key.Transform(valid));
                return new TransformerChain<ITransformer>(key, model);
        }
    }

    /// <summary>The 50 × 16 LightGBM student of the task (<paramref name="kind"/>: "one-vs-all" or "multiclass" for multiclass sets).</summary>
    private static IEstimator<ITransformer> Student(MLContext ml, Task task, string kind, string? weight)
    {
        LightGbmBinaryTrainer Binary() => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
        {
            NumberOfIterations = StudentTrees, NumberOfLeaves = StudentLeaves, LearningRate = 0.1, MinimumExampleCountPerLeaf = 5,
            NumberOfThreads = 1, Seed = 1, ExampleWeightColumnName = weight,
        });
        return task switch
        {
            Task.Binary => Binary(),
            Task.Regression => ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
            {
                NumberOfIterations = StudentTrees, NumberOfLeaves = StudentLeaves, LearningRate = 0.1, MinimumExampleCountPerLeaf = 5,
                NumberOfThreads = 1, Seed = 1, ExampleWeightColumnName = weight,
            }),
            _ => kind == "one-vs-all"
                ? Key(ml).Append(ml.MulticlassClassification.Trainers.OneVersusAll(Binary()))
                : Key(ml).Append(ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
                {
                    NumberOfIterations = StudentTrees, NumberOfLeaves = StudentLeaves, LearningRate = 0.1, MinimumExampleCountPerLeaf = 5,
                    NumberOfThreads = 1, Seed = 1, ExampleWeightColumnName = weight,
                    // ML.NET trains LightGBM multiclass one-vs-all below 50,000 rows unless told: the native student is softmax.
                    UseSoftmax = true,
                })),
        };
    }

    private static double Metric(MLContext ml, Task task, ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        return task switch
        {
            Task.Binary => ml.BinaryClassification.EvaluateNonCalibrated(scored).AreaUnderRocCurve,
            Task.Regression => ml.Regression.Evaluate(scored).RootMeanSquaredError,
            _ => ml.MulticlassClassification.Evaluate(scored).MicroAccuracy,
        };
    }

    /// <summary>Rounds and least seconds per pass of <see cref="SpeedRatio"/>.</summary>
    private const int SpeedRounds = 7;
    private const double SpeedPassSeconds = 0.15;

    /// <summary>
    /// The student's rows/s over the teacher's, read by the benchmark itself on the cached test rows: each model's batch
    /// Transform read through (Score) again and again for at least 0.15 s per pass, a warm-up pass each, then 7 rounds
    /// (2 in --quick) in which both run in turn; the best pass of each (the least disturbed by the other jobs on the machine).
    /// </summary>
    private static double SpeedRatio(MLContext ml, ITransformer teacher, ITransformer student, IDataView test, int rounds)
    {
        var cached = ml.Data.Cache(test);
        double Pass(ITransformer model)
        {
            var watch = Stopwatch.StartNew();
            long rows = 0;
            while (watch.Elapsed.TotalSeconds < SpeedPassSeconds)
            {
                var scored = model.Transform(cached);
                var column = scored.Schema["Score"];
                using var cursor = scored.GetRowCursor(new[] { column });
                if (column.Type is VectorDataViewType)
                {
                    var getter = cursor.GetGetter<VBuffer<float>>(column);
                    VBuffer<float> value = default;
                    while (cursor.MoveNext()) { getter(ref value); rows++; }
                }
                else
                {
                    var getter = cursor.GetGetter<float>(column);
                    float value = 0;
                    while (cursor.MoveNext()) { getter(ref value); rows++; }
                }
            }
            return rows / watch.Elapsed.TotalSeconds;
        }
        Pass(teacher);
        Pass(student);
        double bestTeacher = 0, bestStudent = 0;
        for (int round = 0; round < rounds; round++)
        {
            bestTeacher = Math.Max(bestTeacher, Pass(teacher));
            bestStudent = Math.Max(bestStudent, Pass(student));
        }
        return bestStudent / bestTeacher;
    }

    /// <summary>
    /// The label-only student at the default size, exactly as Distill returns it when it picks the labels (the same
    /// fit and cut): the returned student itself when the labels won, else the same choice with a margin no candidate
    /// can beat. (Alpha 0 without the choice trains on the transfer set's zero-weight rows: a student of the same kind
    /// whose test accuracy differed from the label-only candidate's by up to 0.34 points on letter, noise that is not
    /// distillation's.) Falls back to Alpha 0 if a candidate still won.
    /// </summary>
    private static double LabelOnlyAtDefaultSize(MLContext ml, Task task, ITransformer teacher, IEstimator<ITransformer> student, DistillationOptions options, IDataView train, IDataView test, CompressedModel distilled)
    {
        if (distilled.Report.Stages[1].Selection is { NothingToDistil: true }) return Metric(ml, task, distilled, test);
        var forced = new DistillationOptions
        {
            StudentWeightColumnName = options.StudentWeightColumnName,
            Selection = { TrainLabelOnlyBaseline = false, ValidationData = options.Selection.ValidationData, CandidateAlphas = new[] { 1.0 }, MinimumErrorReduction = 0.5, MinimumStandardErrors = 4 },
        };
        using (var labels = ml.Compression().Distill(teacher, student, forced).Fit(train))
            if (labels.Report.Stages[1].Selection is { NothingToDistil: true }) return Metric(ml, task, labels, test);
        using var alphaZero = ml.Compression().Distill(teacher, student, new DistillationOptions
        {
            Alpha = 0, Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false }, StudentWeightColumnName = options.StudentWeightColumnName,
        }).Fit(train);
        return Metric(ml, task, alphaZero, test);
    }

    private static string NotChosen(string description)
    {
        int at = description.IndexOf("Not chosen on validation rows: ", StringComparison.Ordinal);
        return at < 0 ? "?" : description[(at + 31)..].Split("; ")[0];
    }

    private static (double Mean, double Sd) Spread(IReadOnlyList<double> v)
    {
        double mean = v.Average();
        return (mean, v.Count > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1)) : 0);
    }

    /// <summary>
    /// Whether the teacher beat the label-only student on validation beyond the seed noise: the mean error reduction
    /// is more than twice its standard error over the seeds.
    /// </summary>
    private static bool TeacherBetter(Line l)
    {
        var (mean, sd) = Spread(l.ValidationGap);
        return mean > 2 * sd / Math.Sqrt(l.ValidationGap.Count);
    }

    /// <summary>The tolerance of issue 16's "Done when": 0.002 AUC, 0.3 accuracy points, 0.5 % RMSE.</summary>
    private static bool NotWorse(Line l, List<double> labelOnly) => l.Task switch
    {
        Task.Binary => l.Distilled.Average() >= labelOnly.Average() - 0.002,
        Task.Multiclass => l.Distilled.Average() >= labelOnly.Average() - 0.003,
        _ => l.Distilled.Average() <= labelOnly.Average() * 1.005,
    };

    private static bool Better(Line l, List<double> labelOnly) => l.Task == Task.Regression ? l.Distilled.Average() < labelOnly.Average() : l.Distilled.Average() > labelOnly.Average();

    private static string F(double v, Task task) => v.ToString(task == Task.Regression ? (v >= 100 ? "F1" : "F3") : "F4", CultureInfo.InvariantCulture);

    private static string Table(List<Line> lines, int seeds)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"| set (rows, features) | metric | teacher | labels only | labels only, default size | distilled | teacher − labels only on validation (error cut) | teacher better beyond noise | student / teacher zip | student / teacher rows/s (report) | (benchmark) | teacher trees | chosen per seed |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---|");
        foreach (var l in lines)
        {
            string Cell(List<double> v) { var (m, sd) = Spread(v); return $"{F(m, l.Task)} ± {F(sd, l.Task)}"; }
            var (gap, gapSd) = Spread(l.ValidationGap);
            string metric = l.Task switch { Task.Binary => "AUC", Task.Multiclass => "accuracy", _ => "RMSE" };
            string gapText = l.Task == Task.Regression ? $"{gap:P1} ± {gapSd:P1}" : $"{gap:+0.0000;−0.0000} ± {gapSd:F4}";
            sb.AppendLine($"| {l.Name} ({l.Rows}, {l.Features}) | {metric} | {Cell(l.Teacher)} | {Cell(l.LabelOnly)} | {Cell(l.LabelOnlySized)} | {Cell(l.Distilled)} | {gapText} | {(TeacherBetter(l) ? "yes" : "no")} | "
                + $"{l.ZipRatio.DefaultIfEmpty(double.NaN).Max():F2} (max) | {l.SpeedRatio.DefaultIfEmpty(double.NaN).Min():F2} (min) | {l.OwnSpeedRatio.DefaultIfEmpty(double.NaN).Min():F2} (min) | {(double.IsNaN(l.TeacherTrees.Average()) ? "—" : l.TeacherTrees.Average().ToString("F0"))} | {string.Join(" / ", l.Chosen.Select(Short))} |");
        }
        sb.Append($"(mean ± standard deviation over {seeds} seeds; ratios: the worst seed; chosen: α = the distilled candidate's Alpha, t = trees at the default size)");
        return sb.ToString();
    }

    /// <summary>A candidate's name, short enough for a table cell ("α 1, 33 t" for "distilled, alpha 1, 33 trees (default size)").</summary>
    private static string Short(string name) => name.Replace("distilled, alpha ", "α ").Replace(" trees (default size)", " t").Replace("labels only", "labels");

    private static string Verdict(List<Line> lines) => Verdict(lines, l => l.LabelOnlySized, "the label-only student at the default size")
        + "\n" + Verdict(lines, l => l.LabelOnly, "the label-only student as given (not cut)");

    private static string Verdict(List<Line> lines, Func<Line, List<double>> of, string against)
    {
        var sb = new StringBuilder($"Done-when checks against {against}: ");
        var worse = lines.Where(l => !NotWorse(l, of(l))).Select(l => l.Name).ToList();
        sb.Append($"distilled ≥ labels only within tolerance on {lines.Count - worse.Count}/{lines.Count}" + (worse.Count > 0 ? $" (not: {string.Join(", ", worse)})" : "") + "; ");
        var owed = lines.Where(TeacherBetter).ToList();
        var notBetter = owed.Where(l => !Better(l, of(l))).Select(l => l.Name).ToList();
        sb.Append($"strictly better where the teacher is better beyond noise on {owed.Count - notBetter.Count}/{owed.Count}" + (notBetter.Count > 0 ? $" (not: {string.Join(", ", notBetter)})" : "") + "; ");
        var multi = lines.Where(l => l.Task == Task.Multiclass).ToList();
        var multiWorse = multi.Where(l => l.Distilled.Average() < of(l).Average()).Select(l => l.Name).ToList();
        sb.Append($"multiclass distilled ≥ labels only on {multi.Count - multiWorse.Count}/{multi.Count}" + (multiWorse.Count > 0 ? $" (not: {string.Join(", ", multiWorse)})" : "") + "; ");
        var big = lines.Where(l => l.ZipRatio.Any(r => r >= 1) || l.SpeedRatio.Any(r => r <= 1)).Select(l => l.Name).ToList();
        sb.Append($"student smaller and faster than the teacher on every seed on {lines.Count - big.Count}/{lines.Count}" + (big.Count > 0 ? $" (not: {string.Join(", ", big)})" : "") + " by the report's rows/s, ");
        var slow = lines.Where(l => l.ZipRatio.Any(r => r >= 1) || l.OwnSpeedRatio.Any(r => r <= 1)).Select(l => l.Name).ToList();
        sb.Append($"on {lines.Count - slow.Count}/{lines.Count}" + (slow.Count > 0 ? $" (not: {string.Join(", ", slow)})" : "") + " by the benchmark's.");
        return sb.ToString();
    }
}
