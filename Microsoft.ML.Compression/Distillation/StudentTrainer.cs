using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>What distillation needs to know of the student: the task of its trainer, its label and weight columns, and the trainer itself.</summary>
internal sealed record StudentTrainer(ModelTask Task, string LabelColumn, string? WeightColumn)
{
    /// <summary>The trainer alone (the chain's last estimator): per-class regression fits it once per class on the featurized rows.</summary>
    public IEstimator<ITransformer>? Trainer { get; init; }

    public static StudentTrainer Of(IEstimator<ITransformer> student, string paramName)
    {
        object? last = student;
        while (last != null && last.GetType().IsGenericType && last.GetType().GetGenericTypeDefinition() == typeof(EstimatorChain<>))
        {
            var type = last.GetType();
            const string name = nameof(EstimatorChain<ITransformer>.LastEstimator);
            last = type.GetProperty(name)?.GetValue(last) ?? type.GetField(name)?.GetValue(last);
        }
        for (var type = last?.GetType(); type != null; type = type.BaseType)
        {
            if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(TrainerEstimatorBase<,>)) continue;
            var transformerType = type.GetGenericArguments()[0];
            var task = transformerType.IsGenericType ? transformerType.GetGenericTypeDefinition() switch
            {
                var d when d == typeof(BinaryPredictionTransformer<>) => ModelTask.BinaryClassification,
                var d when d == typeof(MulticlassPredictionTransformer<>) => ModelTask.MulticlassClassification,
                var d when d == typeof(RegressionPredictionTransformer<>) => ModelTask.Regression,
                _ => (ModelTask?)null,
            } : null;
            if (task == null) break;
            var label = (SchemaShape.Column)type.GetField("LabelColumn")!.GetValue(last)!;
            var weight = (SchemaShape.Column)type.GetField("WeightColumn")!.GetValue(last)!;
            return new StudentTrainer(task.Value, label.Name, string.IsNullOrEmpty(weight.Name) ? null : weight.Name)
            {
                Trainer = last as IEstimator<ITransformer>,
            };
        }
        throw new ArgumentException(
            $"The student must be an ML.NET estimator (or chain) ending in a binary, multiclass or regression trainer; its last estimator is {last?.GetType().Name ?? "null"}.", paramName);
    }
}
