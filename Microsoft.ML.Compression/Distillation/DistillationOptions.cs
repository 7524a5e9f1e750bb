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
    public double Alpha { get; set; } = 1.0;

    /// <summary>
    /// Softening temperature (&gt; 0) for classification: the teacher's logits are divided by it before the
    /// targets are formed. 1 (default) keeps the teacher's probabilities.
    /// </summary>
    public double Temperature { get; set; } = 1.0;

    /// <summary>
    /// Classification students whose trainer has no example-weight column learn soft targets through copies of
    /// each row with labels in proportion to the targets; this is the number of copies (1–64, default 4). Give the
    /// trainer an example-weight column (e.g. <c>exampleWeightColumnName: "Weight"</c>) for exact soft targets with
    /// one row per class instead.
    /// </summary>
    public int SoftTargetResolution { get; set; } = 4;

    /// <summary>The label column of the training data (default "Label").</summary>
    public string LabelColumnName { get; set; } = "Label";

    internal void Validate()
    {
        if (double.IsNaN(Alpha) || Alpha < 0 || Alpha > 1)
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "Alpha must be in [0, 1]: 1 learns only the teacher, 0 only the labels.");
        if (double.IsNaN(Temperature) || Temperature <= 0 || double.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be a finite number greater than 0 (1 keeps the teacher's probabilities).");
        if (SoftTargetResolution < 1 || SoftTargetResolution > 64)
            throw new ArgumentOutOfRangeException(nameof(SoftTargetResolution), SoftTargetResolution, "SoftTargetResolution must be between 1 and 64.");
        if (string.IsNullOrWhiteSpace(LabelColumnName))
            throw new ArgumentException("LabelColumnName must name a column.", nameof(LabelColumnName));
    }
}
