using System.Diagnostics;
using Benchmarks.Common;
using Benchmarks.Trees;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Benchmarks.Distillation;

/// <summary>
/// LETTER.p2 (letters A–M against N–Z), the binary task of Caruana &amp; Niculescu-Mizil (2006) and of the MUNGE
/// paper: a large early-stopped LightGBM teacher that is clearly better than a 50-tree model trained on the labels,
/// distilled into 50 trees × 16 leaves with each of the library's levers (soft targets, MUNGE, unlabeled data,
/// hard labels), side by side with the same student trained on the labels alone.
/// </summary>
public static class LetterP2DistillScenario
{
    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var (train, valid, test, unlabeledHalf, unlabeledRest) = Split(ml, 42);

        var sw = Stopwatch.StartNew();
        var teacher = Tabular.LargeBinaryTeacher(ml, s, train, valid);
        double teacherSeconds = sw.Elapsed.TotalSeconds;
        int teacherTrees = Tabular.TreeCount(teacher) ?? -1;

        // Every student (labels only and each distilled variant) gets its own learning rate and minimum leaf size, the
        // ones with the best AUC on the validation rows (the teacher's early-stopping rows; never the test rows), from
        // the same grid: the comparison is then between tuned students, not between one setting that suits some of them.
        int studentTrees = s.Quick ? 20 : 50;
        var grid = Grid(s);
        LightGbmBinaryTrainer Student((double Rate, int MinLeaf) h, string? weight) => Tabular.BinaryStudent(ml, studentTrees, h.Rate, weight, h.MinLeaf);
        (T Model, (double Rate, int MinLeaf) H) Pick<T>(Func<(double, int), T> fit) where T : ITransformer => LetterP2DistillScenario.Pick(ml, valid, grid, fit);

        var labelsOnly = Pick(h => Student(h, null).Fit(train));
        var allUnlabeled = Concat(ml, unlabeledHalf, unlabeledRest);
        int factor = s.Quick ? 1 : 4;
        var variants = new (string Name, IDataView Data, DistillationOptions Options)[]
        {
            ("distilled", train, new DistillationOptions()),
            ($"+ MUNGE ×{factor}", train, new DistillationOptions { Augmentation = { Factor = factor, SampleSize = 5000 } }),
            ($"+ {Count(unlabeledHalf)} unlabeled", train, new DistillationOptions { UnlabeledData = unlabeledHalf }),
            ($"+ {Count(allUnlabeled)} unlabeled", train, new DistillationOptions { UnlabeledData = allUnlabeled }),
            ($"hard labels + {Count(allUnlabeled)} unlabeled", train, new DistillationOptions { UnlabeledData = allUnlabeled, HardLabels = true }),
        };
        var seconds = new List<double>();
        var distilled = new List<CompressedModel>();
        var chosen = new List<(double Rate, int MinLeaf)> { labelsOnly.H };
        foreach (var v in variants)
        {
            v.Options.Selection.TrainLabelOnlyBaseline = false; // trained once above, the same for all
            sw.Restart();
            var best = Pick(h => ml.Compression().Distill(teacher, Student(h, "Weight"), v.Options).WithEvaluationData(test).Fit(v.Data));
            seconds.Add(sw.Elapsed.TotalSeconds / grid.Length);
            distilled.Add(best.Model);
            chosen.Add(best.H);
        }

        // The same shape as a regression student on the teacher's logit (BinaryTargets.LogitRegression), with all unlabeled rows, tuned on the same grid.
        sw.Restart();
        var logit = Pick(h => ml.Compression().Distill(teacher, Student(h, null), new DistillationOptions
        { UnlabeledData = allUnlabeled, BinaryTargets = BinaryTargets.LogitRegression,
            RegressionStudent = Tabular.LogitStudent(ml, studentTrees, h.Item1, h.Item2),
            Selection = { TrainLabelOnlyBaseline = false },
        }).WithEvaluationData(test).Fit(train));
        seconds.Add(sw.Elapsed.TotalSeconds / grid.Length);
        distilled.Add(logit.Model);
        chosen.Add(logit.H);
        // A student with its own featurization: Letter's features and their 120 pairwise differences (oblique splits for
        // its trees), on the labels alone and distilled with Alpha 0 (the train rows keep their true labels, the unlabeled
        // rows learn the teacher's soft targets); tuned on the same grid.
        var obliqueLabelsOnly = Pick(h => Tabular.ObliqueStudent(ml, studentTrees, h.Item1, null, h.Item2).Fit(train));
        chosen.Add(obliqueLabelsOnly.H);
        sw.Restart();
        var oblique = PickWithAlpha(ml, valid, grid, Alphas(s), (h, alpha) => ml.Compression().Distill(teacher, Tabular.ObliqueStudent(ml, studentTrees, h.Item1, "Weight", h.Item2),
            new DistillationOptions { UnlabeledData = allUnlabeled, Alpha = alpha, Selection = { TrainLabelOnlyBaseline = false } }).WithEvaluationData(test).Fit(train));
        seconds.Add(sw.Elapsed.TotalSeconds / (grid.Length * Alphas(s).Length));
        chosen.Add(oblique.H);
        var variantNames = variants.Select(v => v.Name).Append($"logit regression + {Count(allUnlabeled)} unlabeled")
            .Append("oblique features, labels only").Append($"oblique features + {Count(allUnlabeled)} unlabeled").ToArray();

