using System.Reflection;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// <see cref="MulticlassDistillationMethod.PerClassRegression"/>: one regression student per class on the teacher's
/// centred log-probabilities, combined by softmax into one ML.NET multiclass model. The combination is ML.NET's own
/// <see cref="OneVersusAllModelParameters"/> with its softmax output (what a LightGBM multiclass model is made of),
/// so the student saves, loads and exports to ONNX like any ML.NET multiclass model.
/// </summary>
/// <remarks>
/// Materialized: one Single target per row and class (the student trainers load their rows anyway). The student's
/// featurization is fitted once, with the first class's rows, and shared by all the regressors.
/// </remarks>
internal static class PerClassStudent
{
    /// <summary>Probabilities are floored here before the log: rounding noise among classes the teacher rules out is not worth trees.</summary>
    internal const double ProbabilityFloor = 1e-4;

    public static ITransformer Train(MLContext ml, IReadOnlyList<ITransformer> teacher, IDataView data, IEstimator<ITransformer> student, StudentTrainer trainer,
        DistillationOptions o, (object[] values, DataViewType type)? teacherClasses, out string summary)
    {
        var targets = new List<float[]>();
        var scored = TransferSetBuilder.Score(ml, teacher, data, ModelTask.MulticlassClassification, o, null, teacherClasses,
            t => targets.Add(LogTargets(t, o.Temperature)), _ => throw new InvalidOperationException("A multiclass teacher gave a regression target."));
        int classes = scored.ClassValues.Length, rows = targets.Count;
        var rowStart = Enumerable.Range(0, rows + 1).ToArray();
        var entryClass = new int[rows];

        ITransformer[] prefix = Array.Empty<ITransformer>();
        DataViewSchema? featurizedSchema = null;
        string featureColumn = "";
        var models = new object[classes];
        for (int c = 0; c < classes; c++)
        {
            var values = new float[rows];
            for (int i = 0; i < rows; i++) values[i] = targets[i][c];
            var view = new TransferSet(scored.Source, o.LabelColumnName, NumberDataViewType.Single, Array.Empty<object>(), isRegression: true,
                weightColumn: null, rowStart, entryClass, values);
            ITransformer predictor;
            if (c == 0)
            {
                var flat = MlNetModelParts.Flatten(student.Fit(view)).ToList();
                predictor = flat[^1];
                prefix = flat.Take(flat.Count - 1).ToArray();
                featurizedSchema = view.Schema;
                foreach (var t in prefix) featurizedSchema = t.GetOutputSchema(featurizedSchema);
                featureColumn = (predictor as ISingleFeaturePredictionTransformer<object>)?.FeatureColumnName
                    ?? throw new UnsupportedModelException($"The regression student's predictor {predictor.GetType().Name} does not read one feature column, so it cannot be combined per class.");
            }
            else
            {
                IDataView featurized = view;
                foreach (var t in prefix) featurized = t.Transform(featurized);
                predictor = trainer.Trainer!.Fit(featurized);
            }
            models[c] = (predictor as ISingleFeaturePredictionTransformer<object>)?.Model
                ?? throw new UnsupportedModelException($"The regression student's predictor {predictor.GetType().Name} exposes no model to combine.");
        }

        var combined = Combine(ml, models, KeyedSchema(featurizedSchema!, o.LabelColumnName, scored.LabelType, scored.ClassValues), featureColumn, o.LabelColumnName);
        // The label in the teacher's class order, so that Label and PredictedLabel are the same key type (ML.NET's evaluators need that).
        var classView = new ClassValuesView(o.LabelColumnName, scored.LabelType, scored.ClassValues);
        var labelToKey = ml.Transforms.Conversion.MapValueToKey(o.LabelColumnName, keyData: classView).Fit(classView);
        summary = $"{scored.RowsText}; {classes} regression students (one per class) on the teacher's log-probabilities, combined by softmax";
        return new TransformerChain<ITransformer>(new ITransformer[] { labelToKey }.Concat(prefix).Append(combined).ToArray());
    }

