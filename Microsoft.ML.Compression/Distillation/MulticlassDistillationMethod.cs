namespace Microsoft.ML.Compression;

/// <summary>How a multiclass student learns the teacher's class distribution (<see cref="DistillationOptions.MulticlassMethod"/>).</summary>
/// <example>
/// <code>
/// // One LightGBM regression per class on the teacher's log-probabilities, combined by softmax:
/// var options = new DistillationOptions { MulticlassMethod = MulticlassDistillationMethod.PerClassRegression };
/// var distill = ml.Compression().Distill(teacher, featurize.Append(ml.Regression.Trainers.LightGbm(numberOfIterations: 30)), options);
/// </code>
/// </example>
public enum MulticlassDistillationMethod
{
    /// <summary>
    /// Default. The student is a multiclass trainer; each row becomes one row per likely class weighted by the
    /// teacher's probability (when the trainer has an example-weight column) or
    /// <see cref="DistillationOptions.SoftTargetResolution"/> copies with labels in proportion to it, so the
    /// trainer's own loss learns the teacher's distribution.
    /// </summary>
    RowExpansion,

    /// <summary>
    /// The student is a <b>regression</b> trainer (with its own featurization); it is trained once per class on the
    /// teacher's centred log-probabilities (log p, floored at 1e-4, divided by the temperature), and the K regressors
    /// are combined by softmax into one ML.NET multiclass model (Score: class probabilities, PredictedLabel: a key
    /// with the teacher's class values), preceded by a <c>MapValueToKey</c> of the label in the teacher's class order.
    /// K regressors of R trees are K × R trees, like R rounds of a LightGBM multiclass student.
    /// </summary>
    PerClassRegression,
}
