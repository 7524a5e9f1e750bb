using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Distillation;
using Microsoft.ML.Data;
using Microsoft.ML.Compression.Reporting;

namespace Microsoft.ML.Compression;

/// <summary>
/// Estimator of the distillation stage: the teacher scores the training data and the student (any ML.NET
/// estimator chain ending in a trainer) learns the teacher's soft targets, optionally blended with the true
/// labels. The student stays a native ML.NET model. Create it with
/// <see cref="CompressionCatalog.Distill(ITransformer, IEstimator{ITransformer}, DistillationOptions)"/>.
/// </summary>
/// <example>
/// <code>
/// var student = ml.Transforms.Concatenate("Features", cols).Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20));
/// var distilled = ml.Compression().Distill(teacher, student).Fit(train);
/// </code>
/// </example>
public sealed class DistillationEstimator : CompressionStageEstimator
{
    private readonly IEstimator<ITransformer> _student;
    private readonly StudentTrainer _trainer;
    private readonly DistillationOptions _options;

    internal DistillationEstimator(MLContext ml, ModelSource? teacher, IEstimator<ITransformer> student, DistillationOptions options) : base(ml, teacher)
    {
        options.Validate();
        _student = student ?? throw new ArgumentNullException(nameof(student));
        _trainer = StudentTrainer.Of(student, nameof(student));
        _options = new DistillationOptions
        {
            Alpha = options.Alpha, Temperature = options.Temperature,
            SoftTargetResolution = options.SoftTargetResolution, LabelColumnName = options.LabelColumnName,
        };
    }

    /// <inheritdoc/>
    public override string StageName => "Distill";

    internal SchemaShape? StudentOutputSchema(SchemaShape input)
    {
        try { return _student.GetOutputSchema(input); }
        catch (ArgumentException) { return null; } // the raw label type differs from what the student sees
    }

    internal override ModelState Apply(ModelState input, IDataView data, out string description)
    {
        if (input.Task != _trainer.Task)
            throw new ArgumentException($"The teacher is a {input.Task} model but the student's trainer is {_trainer.Task}: give a student of the teacher's task.", "student");
        if (_trainer.LabelColumn != _options.LabelColumnName)
            throw new ArgumentException($"The student's trainer reads its label from '{_trainer.LabelColumn}', but DistillationOptions.LabelColumnName is '{_options.LabelColumnName}'. Make them the same.", "student");
        using var teacher = new TransformerChain<ITransformer>(input.BuildTransformers(Ml, data).ToArray());
        var transfer = TransferSetBuilder.Build(Ml, teacher, data, _trainer, _options, out var summary);
        Ml.LogInfo($"Compression: distilling into the student on {summary}.");
        ITransformer student;
        try { student = _student.Fit(transfer); }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException && e is not CompressionException)
        {
            throw new CompressionException($"The student could not be trained on the transfer set ({e.Message}). It receives the training data's columns with '{_trainer.LabelColumn}' holding the teacher's targets.", e);
        }
        description = $"student trained on the teacher's soft targets (alpha {_options.Alpha:G3}, temperature {_options.Temperature:G3}): {summary}.";
        return new NativeState(student, "student");
    }
}