    /// <summary>log p (floored) divided by the temperature, centred over the classes: a softmax of these gives the softened targets back.</summary>
    internal static float[] LogTargets(double[] probabilities, double temperature)
    {
        var logs = probabilities.Select(p => Math.Log(Math.Max(p, ProbabilityFloor)) / temperature).ToArray();
        double mean = logs.Average();
        return logs.Select(l => (float)(l - mean)).ToArray();
    }

    /// <summary>The featurized schema with the label as a key whose values are the teacher's classes (what PredictedLabel will carry).</summary>
    private static DataViewSchema KeyedSchema(DataViewSchema featurized, string labelColumn, DataViewType valueType, object[] classValues)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var col in featurized.Where(c => !c.IsHidden && c.Name != labelColumn)) builder.AddColumn(col.Name, col.Type, col.Annotations);
        var annotations = new DataViewSchema.Annotations.Builder();
        var add = typeof(PerClassStudent).GetMethod(nameof(AddKeyValues), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(valueType.RawType);
        add.Invoke(null, new object[] { annotations, valueType, classValues });
        builder.AddColumn(labelColumn, new KeyDataViewType(typeof(uint), classValues.Length), annotations.ToAnnotations());
        return builder.ToSchema();
    }

    private static void AddKeyValues<T>(DataViewSchema.Annotations.Builder builder, DataViewType valueType, object[] classValues)
    {
        var values = classValues.Cast<T>().ToArray();
        builder.Add("KeyValues", new VectorDataViewType((PrimitiveDataViewType)valueType, values.Length),
            (ref VBuffer<T> v) => v = new VBuffer<T>(values.Length, values));
    }

    /// <summary>
    /// ML.NET has no public factory for a softmax one-versus-all model or for a multiclass prediction transformer
    /// around a model it did not train, so both are made through their internal constructors (ML.NET 5.0).
    /// </summary>
    private static ITransformer Combine(MLContext ml, object[] models, DataViewSchema schema, string featureColumn, string labelColumn)
    {
        const BindingFlags Internal = BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance;
        try
        {
            var formula = typeof(OneVersusAllModelParameters).GetNestedType("OutputFormula", BindingFlags.NonPublic)!;
            var create = typeof(OneVersusAllModelParameters).GetMethods(Internal)
                .Single(m => m.Name == "Create" && m.GetParameters() is { Length: 3 } p && p[1].ParameterType == formula && p[2].ParameterType.IsArray);
            var predictorType = create.GetParameters()[2].ParameterType.GetElementType()!;
            var predictors = Array.CreateInstance(predictorType, models.Length);
            for (int c = 0; c < models.Length; c++)
            {
                if (!predictorType.IsInstanceOfType(models[c]))
                    throw new UnsupportedModelException($"The regression student's model {models[c].GetType().Name} does not produce a single score, so it cannot be combined per class.");
                predictors.SetValue(models[c], c);
            }
            var host = ((IHostEnvironment)ml).Register("PerClassRegressionStudent");
            var ova = (OneVersusAllModelParameters)create.Invoke(null, new object[] { host, Enum.Parse(formula, "Softmax"), predictors })!;
            var ctor = typeof(MulticlassPredictionTransformer<OneVersusAllModelParameters>).GetConstructor(Internal, new[]
            {
                typeof(IHostEnvironment), typeof(OneVersusAllModelParameters), typeof(DataViewSchema), typeof(string), typeof(string), typeof(string), typeof(string),
            })!;
            return (ITransformer)ctor.Invoke(new object[] { ml, ova, schema, featureColumn, labelColumn, "Score", "PredictedLabel" });
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or TargetInvocationException or MissingMethodException && e is not CompressionException)
        {
            throw new UnsupportedModelException($"The per-class regression students could not be combined into one multiclass model with this ML.NET version ({e.Message}); use MulticlassMethod = RowExpansion.", e);
        }
    }
}
