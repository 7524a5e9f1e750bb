using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// DistillationOptions.Selection.ChooseOnValidation: the label-only student and the distilled candidates compared on validation
/// rows, the best returned; and what the distill row says of the student's size against the teacher's.
/// </summary>
[TestClass]
public sealed class DistillationSelectionTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.SpamBool(_ml));
    }

    private static IEstimator<ITransformer> Student(int trees = 10) => _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: trees, exampleWeightColumnName: "Weight");

    private static double Auc(ITransformer model, IDataView data) => _ml.BinaryClassification.Evaluate(model.Transform(data)).AreaUnderRocCurve;

    private sealed class BoolLabel { public bool Label { get; set; } }

    [TestMethod]
    [TestCategory("Slow")] // 9–18 s on the shared 2-core machine: 5 and 2 × 4 student fits
    public void ATeacherTrainedOnFlippedLabelsYieldsTheLabelOnlyStudent()
    {
        var flipped = _ml.Transforms.Conversion.MapValue("Label", new Dictionary<bool, bool> { [true] = false, [false] = true }, "Label").Fit(_train).Transform(_train);
        var badTeacher = _ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 50).Fit(flipped);
        using var chosen = _ml.Compression().Distill(badTeacher, Student(), new DistillationOptions { Selection = { ChooseOnValidation = true } }).Fit(_train);
        var row = chosen.Report.Stages[1];
        var s = row.Selection!;
        Console.WriteLine(chosen.Report);
        Assert.AreEqual(3, s.Candidates.Count); // labels only, alpha 1, alpha 0.5
        Assert.IsTrue(s.Candidates[0].LabelOnly);
        CollectionAssert.AreEqual(new double?[] { null, 1.0, 0.5 }, s.Candidates.Select(c => c.Alpha).ToArray());
        Assert.AreEqual(0, s.ChosenIndex);
        Assert.IsTrue(s.NothingToDistil);
        Assert.IsTrue(s.TeacherValidationMetric < 0.5, $"teacher {s.TeacherValidationMetric}");
        Assert.IsTrue(s.Candidates[1].ValidationMetric < 0.5, $"alpha 1 {s.Candidates[1].ValidationMetric}");
        Assert.IsTrue(s.Candidates[0].ValidationMetric > 0.9, $"labels only {s.Candidates[0].ValidationMetric}");
        Assert.IsTrue(s.Refitted && s.HeldOut);
        // The label-only student, refitted on all the rows, is both the result and the baseline.
        Assert.AreEqual(row.BaselineMetric!.Value, row.Metric!.Value, 1e-12);
        Assert.IsTrue(Auc(chosen, _test) > 0.9);
        var json = CompressionReport.FromJson(chosen.Report.ToJson()).Stages[1].Selection!;
        Assert.AreEqual(0, json.ChosenIndex);
        Assert.AreEqual(s.Candidates[1].ValidationMetric, json.Candidates[1].ValidationMetric);
    }

    [TestMethod]
    [TestCategory("Slow")] // 9–18 s on the shared 2-core machine: 5 and 2 × 4 student fits
    public void TheCandidateBestOnTheValidationDataIsReturnedAsItWasTrainedWhenItBeatsTheMargin()
    {
        var teacher = _ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 100).Fit(_train);
        foreach (var (margin, noise) in new[] { (0.0, 0.0), (0.05, 1.0) })
        {
            var options = new DistillationOptions { Selection = { ChooseOnValidation = true, ValidationData = _test, CandidateAlphas = new[] { 1.0, 0.7, 0.3 }, MinimumErrorReduction = margin, MinimumStandardErrors = noise } };
            using var chosen = _ml.Compression().Distill(teacher, Student(5), options).Fit(_train);
            var s = chosen.Report.Stages[1].Selection!;
            var metrics = s.Candidates.Select(c => c.ValidationMetric!.Value).ToArray();
            Console.WriteLine(chosen.Report);
            Assert.AreEqual(4, metrics.Length);
            Assert.AreEqual(margin, s.MinimumErrorReduction);
            // The best distilled candidate (the first of equals), if it cuts the label-only error (1 - AUC) by the margin.
            int best = 1 + Array.IndexOf(metrics[1..], metrics[1..].Max());
            // ... and by more than `noise` standard errors of the paired comparison, which the report shows.
            Assert.AreEqual(metrics[best] - metrics[0], s.BestGain!.Value, 1e-12);
            double se = s.BestGainStandardError!.Value;
            Assert.IsTrue(se > 0 && se < 0.05, $"standard error {se}");
            int expected = 1 - metrics[best] < (1 - metrics[0]) * (1 - margin) && metrics[best] - metrics[0] > noise * se ? best : 0;
            Assert.AreEqual(expected, s.ChosenIndex, string.Join(", ", metrics));
            Assert.IsFalse(s.HeldOut || s.Refitted);
            Assert.AreEqual(_test.GetColumn<bool>("Label").Count(), s.ValidationRows);
            // Nothing was held out, so the returned student is the candidate that was measured.
            Assert.AreEqual(metrics[s.ChosenIndex], Auc(chosen, _test), 1e-9);
            Assert.IsFalse(chosen.Report.Stages[1].Description.Contains(TeacherSawTheRows), "rows the user gave: no warning");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void TheHeldOutSplitIsSeeded()
    {
        var teacher = _ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 50).Fit(_train);
        var options = new DistillationOptions { Selection = { ChooseOnValidation = true, CandidateAlphas = new[] { 1.0 }, TrainLabelOnlyBaseline = false } };
        using var a = _ml.Compression().Distill(teacher, Student(5), options).Fit(_train);
        using var b = _ml.Compression().Distill(teacher, Student(5), options).Fit(_train);
        options.Selection.ValidationSeed = 2;
        using var c = _ml.Compression().Distill(teacher, Student(5), options).Fit(_train);
        long rows = _train.GetColumn<bool>("Label").Count();
        var (sa, sb, sc) = (a.Report.Stages[1].Selection!, b.Report.Stages[1].Selection!, c.Report.Stages[1].Selection!);
        Assert.IsTrue(sa.ValidationRows > 0.15 * rows && sa.ValidationRows < 0.25 * rows, $"{sa.ValidationRows} of {rows}");
        Assert.AreEqual(sa.ValidationRows, sb.ValidationRows);
        CollectionAssert.AreEqual(sa.Candidates.Select(k => k.ValidationMetric).ToArray(), sb.Candidates.Select(k => k.ValidationMetric).ToArray());
        Assert.IsFalse(sa.ValidationRows == sc.ValidationRows && sa.Candidates[0].ValidationMetric == sc.Candidates[0].ValidationMetric, "another seed holds out other rows");
        // A distilled candidate chosen on rows the teacher trained on comes with the advice to give rows it did not.
        foreach (var m in new[] { a, c })
            Assert.AreEqual(m.Report.Stages[1].Selection!.ChosenIndex > 0, m.Report.Stages[1].Description.Contains(TeacherSawTheRows), m.Report.Stages[1].Description);
    }

    private const string TeacherSawTheRows = "give Selection.ValidationData rows the teacher did not train on";

    [TestCategory("Slow")]
    [TestMethod]
    public void ValidationRowsTooFewOrOfOneClassAreRefused()
    {
        var teacher = _ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 20).Fit(_train);
        var few = new DistillationOptions { Selection = { ChooseOnValidation = true, ValidationData = TestData.Head(_ml, _test, 30) } };
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Distill(teacher, Student(5), few).Fit(_train));
        Assert.IsNull(e.ColumnName);
        var spamOnly = _ml.Data.FilterByCustomPredicate<BoolLabel>(_test, r => !r.Label); // the predicate says which rows to drop
        var oneClass = new DistillationOptions { Selection = { ChooseOnValidation = true, ValidationData = spamOnly } };
        e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Distill(teacher, Student(5), oneClass).Fit(_train));
        Assert.AreEqual("Label", e.ColumnName);
        // Held-out rows that cannot be had (no label column, too few rows): distilled as without the choice, and said so.
        using (var unlabeled = _ml.Compression().Distill(teacher, Student(5)).Fit(TestData.DropLabel(_ml, _train)))
        {
            Assert.IsNull(unlabeled.Report.Stages[1].Selection);
            StringAssert.Contains(unlabeled.Report.Stages[1].Description, "Not chosen on validation rows");
        }
        // 200 rows hold out 40, fewer than 50: chosen in 5 folds instead, every row held out once (shuffled: spam.csv lists the spam first).
        using (var small = _ml.Compression().Distill(teacher, Student(5)).Fit(TestData.Head(_ml, _ml.Data.ShuffleRows(_train, seed: 1), 200)))
        {
            Console.WriteLine(small.Report.Stages[1].Description);
            var s = small.Report.Stages[1].Selection!;
            Assert.AreEqual(5, s.Folds);
            Assert.AreEqual(200, s.ValidationRows);
            Assert.IsTrue(s.Refitted);
            Assert.IsTrue(s.Candidates.All(c => c.ValidationMetric is > 0.5 and <= 1), string.Join(", ", s.Candidates.Select(c => c.ValidationMetric)));
        }
        using (var tiny = _ml.Compression().Distill(teacher, Student(5)).Fit(TestData.Head(_ml, _train, 40)))
            Assert.IsNull(tiny.Report.Stages[1].Selection, "40 rows are fewer than 50 even in folds");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(teacher, Student(5), new DistillationOptions { Selection = { ChooseOnValidation = true, CandidateAlphas = new[] { 1.0, 0.8, 0.6, 0.4, 0.2 } } }));
        Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(teacher, Student(5), new DistillationOptions { Selection = { ChooseOnValidation = false, ValidationData = _test } }));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void ALogitRegressionStudentIsMeasuredOnTheValidationRowsLikeAnyOther()
    {
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 16, numberOfTrees: 50).Fit(_train);
        var options = new DistillationOptions
        {
            BinaryTargets = BinaryTargets.LogitRegression, RegressionStudent = _ml.Regression.Trainers.FastTree(numberOfLeaves: 8, numberOfTrees: 10),
            Selection = { ChooseOnValidation = true, ValidationData = _test, CandidateAlphas = new[] { 1.0 }, MinimumErrorReduction = 0, MinimumStandardErrors = 0 },
        };
        using var chosen = _ml.Compression().Distill(teacher, _ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 8, numberOfTrees: 10), options).Fit(_train);
        var s = chosen.Report.Stages[1].Selection!;
        Console.WriteLine(chosen.Report);
        Assert.AreEqual(2, s.Candidates.Count);
        var metrics = s.Candidates.Select(c => c.ValidationMetric!.Value).ToArray(); // the ONNX logit student is scored too
        Assert.AreEqual(metrics[1] > metrics[0] ? 1 : 0, s.ChosenIndex);
        Assert.AreEqual(metrics[s.ChosenIndex], Auc(chosen, _test), 1e-6); // the ONNX graph scores in float: not bit for bit
        var row = chosen.Report.Stages[1]; // the label-only candidate, not refitted, is also the baseline
        Assert.AreEqual(s.ChosenIndex == 0, row.Metric == row.BaselineMetric);
    }

    [TestMethod]
    public void ARegressionStudentRefusesATemperature()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Distill(_ml.Regression.Trainers.FastTree(), new DistillationOptions { Temperature = 2 }));
        Assert.AreEqual(nameof(DistillationOptions.Temperature), e.ParamName);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void TheDistillRowComparesTheStudentsSizeWithTheTeachers()
    {
        var options = new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } };
        var big = _ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 200).Fit(_train);
        using var smaller = _ml.Compression().Distill(big, Student(5), options).Fit(_train);
        var row = smaller.Report.Stages[1];
        Assert.AreEqual(smaller.Report.Stages[0].ZipBytes, row.TeacherZipBytes);
        Assert.IsTrue(row.SmallerThanTeacher == true && row.ZipBytes < row.TeacherZipBytes, $"{row.ZipBytes} vs {row.TeacherZipBytes}");

        var tiny = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 3).Fit(_train);
        options.StudentLeafFraction = null; // the student's own size: the default would cut it below the teacher's
        using var larger = _ml.Compression().Distill(tiny, Student(100), options).Fit(_train);
        row = larger.Report.Stages[1];
        Console.WriteLine(larger.Report);
        Assert.IsTrue(row.SmallerThanTeacher == false && row.ZipBytes > row.TeacherZipBytes, $"{row.ZipBytes} vs {row.TeacherZipBytes}");
    }

    [TestMethod]
    public void ATeacherFarBetterThanTheLabelOnlyStudentOnTheValidationRowsIsFlaggedAsHavingTrainedOnThem()
    {
        // The quick start's numbers: a 500-tree teacher on 1,135 held-out rows of its own training data.
        DistillationSelection Selection(double teacher, double labelsOnly, bool higherIsBetter = true, bool heldOut = true) => new()
        {
            MetricName = higherIsBetter ? "AUC" : "RMSE", HigherIsBetter = higherIsBetter, HeldOut = heldOut, ValidationRows = 1135,
            Candidates = new[] { new DistillationCandidate { Name = "labels only", LabelOnly = true, ValidationMetric = labelsOnly }, new DistillationCandidate { Name = "distilled, alpha 1", Alpha = 1, ValidationMetric = labelsOnly + 0.006 } },
            ChosenIndex = 1, TeacherValidationMetric = teacher,
        };
        Assert.IsTrue(Selection(0.9999, 0.8407).TeacherLikelyTrainedOnValidationRows);
        Assert.IsFalse(Selection(0.8470, 0.8407).TeacherLikelyTrainedOnValidationRows, "a teacher merely better");
        Assert.IsFalse(Selection(0.9, 0.8).TeacherLikelyTrainedOnValidationRows, "error 0.1 against 0.2: not under half");
        Assert.IsTrue(Selection(0.91, 0.8, heldOut: false).TeacherLikelyTrainedOnValidationRows, "the user's rows can have been the teacher's too");
        Assert.IsTrue(Selection(165, 690, higherIsBetter: false).TeacherLikelyTrainedOnValidationRows, "RMSE: the error itself");
        Assert.IsFalse(Selection(300, 383, higherIsBetter: false).TeacherLikelyTrainedOnValidationRows);
        Assert.IsFalse(Selection(1, 1).TeacherLikelyTrainedOnValidationRows, "both perfect: nothing to tell");

        CompressionReport Report(DistillationSelection selection) => new()
        {
            Task = ModelTask.BinaryClassification, MetricName = "AUC",
            Stages = new[] { new StageReport { Stage = "Teacher" }, new StageReport { Stage = "Distill", Description = "distilled", Selection = selection } },
        };
        var text = Report(Selection(0.9999, 0.8407)).ToString();
        var line = text.Split('\n').Single(l => l.Contains("most likely trained on these rows"));
        StringAssert.Contains(line, "AUC on the held-out rows, 0.9999 against the label-only student's 0.8407, leaves it under half that student's error");
        StringAssert.Contains(line, "DistillationOptions.Selection.ValidationData");
        text = Report(Selection(0.91, 0.8, heldOut: false)).ToString();
        StringAssert.Contains(text, "if it was trained or early-stopped on these rows, distilled students look better");
        text = Report(Selection(0.8470, 0.8407)).ToString();
        Assert.IsFalse(text.Contains("most likely trained"), text);
        StringAssert.Contains(text, "teacher 0.8470 (it may have trained on these rows)");
    }
}
