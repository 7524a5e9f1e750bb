namespace Microsoft.ML.Compression;

/// <summary>Options of the distillation stage (<see cref="CompressionCatalog.Distill(ITransformer, IEstimator{ITransformer}, DistillationOptions)"/>).</summary>
/// <example>
/// <code>
/// var distill = ml.Compression().Distill(teacher, student, new DistillationOptions { Alpha = 0.8, Temperature = 2 });
/// </code>
/// </example>
public sealed class DistillationOptions
{
    /// <summary>
    /// Weight of the teacher's soft targets against the true labels, in [0, 1]: 1 (default) learns only the
    /// teacher, 0 only the labels. Values below 1 need a label column in the data.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Alpha = 0.7 }; // 70 % teacher soft targets, 30 % true labels</code></example>
    public double Alpha { get; set; } = 1.0;

    /// <summary>
    /// Softening temperature (&gt; 0) for classification: the teacher's logits are divided by it before the
    /// targets are formed. 1 (default) keeps the teacher's probabilities.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Temperature = 2 }; // softer targets: more of the teacher's uncertainty</code></example>
    public double Temperature { get; set; } = 1.0;

    /// <summary>
    /// Classification students whose trainer has no example-weight column learn soft targets through copies of
    /// each row with labels in proportion to the targets; this is the number of copies (1–64, default 4). Give the
    /// trainer an example-weight column (e.g. <c>exampleWeightColumnName: "Weight"</c>; for one-versus-all also
    /// <see cref="StudentWeightColumnName"/>) for exact soft targets with one row per class instead: the report's
    /// description says which the student got, and the line to add when it got copies.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { SoftTargetResolution = 16 }; // 16 labelled copies per row for a trainer without weights</code></example>
    public int SoftTargetResolution { get; set; } = 4;

    /// <summary>
    /// The example-weight column of a one-versus-all or pairwise-coupling student (null by default). Those trainers
    /// do not say which weight column their binary trainer reads, so Distill would teach them through
    /// <see cref="SoftTargetResolution"/> copies; create the binary trainer with an example-weight column and name it
    /// here, and each row becomes one row per likely class weighted by the teacher's probability: every binary
    /// learner of class k then learns the teacher's p_k (positives weighted p_k, negatives 1 − p_k in all). Refused
    /// for other trainers, whose weight column Distill reads itself.
    /// </summary>
    /// <example>
    /// <code>
    /// var student = ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: 10));
    /// var options = new DistillationOptions { StudentWeightColumnName = "Weight" }; // per-class soft targets through weights
    /// </code>
    /// </example>
    public string? StudentWeightColumnName { get; set; }

    /// <summary>
    /// Pure hard-label distillation (default false): a classification student learns the teacher's predicted label
    /// (binary: its <c>PredictedLabel</c>; multiclass: the class with the highest score), one row per row, instead of
    /// its soft targets; <see cref="Temperature"/> is then not used. <see cref="Alpha"/> still blends in the true labels.
    /// Only for classification students. It can pay off when the transfer set has many rows the teacher did not train
    /// on (unlabeled data), where the student then learns the teacher's decisions rather than its uncertainty: on letter
    /// (26 classes, 3,500 train + 5,000 unlabeled rows, 780-tree LightGBM student) 0.893 accuracy against 0.865 with
    /// soft targets; on the binary LETTER.p2 it was no better than soft targets.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { HardLabels = true }; // e.g. with unlabeled transfer data</code></example>
    public bool HardLabels { get; set; }

    /// <summary>
    /// How a multiclass student learns the teacher (default <see cref="Compression.MulticlassTargets.RowExpansion"/>: the
    /// student's multiclass trainer on weighted rows or proportional copies). <see cref="Compression.MulticlassTargets.PerClassRegression"/>
    /// trains <see cref="RegressionStudent"/> once per class on the teacher's per-class logits and merges the regressors
    /// into one ONNX multiclass model; the student given to <c>Distill</c> is then only the labels-only baseline.
    /// Measured on letter (26 classes, 780 trees each way): row expansion was more accurate, hence the default.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { MulticlassTargets = MulticlassTargets.PerClassRegression, RegressionStudent = ml.Regression.Trainers.LightGbm() };</code></example>
    public MulticlassTargets MulticlassTargets { get; set; } = MulticlassTargets.RowExpansion;

