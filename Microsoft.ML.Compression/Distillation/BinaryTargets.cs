namespace Microsoft.ML.Compression;

/// <summary>How a binary student learns the teacher (<see cref="DistillationOptions.BinaryTargets"/>).</summary>
/// <example>
/// <code>
/// // A LightGBM regressor on the teacher's logit, turned into one ONNX binary classifier:
/// var options = new DistillationOptions
/// {
///     BinaryTargets = BinaryTargets.LogitRegression,
///     RegressionStudent = ml.Regression.Trainers.LightGbm(numberOfLeaves: 16, numberOfIterations: 50),
/// };
/// var distill = ml.Compression().Distill(teacher, binaryStudent, options);
/// </code>
/// </example>
public enum BinaryTargets
{
    /// <summary>
    /// Default. The student's binary trainer learns the teacher's (softened) probability as a soft label: each row
    /// becomes a positive and a negative row weighted p and 1 − p (when the trainer has an example-weight column) or
    /// <see cref="DistillationOptions.SoftTargetResolution"/> copies with labels in proportion to p, i.e. the
    /// cross-entropy between the teacher's and the student's probabilities. The result is a native ML.NET model.
    /// With LightGBM students of the same shape it beat logit regression on every binary data set measured (docs/stages.md).
    /// </summary>
    /// <example><code>var options = new DistillationOptions { BinaryTargets = BinaryTargets.SoftLabels }; // the default</code></example>
    SoftLabels,

    /// <summary>
    /// <see cref="DistillationOptions.RegressionStudent"/> (a regression trainer, or a chain ending in one) is trained
    /// by least squares on the teacher's logit divided by the temperature (Ba &amp; Caruana, 2014: "regress on the
    /// logits"), with the probability clipped to [1e-4, 1 − 1e-4] so the targets stay within ±9.2; it is exported to ONNX
    /// and turned into one binary classifier: Score = the learned logit times the temperature (an estimate of the
    /// teacher's own logit), Probability = sigmoid(Score), PredictedLabel = Score &gt; 0. It runs through ONNX Runtime
    /// like a pruned or quantized model and later stages edit it the same way. The binary student given to
    /// <c>Distill</c> is then only the labels-only baseline. Needs a Boolean label (or none). The saved model is about
    /// half the size of a soft-label tree student's (one value per leaf, no calibrator), its AUC lower in the
    /// benchmarks (see <see cref="SoftLabels"/>): squared error on logits weighs rows the teacher is sure of as much
    /// as the uncertain ones that decide the ranking.
    /// </summary>
    /// <example><code>var options = new DistillationOptions { BinaryTargets = BinaryTargets.LogitRegression, RegressionStudent = ml.Regression.Trainers.FastTree() };</code></example>
    LogitRegression,
}
