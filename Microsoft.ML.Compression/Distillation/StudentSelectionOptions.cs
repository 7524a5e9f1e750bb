namespace Microsoft.ML.Compression;

/// <summary>
/// How Distill chooses the student it returns (<see cref="DistillationOptions.Selection"/>): distilled candidates
/// against the student trained on the labels alone, on validation rows. Measured effects are in the repository's
/// docs/stages.md (Distill: never worse than the labels alone).
/// </summary>
/// <example><code>var options = new DistillationOptions { Selection = { ChooseOnValidation = true, CandidateAlphas = new[] { 1.0, 0.7, 0.3 } } };</code></example>
public sealed class StudentSelectionOptions
{
    /// <summary>
    /// Never worse than the labels alone (default true): Distill keeps a validation split, trains on the rest the
    /// student on the labels alone and one distilled student per value of <see cref="CandidateAlphas"/>, scores them
    /// on the split with ML.NET's evaluator of the task (AUC for binary, micro-accuracy for multiclass, RMSE for
    /// regression) and returns the best distilled candidate when it cuts the label-only student's validation error by
    /// <see cref="MinimumErrorReduction"/> and by more than <see cref="MinimumStandardErrors"/> standard errors of the
    /// comparison, else the label-only student. With
    /// <see cref="RefitChosenOnAllData"/> (default) the chosen candidate is then trained again on all the data.
    /// Fits: 1 + the number of alphas on the split's training part, then 1 refit and, when a distilled candidate
    /// wins and <see cref="TrainLabelOnlyBaseline"/> is on, the labels-only baseline on all the data (default 5 fits
    /// in all). The report's distill row lists every candidate's validation metric, the teacher's, and which one was
    /// returned (<see cref="StageReport.Selection"/>). Data without a label column, or too few rows to hold out
    /// 50 of them, is distilled as with false, and the stage's description says why; set false
    /// to skip the extra fits (e.g. to study the distilled student itself).
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions { Selection = { ChooseOnValidation = true } }; // the label-only student when the teacher has nothing to teach
    /// var distilled = ml.Compression().Distill(teacher, student, options).Fit(train);
    /// Console.WriteLine(distilled.Report.Stages[1].Selection!.Chosen.Name);
    /// </code>
    /// </example>
    public bool ChooseOnValidation { get; set; } = true;

    /// <summary>
    /// The Alpha values tried with <see cref="ChooseOnValidation"/> (1 to 4 values in [0, 1]); null (default) tries
    /// <see cref="DistillationOptions.Alpha"/> and 0.5. Each value is one more student fit.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Selection = { ChooseOnValidation = true, CandidateAlphas = new[] { 1.0, 0.7, 0.3 } } };</code></example>
    public IReadOnlyList<double>? CandidateAlphas { get; set; }

    /// <summary>
    /// A bounded grid over the student's size with <see cref="ChooseOnValidation"/> (null, the default: its own size
    /// only): 1 to 4 tree counts (over all the student's ensembles), each tried for every distilled candidate by
    /// cutting its trees to that count with the Prune stage's tree selection (lasso re-weighting to the candidate's own
    /// score). A cut costs no student fit, so the fits stay those of <see cref="ChooseOnValidation"/>; counts at or
    /// above the student's trees are skipped. Each cut is one more candidate in the report
    /// (<see cref="DistillationCandidate.Trees"/>); when one is chosen, the chosen Alpha is trained again on all the
    /// data (with <see cref="RefitChosenOnAllData"/>) and cut to the chosen count. Native tree students only.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Selection = { CandidateTreeCounts = new[] { 25, 50 } } }; // also try the student at 25 and 50 trees</code></example>
    public IReadOnlyList<int>? CandidateTreeCounts { get; set; }