    /// <summary>
    /// The regression student of <see cref="Compression.MulticlassTargets.PerClassRegression"/> and of
    /// <see cref="Compression.BinaryTargets.LogitRegression"/> (required there, not allowed otherwise): a regression
    /// trainer, or an estimator chain with its own featurization ending in one, whose label column is
    /// <see cref="LabelColumnName"/>. Per class, the chain is fitted for the first class; its featurization is
    /// reused and only its trainer is fitted again for the other classes. Any regressor that
    /// <c>mlContext.Model.ConvertToOnnx</c> exports works (FastTree, LightGBM, SDCA, …).
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions
    /// {
    ///     MulticlassTargets = MulticlassTargets.PerClassRegression,
    ///     RegressionStudent = ml.Regression.Trainers.LightGbm(numberOfLeaves: 32, numberOfIterations: 30),
    /// };
    /// </code>
    /// </example>
    public IEstimator<ITransformer>? RegressionStudent { get; set; }

    /// <summary>The label column of the training data (default "Label").</summary>
    /// <example><code>var options = new DistillationOptions { LabelColumnName = "Churned", Alpha = 0.8 }; // true labels are read from "Churned"</code></example>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>
    /// Also trains the same student estimator on the true labels alone (default true, and only when the data has a
    /// label column), and shows its metric in the report's distill row (<see cref="StageReport.BaselineMetric"/>,
    /// <see cref="StageReport.BaselineEvaluationMetric"/>), so you can see whether distillation beat simply
    /// training the small model. The baseline model is discarded; only the distilled student is kept.
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions { TrainLabelOnlyBaseline = false }; // skip the baseline: one training less
    /// // with it (default): compressed.Report.Stages[1].BaselineMetric
    /// </code>
    /// </example>
    public bool TrainLabelOnlyBaseline { get; set; } = true;

    /// <summary>
    /// Never worse than the labels alone (default true): Distill keeps a validation split, trains on the rest the
    /// student on the labels alone and one distilled student per value of <see cref="CandidateAlphas"/>, scores them
    /// on the split with ML.NET's evaluator of the task (AUC for binary, micro-accuracy for multiclass, RMSE for
    /// regression) and returns the best distilled candidate when it cuts the label-only student's validation error by
    /// <see cref="MinimumErrorReduction"/>, else the label-only student. With
    /// <see cref="RefitChosenOnAllData"/> (default) the chosen candidate is then trained again on all the data.
    /// Fits: 1 + the number of alphas on the split's training part, then 1 refit and, when a distilled candidate
    /// wins and <see cref="TrainLabelOnlyBaseline"/> is on, the labels-only baseline on all the data (default 5 fits
    /// in all). The report's distill row lists every candidate's validation metric, the teacher's, and which one was
    /// returned (<see cref="StageReport.Selection"/>). When <see cref="ValidationFraction"/> of the data is fewer than
    /// 50 rows (e.g. 107 wine rows hold out 21), the candidates are compared in 5 folds instead (every row held out
    /// once, metrics averaged, 5 times the fits; <see cref="DistillationSelection.Folds"/>) and the chosen one is
    /// trained again on all the data. Data without a label column, or fewer than 50 rows in all, is distilled as with
    /// false, and the stage's description says why; set false
    /// to skip the extra fits (e.g. to study the distilled student itself).
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions { ChooseOnValidation = true }; // the label-only student when the teacher has nothing to teach
    /// var distilled = ml.Compression().Distill(teacher, student, options).Fit(train);
    /// Console.WriteLine(distilled.Report.Stages[1].Selection!.Chosen.Name);
    /// </code>
    /// </example>
    public bool ChooseOnValidation { get; set; } = true;