        var rows = Tabular.Rows(ml, test);
        var models = new ITransformer[] { teacher, labelsOnly.Model }.Concat(distilled).Append(obliqueLabelsOnly.Model).Append(oblique.Model).ToArray();
        var figures = models.Select(m => BinaryModelMeasure.Measure(ml, s, m, train.Schema, test, rows)).ToArray();
        var result = new ScenarioResult
        {
            Name = $"Distillation: LETTER.p2 (A–M vs N–Z), LightGBM teacher vs {studentTrees}-tree × 16-leaf students",
            Description = $"Labelled data: data/letter.csv, 80/20 split (seed 42): {Count(train)} train rows (teacher and students), {Count(valid)} validation rows (early-stop the teacher and pick each student's learning rate and minimum leaf size). "
                + $"data/letter_extra.csv (other Letter rows) split in halves (seed 42): {Count(unlabeledHalf)} rows used without labels as transfer data, {Count(test)} test rows; "
                + $"data/letter_unlabeled.csv (every remaining Letter row): {Count(unlabeledRest)} more rows used without labels. "
                + $"Teacher: LightGBM up to {(s.Quick ? 200 : 1000)} trees × 64 leaves, learning rate 0.03, early-stopped after 100 rounds without gain: {teacherTrees} trees, {teacherSeconds:F1} s. "
                + $"Students: LightGBM {studentTrees} trees × 16 leaves, single-threaded, each with the learning rate and minimum leaf size of the grid "
                + $"{string.Join(" ", grid.Select(h => $"({h.Item1}, {h.Item2})"))} that gave the best validation AUC: "
                + $"on the labels alone {H(chosen[0])}; distilled on the train rows' soft targets (weight column) {H(chosen[1])}; "
                + $"with MUNGE ({factor} synthetic rows per row) {H(chosen[2])}; on the train rows plus the first unlabeled rows (DistillationOptions.UnlabeledData) {H(chosen[3])}; plus all unlabeled rows {H(chosen[4])}; on the teacher's hard labels of those rows {H(chosen[5])}; "
                + $"and a LightGBM regression student of the same shape on the teacher's logit over the train and all unlabeled rows (BinaryTargets.LogitRegression) {H(chosen[6])}; "
                + $"students with their own featurization, Letter's 16 features and their 120 pairwise differences (examples/Benchmarks/Distillation/PairwiseDifferences.cs), on the labels alone {H(chosen[7])} "
                + $"and distilled on the train and all unlabeled rows with Alpha chosen from {{{string.Join(", ", Alphas(s))}}} on the validation rows too (0: the train rows keep their true labels, "
                + $"the unlabeled rows learn the teacher's soft targets; 1: soft targets on every row): {H(chosen[8])}, Alpha {oblique.Alpha}. "
                + $"Distillation seconds per grid point: {string.Join(" / ", seconds.Select(x => x.ToString("F1")))}.",
            Variants = new[] { "teacher", "labels only" }.Concat(variantNames).ToArray(),
        };
        result.Add("trees", "count", false, "F0", new double?[] { teacherTrees, Tabular.TreeCount(labelsOnly.Model) }.Concat(distilled.Select(_ => (double?)studentTrees))
            .Append(studentTrees).Append(studentTrees).ToArray());
        result.Add("AUC (test)", "AUC", true, "F4", figures.Select(f => (double?)f.Auc).ToArray());
        result.Add("agreement with teacher (test)", "fraction", true, "F4",
            new double?[] { 1.0, BinaryDistillScenario.Agreement(ml, teacher, labelsOnly.Model, test) }.Concat(distilled.Select(d => d.Report.Stages[1].EvaluationAgreement))
                .Append(BinaryDistillScenario.Agreement(ml, teacher, obliqueLabelsOnly.Model, test)).Append(oblique.Model.Report.Stages[1].EvaluationAgreement).ToArray());
        result.Add("saved zip", "bytes", false, "F0", figures.Select(f => (double?)f.ZipBytes).ToArray());
        result.Add("batch Transform", "rows/s", true, "F0", figures.Select(f => (double?)f.BatchRowsPerSecond).ToArray());
        result.Add("PredictionEngine", "rows/s", true, "F0", figures.Select(f => (double?)f.EngineRowsPerSecond).ToArray());
        foreach (var d in distilled) d.Dispose();
        oblique.Model.Dispose();
        return result;
    }

    /// <summary>
    /// The scenario's rows for one split seed. Labelled: data/letter.csv, 80/20 (Caruana's 4,000 train + 1,000
    /// validation; the validation part early-stops the teacher and picks the students' settings). data/letter_extra.csv:
    /// other Letter rows, half as unlabeled transfer data (labels dropped), half as the test set; data/letter_unlabeled.csv:
    /// every remaining Letter row, more unlabeled transfer data (labels dropped).
    /// </summary>
    internal static (IDataView Train, IDataView Valid, IDataView Test, IDataView UnlabeledHalf, IDataView UnlabeledRest) Split(MLContext ml, int seed)
    {
        var split = ml.Data.TrainTestSplit(ml.Data.Cache(LoadP2(ml, "letter.csv")), 0.2, seed: seed);
        var extra = ml.Data.TrainTestSplit(ml.Data.Cache(LoadP2(ml, "letter_extra.csv")), 0.5, seed: seed);
        return (ml.Data.Cache(split.TrainSet), ml.Data.Cache(split.TestSet), ml.Data.Cache(extra.TestSet),
            WithoutLabel(ml, extra.TrainSet), WithoutLabel(ml, LoadP2(ml, "letter_unlabeled.csv")));
    }

    internal static long Count(IDataView d) => d.GetColumn<float[]>("Features").LongCount();

    /// <summary>The student grid: learning rate × minimum leaf size (one point when quick).</summary>
    internal static (double Rate, int MinLeaf)[] Grid(Settings s)
        => s.Quick ? new[] { (0.5, 10) } : (from rate in new[] { 0.3, 0.5, 0.8 } from min in new[] { 3, 10, 20, 40 } select (rate, min)).ToArray();

    /// <summary>Fits every grid point and keeps the model with the best validation AUC (the others are disposed).</summary>
    internal static (T Model, (double Rate, int MinLeaf) H) Pick<T>(MLContext ml, IDataView valid, (double Rate, int MinLeaf)[] grid, Func<(double, int), T> fit) where T : ITransformer
    {
        var fitted = grid.Select(h => (Model: fit(h), H: h)).ToList();
        var best = fitted.MaxBy(m => ml.BinaryClassification.Evaluate(m.Model.Transform(valid)).AreaUnderRocCurve);
        foreach (var m in fitted) if (!ReferenceEquals(m.Model, best.Model)) (m.Model as IDisposable)?.Dispose();
        return best;
    }

    /// <summary>
    /// <see cref="Pick"/> over <c>Alpha</c> too: the best grid point for each value of <paramref name="alphas"/>, then the
    /// one of those with the best validation AUC (the others are disposed).
    /// </summary>
    internal static (CompressedModel Model, (double Rate, int MinLeaf) H, double Alpha) PickWithAlpha(MLContext ml, IDataView valid, (double Rate, int MinLeaf)[] grid,
        double[] alphas, Func<(double, int), double, CompressedModel> fit)
    {
        var best = alphas.Select(a =>
        {
            var p = Pick(ml, valid, grid, h => fit(h, a));
            return (p.Model, p.H, Alpha: a, Auc: ml.BinaryClassification.Evaluate(p.Model.Transform(valid)).AreaUnderRocCurve);
        }).ToList();
        var winner = best.MaxBy(b => b.Auc);
        foreach (var b in best) if (!ReferenceEquals(b.Model, winner.Model)) b.Model.Dispose();
        return (winner.Model, winner.H, winner.Alpha);
    }

    /// <summary>The values of <c>Alpha</c> the oblique student chooses from on the validation rows: soft targets on every row, or true labels on the labelled rows.</summary>
    internal static double[] Alphas(Settings s) => s.Quick ? new[] { 0.0 } : new[] { 0.0, 1.0 };

    private static string H((double Rate, int MinLeaf) h) => $"(rate {h.Rate}, min leaf {h.MinLeaf})";

    /// <summary>Letter rows with the LETTER.p2 label: true for A–M (the MapValue is saved with any model that needs it).</summary>
    internal static IDataView LoadP2(MLContext ml, string file)
    {
        var raw = ml.Data.LoadFromTextFile(Settings.DataPath(file), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' },
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 16) },
        });
        var p2 = Enumerable.Range('A', 26).ToDictionary(c => ((char)c).ToString(), c => c <= 'M');
        return ml.Transforms.Conversion.MapValue("Label", p2, "Label").Fit(raw).Transform(raw);
    }

    private static IDataView WithoutLabel(MLContext ml, IDataView data) => ml.Data.Cache(ml.Transforms.DropColumns("Label").Fit(data).Transform(data));

    /// <summary>Unlabeled rows of several files as one data view (DistillationOptions.UnlabeledData takes one).</summary>
    internal static IDataView Concat(MLContext ml, params IDataView[] unlabeled)
    {
        var features = unlabeled.SelectMany(u => u.GetColumn<float[]>("Features")).Select(f => new UnlabeledRow { Features = f }).ToList();
        var schema = SchemaDefinition.Create(typeof(UnlabeledRow));
        schema["Features"].ColumnType = unlabeled[0].Schema["Features"].Type;
        return ml.Data.Cache(ml.Data.LoadFromEnumerable(features, schema));
    }

    public sealed class UnlabeledRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }
}
