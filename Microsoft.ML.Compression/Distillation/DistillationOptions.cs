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
    /// on (unlabeled data), where the student then learns the teacher's decisions rather than its uncertainty
    /// (measured on multiclass and binary data: docs/stages.md, Distill).
    /// </summary>
    /// <example><code>var options = new DistillationOptions { HardLabels = true }; // e.g. with unlabeled transfer data</code></example>
    public bool HardLabels { get; set; }

    /// <summary>
    /// How a multiclass student learns the teacher (default <see cref="Compression.MulticlassTargets.RowExpansion"/>: the
    /// student's multiclass trainer on weighted rows or proportional copies). <see cref="Compression.MulticlassTargets.PerClassRegression"/>
    /// trains <see cref="RegressionStudent"/> once per class on the teacher's per-class logits and merges the regressors
    /// into one ONNX multiclass model; the student given to <c>Distill</c> is then only the labels-only baseline.
    /// Row expansion was the more accurate where both were measured (docs/benchmarks.md), hence the default.
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
    /// How Distill chooses the student it returns: the distilled candidates (one per Alpha, optionally cut to smaller
    /// tree counts) against the student trained on the labels alone, on validation rows, and the labels-only baseline
    /// shown in the report.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { Selection = { CandidateAlphas = new[] { 1.0, 0.5 }, ValidationFraction = 0.3 } };</code></example>
    public StudentSelectionOptions Selection { get; private set; } = new();

    /// <summary>MUNGE augmentation of the transfer set: synthetic rows near the training rows, labelled by the teacher (off by default).</summary>
    /// <example><code>var options = new DistillationOptions { Augmentation = { Factor = 4, Seed = 42 } }; // a 5× transfer set</code></example>
    public AugmentationOptions Augmentation { get; private set; } = new();

    /// <summary>The most sizes <see cref="StudentSelectionOptions.CandidateTreeCounts"/> tries.</summary>
    internal const int MaxCandidateTreeCounts = 4;

    /// <summary>
    /// The default size of a tree student (0.5 by default; null: the student's own size): when both the teacher and the
    /// student are native ML.NET tree ensembles (FastTree, LightGBM, FastForest) and <see cref="StudentTreeFraction"/> is
    /// null, the returned student keeps at most this fraction (0–1] of the teacher's leaves (what the saved zip grows
    /// with), no more trees than the teacher, and a per-row scoring cost at most this fraction of the teacher's: ML.NET
    /// walks every tree for every row, so the cost is counted as the sum over the trees of their mean leaf depth (a
    /// student of fewer but deeper trees can otherwise be slower than a teacher of shallow ones). All is counted over all
    /// ensembles (one per class for one-versus-all) and read from the saved models. The student is trained as given (its
    /// trainer is the user's); a larger one is cut by the Prune stage's tree selection to the trees that fit (the fewest
    /// of the leaf budget over the student's leaves per tree, the cost budget over its cost per tree, and the teacher's trees). With <see cref="StudentSelectionOptions.ChooseOnValidation"/> every candidate, the
    /// label-only one included, is compared on the validation rows at that size. The Distill row's description gives the
    /// budget and the <c>numberOfTrees</c> to train at that size directly. Why: an early-stopped teacher can have fewer
    /// trees than the student a user picks, and a student larger or slower than its teacher defeats the point of distilling.
    /// Ignored for any other teacher or student.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { StudentLeafFraction = null }; // keep the student's own size even when it is larger than the teacher</code></example>
    public double? StudentLeafFraction { get; set; } = 0.5;

    /// <summary>
    /// The folds <see cref="StudentSelectionOptions.ChooseOnValidation"/> uses when the validation fraction of the
    /// training data is fewer than <see cref="MinValidationRows"/> rows: every row is held out once and the metrics are averaged.
    /// </summary>
    internal const int CrossValidationFolds = 5;

    /// <summary>The smallest validation split that <see cref="StudentSelectionOptions.ChooseOnValidation"/> chooses on.</summary>
    internal const int MinValidationRows = 50;

    /// <summary>The most Alpha values <see cref="StudentSelectionOptions.ChooseOnValidation"/> tries.</summary>
    internal const int MaxCandidateAlphas = 4;

    /// <summary>The Alpha values to try, in order, without repeats.</summary>
    internal IReadOnlyList<double> AlphasToTry() => (Selection.CandidateAlphas ?? new[] { Alpha, 0.5 }).Distinct().ToList();

    /// <summary>
    /// More transfer rows, without labels (null by default): the teacher labels them, the student learns from them
    /// after the training rows, and the labels-only baseline and <see cref="Alpha"/>'s true labels use the training
    /// rows alone. The columns must be the training data's (the student's weight column may be missing; a label
    /// column, if there is one, is ignored). Rows nobody labelled are where distillation pays
    /// most (measured: docs/stages.md, unlabeled transfer data).
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
        c.Selection = Selection.Copy(); // later changes to the caller's lists do not change the stage
        c.Augmentation = Augmentation.Copy();
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
        Augmentation.Validate();
        Selection.Validate();
        if (Selection.CandidateTreeCounts != null && UsesRegressionStudent)
            throw new ArgumentException("Selection.CandidateTreeCounts sizes a native tree student; the per-class and logit regression students become one ONNX graph: leave it null.", nameof(StudentSelectionOptions.CandidateTreeCounts));
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