    /// <summary>
    /// The Alpha values tried with <see cref="ChooseOnValidation"/> (1 to 4 values in [0, 1]); null (default) tries
    /// <see cref="Alpha"/> and 0.5. Each value is one more student fit.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { ChooseOnValidation = true, CandidateAlphas = new[] { 1.0, 0.7, 0.3 } };</code></example>
    public IReadOnlyList<double>? CandidateAlphas { get; set; }

    /// <summary>
    /// Rows to choose on with <see cref="ChooseOnValidation"/>, with the training data's columns and labels (at least
    /// 50 rows, and both classes for a binary task). Null (default) holds out <see cref="ValidationFraction"/> of the
    /// training data, drawn with <see cref="ValidationSeed"/>. Given here, the training data is not split and the
    /// candidates are trained on all of it (so <see cref="RefitChosenOnAllData"/> has nothing to do).
    /// </summary>
    /// <example><code>var options = new DistillationOptions { ChooseOnValidation = true, ValidationData = validation };</code></example>
    public IDataView? ValidationData { get; set; }

    /// <summary>The fraction of the training data held out to choose on when <see cref="ValidationData"/> is null (0.05–0.5, default 0.2).</summary>
    /// <example><code>var options = new DistillationOptions { ChooseOnValidation = true, ValidationFraction = 0.3 };</code></example>
    public double ValidationFraction { get; set; } = 0.2;

    /// <summary>Seed of the held-out split (default 1): the same seed holds out the same rows.</summary>
    /// <example><code>var options = new DistillationOptions { ChooseOnValidation = true, ValidationSeed = 7 };</code></example>
    public int ValidationSeed { get; set; } = 1;

    /// <summary>
    /// With <see cref="ChooseOnValidation"/> and a held-out split: train the chosen candidate again on all the
    /// training data, validation rows included (default true; one more fit). False returns the candidate as it was
    /// trained on the split's training part.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { ChooseOnValidation = true, RefitChosenOnAllData = false }; // one fit less</code></example>
    public bool RefitChosenOnAllData { get; set; } = true;

    /// <summary>
    /// With <see cref="ChooseOnValidation"/>: the fraction (0–0.5, default 0.05) by which the best distilled candidate
    /// must cut the label-only student's validation error (1 − AUC, 1 − micro-accuracy, or RMSE) to be returned
    /// instead of it. A few hundred validation rows cannot rank students whose errors are closer than that: on
    /// spam and LETTER.p2 splits, distilled students ahead by 2–3 % of the error on 300–700 validation rows lost on
    /// the test rows. 0 returns any candidate strictly better on validation.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { ChooseOnValidation = true, MinimumErrorReduction = 0.1 }; // distil only for a clear gain</code></example>
    public double MinimumErrorReduction { get; set; } = 0.05;

    /// <summary>
    /// Seed of the shuffle that an order-sensitive student (SDCA, SGD, the perceptron, linear and LD-SVM, and
    /// one-versus-all or pairwise-coupling students, whose binary trainer is hidden) reads its transfer rows through
    /// (default 1). Fixed, so that the same options give the same student whatever the <c>MLContext</c> ran before:
    /// alone, in a chain, or after another Fit. The student's own trainer may still draw from the context.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { ShuffleSeed = 7 }; // another order of the transfer rows</code></example>
    public int ShuffleSeed { get; set; } = 1;

    /// <summary>
    /// Sizes a tree student relative to its teacher (null, the default: no limit): the returned student keeps at most
    /// this fraction (0–1] of the teacher's trees, counted over all its ensembles (one per class for one-versus-all
    /// and LightGBM multiclass). ML.NET trainers are built by the user, so the student is trained as given and, when it
    /// has more trees than the budget, the Prune stage's tree selection (lasso re-weighting of the trees to reproduce
    /// the student's own score) keeps the budget; the Distill row's description says so, with the
    /// <c>numberOfTrees</c> to give the trainer to fit that size directly. Applies to native FastTree, LightGBM and
    /// FastForest students (binary, multiclass, regression) whose teacher is a native tree ensemble; for any other
    /// teacher or student it is refused when the stage runs.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { StudentTreeFraction = 0.5 }; // at most half the teacher's trees</code></example>
    public double? StudentTreeFraction { get; set; }