    /// <summary>
    /// Rows to choose on with <see cref="ChooseOnValidation"/>, with the training data's columns and labels (at least
    /// 50 rows, and both classes for a binary task). Null (default) holds out <see cref="ValidationFraction"/> of the
    /// training data, drawn with <see cref="ValidationSeed"/>. Given here, the training data is not split and the
    /// candidates are trained on all of it (so <see cref="RefitChosenOnAllData"/> has nothing to do).
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Selection = { ChooseOnValidation = true, ValidationData = validation } };</code></example>
    public IDataView? ValidationData { get; set; }

    /// <summary>The fraction of the training data held out to choose on when <see cref="ValidationData"/> is null (0.05–0.5, default 0.2).</summary>
    /// <example><code>var options = new DistillationOptions { Selection = { ChooseOnValidation = true, ValidationFraction = 0.3 } };</code></example>
    public double ValidationFraction { get; set; } = 0.2;

    /// <summary>Seed of the held-out split (default 1): the same seed holds out the same rows.</summary>
    /// <example><code>var options = new DistillationOptions { Selection = { ChooseOnValidation = true, ValidationSeed = 7 } };</code></example>
    public int ValidationSeed { get; set; } = 1;

    /// <summary>
    /// With <see cref="ChooseOnValidation"/> and a held-out split: train the chosen candidate again on all the
    /// training data, validation rows included (default true; one more fit). False returns the candidate as it was
    /// trained on the split's training part.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Selection = { ChooseOnValidation = true, RefitChosenOnAllData = false } }; // one fit less</code></example>
    public bool RefitChosenOnAllData { get; set; } = true;

    /// <summary>
    /// With <see cref="ChooseOnValidation"/>: the fraction (0–0.5, default 0.05) by which the best distilled candidate
    /// must cut the label-only student's validation error (1 − AUC, 1 − micro-accuracy, or RMSE) to be returned
    /// instead of it. A few hundred validation rows cannot rank students whose errors are closer than that
    /// (distilled students a few percent ahead on validation rows lost on the test rows: docs/stages.md). 0 returns any candidate strictly better on validation.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Selection = { ChooseOnValidation = true, MinimumErrorReduction = 0.1 } }; // distil only for a clear gain</code></example>
    public double MinimumErrorReduction { get; set; } = 0.05;

    /// <summary>
    /// With <see cref="ChooseOnValidation"/>: how many standard errors (0–4, default 1) the best distilled candidate's
    /// validation gain over the label-only student must exceed to be returned instead of it, besides
    /// <see cref="MinimumErrorReduction"/>. The standard error is that of the difference of the two students' metric on
    /// the same validation rows, from a paired bootstrap (200 resamples of the rows, seeded by
    /// <see cref="ValidationSeed"/>); the one-standard-error rule returns the simpler choice unless the other is ahead
    /// by more than the noise. Few validation rows, or two students that disagree on many of them, widen the noise;
    /// the report shows the gain and its standard error (<see cref="DistillationSelection.BestGainStandardError"/>).
    /// 0 leaves the choice to the margin alone.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Selection = { MinimumStandardErrors = 2 } }; // distil only for a gain twice the noise</code></example>
    public double MinimumStandardErrors { get; set; } = 1;

    /// <summary>
    /// Also trains the same student estimator on the true labels alone (default true, and only when the data has a
    /// label column), and shows its metric in the report's distill row (<see cref="StageReport.BaselineMetric"/>,
    /// <see cref="StageReport.BaselineEvaluationMetric"/>), so you can see whether distillation beat simply
    /// training the small model. The baseline model is discarded; only the distilled student is kept.
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }; // skip the baseline: one training less
    /// // with it (default): compressed.Report.Stages[1].BaselineMetric
    /// </code>
    /// </example>
    public bool TrainLabelOnlyBaseline { get; set; } = true;

    internal StudentSelectionOptions Copy()
    {
        var copy = (StudentSelectionOptions)MemberwiseClone();
        copy.CandidateAlphas = CandidateAlphas?.ToArray();
        copy.CandidateTreeCounts = CandidateTreeCounts?.ToArray();
        return copy;
    }

    internal void Validate()
    {
        if (CandidateAlphas != null && (CandidateAlphas.Count == 0 || CandidateAlphas.Count > DistillationOptions.MaxCandidateAlphas || CandidateAlphas.Any(a => double.IsNaN(a) || a < 0 || a > 1)))
            throw new ArgumentOutOfRangeException(nameof(CandidateAlphas), $"Selection.CandidateAlphas must hold 1 to {DistillationOptions.MaxCandidateAlphas} values in [0, 1] (each is one more student fit), or be null for Alpha and 0.5.");
        if (double.IsNaN(MinimumErrorReduction) || MinimumErrorReduction < 0 || MinimumErrorReduction > 0.5)
            throw new ArgumentOutOfRangeException(nameof(MinimumErrorReduction), MinimumErrorReduction, "Selection.MinimumErrorReduction must be between 0 and 0.5 (a fraction of the label-only student's validation error).");
        if (double.IsNaN(MinimumStandardErrors) || MinimumStandardErrors < 0 || MinimumStandardErrors > 4)
            throw new ArgumentOutOfRangeException(nameof(MinimumStandardErrors), MinimumStandardErrors, "Selection.MinimumStandardErrors must be between 0 and 4 (standard errors of the gain on the validation rows).");
        if (double.IsNaN(ValidationFraction) || ValidationFraction < 0.05 || ValidationFraction > 0.5)
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "Selection.ValidationFraction must be between 0.05 and 0.5.");
        if (!ChooseOnValidation && (ValidationData != null || CandidateAlphas != null || CandidateTreeCounts != null))
            throw new ArgumentException("Selection.ValidationData, CandidateAlphas and CandidateTreeCounts are used only with Selection.ChooseOnValidation = true: set it too, or leave them null.",
                ValidationData != null ? nameof(ValidationData) : CandidateAlphas != null ? nameof(CandidateAlphas) : nameof(CandidateTreeCounts));
        if (CandidateTreeCounts != null && (CandidateTreeCounts.Count == 0 || CandidateTreeCounts.Count > DistillationOptions.MaxCandidateTreeCounts || CandidateTreeCounts.Any(n => n < 1)))
            throw new ArgumentOutOfRangeException(nameof(CandidateTreeCounts), $"Selection.CandidateTreeCounts must hold 1 to {DistillationOptions.MaxCandidateTreeCounts} tree counts of at least 1, or be null for the student's own size.");
    }
}
