namespace Microsoft.ML.Compression;

/// <summary>
/// One student Distill trained to choose from (<see cref="StudentSelectionOptions.ChooseOnValidation"/>): the student on
/// the labels alone, or a distilled student with one Alpha.
/// </summary>
/// <example><code>foreach (var c in row.Selection!.Candidates) Console.WriteLine($"{c.Name}: {c.ValidationMetric:F4}");</code></example>
public sealed class DistillationCandidate
{
    /// <summary>"labels only", or "distilled, alpha 0.5" and the like.</summary>
    public string Name { get; init; } = "";

    /// <summary>Whether this is the student trained on the true labels alone.</summary>
    public bool LabelOnly { get; init; }

    /// <summary>The Alpha of a distilled candidate; null for the label-only student.</summary>
    public double? Alpha { get; init; }

    /// <summary>
    /// The trees a candidate was cut to (<see cref="StudentSelectionOptions.CandidateTreeCounts"/>, or the default size of
    /// <see cref="DistillationOptions.StudentLeafFraction"/>, which cuts the label-only candidate too; counted over all
    /// its ensembles); null for a candidate of the student's own size.
    /// </summary>
    public int? Trees { get; init; }

    /// <summary>The task metric (<see cref="DistillationSelection.MetricName"/>) on the validation rows; null when it could not be measured there (never chosen then).</summary>
    public double? ValidationMetric { get; init; }
}

/// <summary>How Distill chose its student on validation rows (<see cref="StudentSelectionOptions.ChooseOnValidation"/>).</summary>
/// <example>
/// <code>
/// var s = distilled.Report.Stages[1].Selection!;
/// if (s.NothingToDistil) Console.WriteLine("the teacher taught nothing the labels did not: the label-only student was returned");
/// </code>
/// </example>
public sealed class DistillationSelection
{
    /// <summary>The metric the candidates were compared on (AUC, MicroAccuracy or RMSE), with ML.NET's evaluator.</summary>
    public string MetricName { get; init; } = "";

    /// <summary>Whether a higher <see cref="MetricName"/> is better (false for RMSE).</summary>
    public bool HigherIsBetter { get; init; } = true;

    /// <summary>Rows the candidates were compared on.</summary>
    public long ValidationRows { get; init; }

    /// <summary>True when the rows were held out of the training data (<see cref="StudentSelectionOptions.ValidationFraction"/>); false when they were <see cref="StudentSelectionOptions.ValidationData"/>.</summary>
    public bool HeldOut { get; init; }

    /// <summary>
    /// 1 for one validation split; more when the training data was too small to hold out enough rows once, so each
    /// row was held out in one of this many folds and every candidate's metric is the average over the folds.
    /// </summary>
    public int Folds { get; init; } = 1;

    /// <summary>Every candidate, label-only first, in the order they were trained.</summary>
    public IReadOnlyList<DistillationCandidate> Candidates { get; init; } = Array.Empty<DistillationCandidate>();

    /// <summary>Index in <see cref="Candidates"/> of the student returned.</summary>
    public int ChosenIndex { get; init; }

    /// <summary>The candidate returned.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public DistillationCandidate Chosen => Candidates[ChosenIndex];

    /// <summary>
    /// The teacher's metric on the validation rows. With held-out rows the teacher was usually trained on them, so
    /// this number flatters it; it is a bound, not a fair comparison.
    /// </summary>
    public double? TeacherValidationMetric { get; init; }

    /// <summary>Whether the returned student was trained again on all the training data after it was chosen.</summary>
    public bool Refitted { get; init; }

    /// <summary>The <see cref="StudentSelectionOptions.MinimumErrorReduction"/> the best distilled candidate had to beat the label-only student by.</summary>
    public double MinimumErrorReduction { get; init; }

    /// <summary>The <see cref="StudentSelectionOptions.MinimumStandardErrors"/> the best distilled candidate's gain had to exceed.</summary>
    public double MinimumStandardErrors { get; init; }

    /// <summary>
    /// The best distilled candidate's validation gain over the label-only student, in the metric's units and positive
    /// when it is better (AUC or accuracy up, RMSE down); null when there was no distilled candidate.
    /// </summary>
    public double? BestGain { get; init; }

    /// <summary>
    /// The standard error of <see cref="BestGain"/>: the noise of the comparison on these rows, from a paired bootstrap
    /// (both students on the same resampled rows); null when it could not be measured (then the margin alone decided).
    /// </summary>
    public double? BestGainStandardError { get; init; }

    /// <summary>Whether the best distilled candidate was ahead, but by no more than the noise (<see cref="MinimumStandardErrors"/> standard errors).</summary>
    [System.Text.Json.Serialization.JsonIgnore] public bool WithinNoise => BestGain is double g && g > 0 && BestGainStandardError is double se && g <= MinimumStandardErrors * se;

    /// <summary>True when no distilled candidate beat the label-only student on the validation rows by <see cref="MinimumErrorReduction"/> and beyond the noise: the teacher had nothing to teach this student, and the label-only student was returned.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public bool NothingToDistil => Candidates.Count > 0 && Chosen.LabelOnly;

    /// <summary>
    /// Whether the teacher's error on the validation rows is under half the label-only student's (error: 1 − AUC,
    /// 1 − accuracy, or RMSE). A teacher that good on rows a student of the same data fits far worse has usually been
    /// trained on them: then the distilled students learned those rows' labels through it, and look better on them
    /// than they will be on new rows (measured: distilled students ahead by 2.5 standard errors on such rows lost on
    /// the test rows). Distill's own held-out rows of the matrix set it on 33 of 42 sets and seeds; the teachers'
    /// early-stopping rows on 2 of 36 (wine, which falls back to held-out folds, aside): docs/stages.md. Give Distill
    /// rows the teacher never saw as <see cref="StudentSelectionOptions.ValidationData"/>.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool TeacherLikelyTrainedOnValidationRows =>
        TeacherValidationMetric is double t && Candidates.Count > 0 && Candidates[0].ValidationMetric is double l
        && Error(l) > 0 && Error(t) < TeacherErrorFraction * Error(l);

    /// <summary>The share of the label-only student's validation error under which the teacher's suggests it was trained on the rows.</summary>
    internal const double TeacherErrorFraction = 0.5;

    // RMSE is an error already; AUC and accuracy are at most 1.
    private double Error(double metric) => HigherIsBetter ? 1 - metric : metric;

    /// <summary>Whether <paramref name="a"/> is strictly better than <paramref name="b"/> by this metric.</summary>
    internal bool Better(double a, double b) => HigherIsBetter ? a > b : a < b;

    /// <summary>Whether some distilled candidate was better than the label-only student on validation (by any amount).</summary>
    internal bool AnyDistilledBetter => Candidates.Skip(1).Any(c => c.ValidationMetric is double m && Candidates[0].ValidationMetric is double l && Better(m, l));
}