    /// <summary>
    /// A bounded grid over the student's size with <see cref="ChooseOnValidation"/> (null, the default: its own size
    /// only): 1 to 4 tree counts (over all the student's ensembles), each tried for every distilled candidate by
    /// cutting its trees to that count with the Prune stage's tree selection (lasso re-weighting to the candidate's own
    /// score). A cut costs no student fit, so the fits stay those of <see cref="ChooseOnValidation"/>; counts at or
    /// above the student's trees are skipped. Each cut is one more candidate in the report
    /// (<see cref="DistillationCandidate.Trees"/>); when one is chosen, the chosen Alpha is trained again on all the
    /// data (with <see cref="RefitChosenOnAllData"/>) and cut to the chosen count. Native tree students only.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { CandidateTreeCounts = new[] { 25, 50 } }; // also try the student at 25 and 50 trees</code></example>
    public IReadOnlyList<int>? CandidateTreeCounts { get; set; }

    /// <summary>
    /// The default size of a tree student (0.5 by default; null: the student's own size): when both the teacher and the
    /// student are native ML.NET tree ensembles (FastTree, LightGBM, FastForest) and <see cref="StudentTreeFraction"/> is
    /// null, the returned student keeps at most this fraction (0–1] of the teacher's leaves and no more trees than the
    /// teacher, counted over all ensembles and read from the saved models. The student is trained as given (its trainer
    /// is the user's); a larger one is cut by the Prune stage's tree selection to the trees that fit (the leaf budget over
    /// the student's leaves per tree). With <see cref="ChooseOnValidation"/> every candidate, the label-only one included,
    /// is compared on the validation rows at that size. The Distill row's description gives the budget and the
    /// <c>numberOfTrees</c> to train at that size directly. Why: an early-stopped teacher can have fewer trees than the
    /// student a user picks (39–121 trees against a 50 × 16 student on four of five binary sets), and a student larger
    /// than its teacher defeats the point of distilling. Ignored for any other teacher or student.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { StudentLeafFraction = null }; // keep the student's own size even when it is larger than the teacher</code></example>
    public double? StudentLeafFraction { get; set; } = 0.5;

    /// <summary>The most sizes <see cref="CandidateTreeCounts"/> tries.</summary>
    internal const int MaxCandidateTreeCounts = 4;

    /// <summary>
    /// The folds <see cref="ChooseOnValidation"/> uses when <see cref="ValidationFraction"/> of the training data is
    /// fewer than <see cref="MinValidationRows"/> rows: every row is held out once and the metrics are averaged.
    /// </summary>
    internal const int CrossValidationFolds = 5;

    /// <summary>The smallest validation split that <see cref="ChooseOnValidation"/> chooses on.</summary>
    internal const int MinValidationRows = 50;

    /// <summary>The most Alpha values <see cref="ChooseOnValidation"/> tries.</summary>
    internal const int MaxCandidateAlphas = 4;

    /// <summary>The Alpha values to try, in order, without repeats.</summary>
    internal IReadOnlyList<double> AlphasToTry() => (CandidateAlphas ?? new[] { Alpha, 0.5 }).Distinct().ToList();

    /// <summary>
    /// MUNGE-style augmentation (Bucilua, Caruana &amp; Niculescu-Mizil, 2006): for each row of the data this many
    /// synthetic rows (0–100, default 0 = off) are made from the row and its nearest neighbour and labelled by the
    /// teacher, so the transfer set is (1 + factor) times larger. The neighbour is searched, on standardized numeric
    /// columns, in a sample of at most <see cref="AugmentationSampleSize"/> rows.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { AugmentationFactor = 4 }; // 4 synthetic rows per row: a 5× transfer set</code></example>
    public int AugmentationFactor { get; set; }

