namespace Microsoft.ML.Compression;

/// <summary>How a multiclass student learns the teacher's class distribution (<see cref="DistillationOptions.MulticlassTargets"/>).</summary>
/// <example>
/// <code>
/// // One LightGBM regression per class on the teacher's logits, merged into one ONNX multiclass model:
/// var options = new DistillationOptions
/// {
///     MulticlassTargets = MulticlassTargets.PerClassRegression,
///     RegressionStudent = ml.Regression.Trainers.LightGbm(numberOfIterations: 30),
/// };
/// var distill = ml.Compression().Distill(teacher, multiclassStudent, options);
/// </code>
/// </example>
public enum MulticlassTargets
{
    /// <summary>
    /// Default. The student's multiclass trainer learns soft labels: each row becomes one row per likely class weighted
    /// by the teacher's probability (when the trainer has an example-weight column) or
    /// <see cref="DistillationOptions.SoftTargetResolution"/> copies with labels in proportion to it. The result is a
    /// native ML.NET model. On letter (26 classes, the same 780 trees) it was more accurate than per-class regression.
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions { MulticlassTargets = MulticlassTargets.RowExpansion }; // the default
    /// var distill = ml.Compression().Distill(teacher, ml.MulticlassClassification.Trainers.LightGbm(exampleWeightColumnName: "Weight"), options);
    /// </code>
    /// </example>
    RowExpansion,

    /// <summary>
    /// <see cref="DistillationOptions.RegressionStudent"/> (a regression trainer, or a chain ending in one) is trained
    /// once per class on the teacher's logit of that class (log p divided by the temperature, centred over the
    /// classes); the K regressors are exported to ONNX and merged into one graph with a softmax head (Score: K class
    /// probabilities, PredictedLabel: the class with the highest score, as a key with the teacher's class values).
    /// The result runs through ONNX Runtime like a pruned or quantized model. K regressors of R trees are K × R trees,
    /// as many as R rounds of a LightGBM multiclass student. The graph multiplies the learned logits by the
    /// temperature again, so Score estimates the teacher's own probabilities; for least-squares trees the temperature
    /// then changes nothing (the targets and the fitted trees only scale). Probabilities are floored at 1e-4 before the log.
    /// It was less accurate than row expansion, with a smaller saved zip (docs/stages.md): the squared error on
    /// independent logits spends trees on classes that do not decide the arg-max, where the multiclass trainer's
    /// softmax loss does not.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { MulticlassTargets = MulticlassTargets.PerClassRegression, RegressionStudent = ml.Regression.Trainers.LightGbm() };</code></example>
    PerClassRegression,
}