    /// <summary>
    /// Probability (in [0, 1], default 0.5) that a column of a synthetic row takes its value from the neighbour:
    /// a numeric value is drawn from a normal distribution centred on the neighbour's value with standard deviation
    /// |a − b| / <see cref="AugmentationLocalVariance"/>; any other value (text, categories, Booleans) is swapped.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { AugmentationFactor = 4, AugmentationSwapProbability = 0.3 };</code></example>
    public double AugmentationSwapProbability { get; set; } = 0.5;

    /// <summary>The MUNGE local-variance parameter s (&gt; 0, default 1): larger values keep numeric draws closer to the neighbour's value.</summary>
    /// <example><code>var options = new DistillationOptions { AugmentationFactor = 4, AugmentationLocalVariance = 2 }; // draws closer to the neighbour</code></example>
    public double AugmentationLocalVariance { get; set; } = 1.0;

    /// <summary>Seed of the augmentation's sampling and draws (default 1); the same seed gives the same synthetic rows.</summary>
    /// <example><code>var options = new DistillationOptions { AugmentationFactor = 4, AugmentationSeed = 42 };</code></example>
    public int AugmentationSeed { get; set; } = 1;

    /// <summary>Rows kept in memory to search nearest neighbours in (100–100,000, default 1,000).</summary>
    /// <example><code>var options = new DistillationOptions { AugmentationFactor = 4, AugmentationSampleSize = 10_000 }; // nearer neighbours, more memory</code></example>
    public int AugmentationSampleSize { get; set; } = 1000;

    /// <summary>
    /// More transfer rows, without labels (null by default): the teacher labels them, the student learns from them
    /// after the training rows, and the labels-only baseline and <see cref="Alpha"/>'s true labels use the training
    /// rows alone. The columns must be the training data's (the student's weight column may be missing; a label
    /// column, if there is one, is ignored). Rows nobody labelled are where distillation pays most: on LETTER.p2 (3,973 labelled rows) 9,054
    /// unlabeled rows took a 50 × 16 student from the labels-only 0.9806 AUC to 0.9831 (teacher 0.9883), where
    /// distilling on the labelled rows alone gave 0.9806.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { UnlabeledData = ml.Data.LoadFromTextFile&lt;Row&gt;("unlabeled.csv", hasHeader: true, separatorChar: ',') };</code></example>
    public IDataView? UnlabeledData { get; set; }

    /// <summary>
    /// How to read a teacher that is an ONNX network (a file, a stream or an <c>OnnxTransformer</c>): which output
    /// holds logits or probabilities and the class values in index order. Null (default) reads the network's only
    /// output as logits and infers the class values from the data (see <see cref="Compression.NetworkTeacher"/>).
    /// Ignored for ML.NET teachers.
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions { NetworkTeacher = new NetworkTeacher { OutputColumn = "Score", Output = NetworkOutputKind.Logits } };
    /// var distilled = ml.Compression().Distill("spam_mlp.onnx", student, options).Fit(train);
    /// </code>
    /// </example>
    public NetworkTeacher? NetworkTeacher { get; set; }

    /// <summary>
    /// How a binary student learns the teacher (default <see cref="Compression.BinaryTargets.SoftLabels"/>: the student's
    /// binary trainer on the teacher's probabilities as weighted rows or proportional copies).
    /// <see cref="Compression.BinaryTargets.LogitRegression"/> trains <see cref="RegressionStudent"/> on the teacher's
    /// logit and turns it into one ONNX binary classifier; the student given to <c>Distill</c> is then only the
    /// labels-only baseline. LogitRegression with a multiclass or regression student is refused before training.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { BinaryTargets = BinaryTargets.LogitRegression, RegressionStudent = ml.Regression.Trainers.LightGbm() };</code></example>
    public BinaryTargets BinaryTargets { get; set; } = BinaryTargets.SoftLabels;

    /// <summary>Whether <see cref="RegressionStudent"/> is the model that learns (per-class or binary logit regression).</summary>
    internal bool UsesRegressionStudent => MulticlassTargets == MulticlassTargets.PerClassRegression || BinaryTargets == BinaryTargets.LogitRegression;

    internal DistillationOptions Clone()
    {
        var c = (DistillationOptions)MemberwiseClone();
        c.NetworkTeacher = NetworkTeacher?.Clone();
        c.CandidateAlphas = CandidateAlphas?.ToArray(); // later changes to the caller's list do not change the stage
        c.CandidateTreeCounts = CandidateTreeCounts?.ToArray();
        return c;
    }

    internal void Validate()
    {
        if (double.IsNaN(Alpha) || Alpha < 0 || Alpha > 1)
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "Alpha must be in [0, 1]: 1 learns only the teacher, 0 only the labels.");
        if (double.IsNaN(Temperature) || Temperature <= 0 || double.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be a finite number greater than 0 (1 keeps the teacher's probabilities).");
        if (SoftTargetResolution < 1 || SoftTargetResolution > 64)
            throw new ArgumentOutOfRangeException(nameof(SoftTargetResolution), SoftTargetResolution, "SoftTargetResolution must be between 1 and 64.");
        if (AugmentationFactor < 0 || AugmentationFactor > 100)
            throw new ArgumentOutOfRangeException(nameof(AugmentationFactor), AugmentationFactor, "AugmentationFactor must be between 0 (off) and 100 synthetic rows per row.");
        if (double.IsNaN(AugmentationSwapProbability) || AugmentationSwapProbability < 0 || AugmentationSwapProbability > 1)
            throw new ArgumentOutOfRangeException(nameof(AugmentationSwapProbability), AugmentationSwapProbability, "AugmentationSwapProbability must be in [0, 1].");
        if (double.IsNaN(AugmentationLocalVariance) || AugmentationLocalVariance <= 0 || double.IsInfinity(AugmentationLocalVariance))
            throw new ArgumentOutOfRangeException(nameof(AugmentationLocalVariance), AugmentationLocalVariance, "AugmentationLocalVariance must be a finite number greater than 0 (default 1).");
        if (AugmentationSampleSize < 100 || AugmentationSampleSize > 100_000)
            throw new ArgumentOutOfRangeException(nameof(AugmentationSampleSize), AugmentationSampleSize, "AugmentationSampleSize must be between 100 and 100,000 rows.");
        if (!Enum.IsDefined(MulticlassTargets))
            throw new ArgumentOutOfRangeException(nameof(MulticlassTargets), MulticlassTargets, "MulticlassTargets must be RowExpansion or PerClassRegression.");
        if (!Enum.IsDefined(BinaryTargets))
            throw new ArgumentOutOfRangeException(nameof(BinaryTargets), BinaryTargets, "BinaryTargets must be SoftLabels or LogitRegression.");
        if (MulticlassTargets == MulticlassTargets.PerClassRegression && BinaryTargets == BinaryTargets.LogitRegression)
            throw new ArgumentException("MulticlassTargets PerClassRegression and BinaryTargets LogitRegression are for different tasks: set the one of your student's task.", nameof(BinaryTargets));
        if (UsesRegressionStudent)
        {
            string mode = MulticlassTargets == MulticlassTargets.PerClassRegression ? "MulticlassTargets PerClassRegression trains one regression student per class" : "BinaryTargets LogitRegression trains a regression student on the teacher's logit";
            if (RegressionStudent == null)
                throw new ArgumentException($"{mode}: set RegressionStudent to a regression trainer (e.g. ml.Regression.Trainers.LightGbm()).", nameof(RegressionStudent));
            var regression = Distillation.StudentTrainer.Of(RegressionStudent, nameof(RegressionStudent));
            if (regression.Task != ModelTask.Regression)
                throw new ArgumentException($"RegressionStudent must end in a regression trainer; it ends in a {regression.Task} trainer.", nameof(RegressionStudent));
            if (regression.LabelColumn != LabelColumnName)
                throw new ArgumentException($"RegressionStudent reads its label from '{regression.LabelColumn}', but LabelColumnName is '{LabelColumnName}'. Make them the same.", nameof(RegressionStudent));
            if (HardLabels)
                throw new ArgumentException(MulticlassTargets == MulticlassTargets.PerClassRegression
                    ? "HardLabels gives one-hot targets, which have no per-class logits to regress on: use RowExpansion for hard labels."
                    : "HardLabels gives 0/1 targets, which have no logit to regress on: use SoftLabels for hard labels.", nameof(HardLabels));
        }
        else if (RegressionStudent != null)
            throw new ArgumentException("RegressionStudent is only used with MulticlassTargets = PerClassRegression or BinaryTargets = LogitRegression; set one of those too, or leave RegressionStudent null.", nameof(RegressionStudent));
        if (CandidateAlphas != null && (CandidateAlphas.Count == 0 || CandidateAlphas.Count > MaxCandidateAlphas || CandidateAlphas.Any(a => double.IsNaN(a) || a < 0 || a > 1)))
            throw new ArgumentOutOfRangeException(nameof(CandidateAlphas), $"CandidateAlphas must hold 1 to {MaxCandidateAlphas} values in [0, 1] (each is one more student fit), or be null for Alpha and 0.5.");
        if (double.IsNaN(MinimumErrorReduction) || MinimumErrorReduction < 0 || MinimumErrorReduction > 0.5)
            throw new ArgumentOutOfRangeException(nameof(MinimumErrorReduction), MinimumErrorReduction, "MinimumErrorReduction must be between 0 and 0.5 (a fraction of the label-only student's validation error).");
        if (double.IsNaN(ValidationFraction) || ValidationFraction < 0.05 || ValidationFraction > 0.5)
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be between 0.05 and 0.5.");
        if (!ChooseOnValidation && (ValidationData != null || CandidateAlphas != null || CandidateTreeCounts != null))
            throw new ArgumentException("ValidationData, CandidateAlphas and CandidateTreeCounts are used only with ChooseOnValidation = true: set it too, or leave them null.",
                ValidationData != null ? nameof(ValidationData) : CandidateAlphas != null ? nameof(CandidateAlphas) : nameof(CandidateTreeCounts));
        if (CandidateTreeCounts != null && (CandidateTreeCounts.Count == 0 || CandidateTreeCounts.Count > MaxCandidateTreeCounts || CandidateTreeCounts.Any(n => n < 1)))
            throw new ArgumentOutOfRangeException(nameof(CandidateTreeCounts), $"CandidateTreeCounts must hold 1 to {MaxCandidateTreeCounts} tree counts of at least 1, or be null for the student's own size.");
        if (CandidateTreeCounts != null && UsesRegressionStudent)
            throw new ArgumentException("CandidateTreeCounts sizes a native tree student; the per-class and logit regression students become one ONNX graph: leave it null.", nameof(CandidateTreeCounts));
        if (StudentTreeFraction is double f && (double.IsNaN(f) || f <= 0 || f > 1))
            throw new ArgumentOutOfRangeException(nameof(StudentTreeFraction), f, "StudentTreeFraction must be in (0, 1] (a fraction of the teacher's trees), or null for no limit.");
        if (StudentLeafFraction is double lf && (double.IsNaN(lf) || lf <= 0 || lf > 1))
            throw new ArgumentOutOfRangeException(nameof(StudentLeafFraction), lf, "StudentLeafFraction must be in (0, 1] (a fraction of the teacher's leaves), or null to keep the student's own size.");
        if (StudentTreeFraction != null && UsesRegressionStudent)
            throw new ArgumentException("StudentTreeFraction sizes a native tree student; the per-class and logit regression students become one ONNX graph: leave it null, or size RegressionStudent with its numberOfTrees.", nameof(StudentTreeFraction));
        if (string.IsNullOrWhiteSpace(LabelColumnName))
            throw new ArgumentException("LabelColumnName must name a column.", nameof(LabelColumnName));
    }
}
