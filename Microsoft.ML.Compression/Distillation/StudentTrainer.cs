using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>What distillation needs to know of the student: the task of its trainer, its label and weight columns, and the trainer itself.</summary>
internal sealed record StudentTrainer(ModelTask Task, string LabelColumn, string? WeightColumn)
{
    /// <summary>The trainer alone (the chain's last estimator): per-class regression fits it once per class on the featurized rows.</summary>
    public IEstimator<ITransformer>? Trainer { get; init; }

    /// <summary>
    /// Whether the trainer hides its label and weight columns (one-versus-all, pairwise coupling, field-aware
    /// factorization machines): its weight column can only be named by <see cref="DistillationOptions.StudentWeightColumnName"/>.
    /// </summary>
    public bool HidesColumns { get; init; }

    /// <summary>
    /// Whether the trainer learns from the rows one at a time (SDCA, SGD, the perceptron, linear and LD-SVM), so
    /// that their order matters: those trainers shuffle their data, and get a shuffled transfer set.
    /// </summary>
    public bool OrderSensitive { get; init; }

    // The transfer set streams the training data in its own order, each row's copies or class rows together; data
    // sorted by class (many public files are) then reaches an online learner as long runs of one label, and the
    // perceptron or linear SVM ends up far worse than on its own shuffled reads (spam: AUC 0.90 and 0.39 instead of
    // 0.97 and 0.94). ShuffleRows mixes the rows through a pool (memory: at most MaxShufflePool rows, whatever the
    // augmentation factor) and lets the trainer shuffle again.
    private const int MaxShufflePool = 50_000;

    /// <summary>
    /// The transfer set as this trainer should read it: shuffled through a pool for an order-sensitive trainer, with
    /// <paramref name="seed"/>. Unseeded, ML.NET would draw the shuffle from the context's random stream, whose state
    /// depends on everything the context created before (an earlier Fit, the stages of a chain): the same options
    /// then gave another student alone than in a chain (letter, one-vs-all FastTree: 0.7680 against 0.7674).
    /// </summary>
    public IDataView Feed(MLContext ml, IDataView transfer, int seed)
    {
        if (!OrderSensitive) return transfer; // tree, GAM and L-BFGS trainers read every row before they learn
        int pool = (int)Math.Min(transfer.GetRowCount() ?? MaxShufflePool, MaxShufflePool);
        return ml.Data.ShuffleRows(transfer, seed: seed, shufflePoolSize: Math.Max(pool, 1), shuffleSource: false);
    }

    /// <summary>
    /// Fits a regression student on targets written in <paramref name="label"/>. ML.NET estimators check their input
    /// schema before they train, so a student that does not take a Single label fails here, with what it was given.
    /// </summary>
    public static ITransformer FitRegression(IEstimator<ITransformer> estimator, IDataView data, string label, string targets)
    {
        try { return estimator.Fit(data); }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException && e is not CompressionException)
        {
            throw new CompressionException($"The regression student could not be trained on {targets} ({e.Message}). It receives the training data's columns with '{label}' holding the target as Single.", e);
        }
    }

    private static bool IsCalibratorEstimator(object? estimator)
    {
        for (var type = estimator?.GetType(); type != null; type = type.BaseType)
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Calibrators.CalibratorEstimatorBase<>)) return true;
        return false;
    }

    private static bool IsOrderSensitive(object? trainer)
    {
        for (var type = trainer?.GetType(); type != null; type = type.BaseType)
        {
            if (type == typeof(LdSvmTrainer)) return true;
            if (type.IsGenericType && type.GetGenericTypeDefinition() is var d && (d == typeof(OnlineLinearTrainer<,>) || d == typeof(StochasticTrainerBase<,>)))
                return true;
        }
        return false;
    }

    /// <param name="student">The student estimator or chain.</param>
    /// <param name="paramName">Its parameter name, for exceptions.</param>
    /// <param name="metaLabelColumn">
    /// The label column of a one-versus-all, pairwise-coupling or field-aware factorization machine student: those
    /// trainers do not expose theirs (nor a weight column), so it is taken to be the distillation's label column, and
    /// soft targets reach them as copies.
    /// </param>
    public static StudentTrainer Of(IEstimator<ITransformer> student, string paramName, string metaLabelColumn = "Label")
    {
        object? last = student;
        while (last != null && last.GetType().IsGenericType && last.GetType().GetGenericTypeDefinition() == typeof(EstimatorChain<>))
        {
            var type = last.GetType();
            const string name = nameof(EstimatorChain<ITransformer>.LastEstimator);
            last = type.GetProperty(name)?.GetValue(last) ?? type.GetField(name)?.GetValue(last);
        }
        // Field-aware factorization machines are binary trainers outside TrainerEstimatorBase that hide their columns
        // too: like the meta trainers they read the distillation's label column and get copies (SGD-like: shuffled).
        if (last is FieldAwareFactorizationMachineTrainer ffm)
            return new StudentTrainer(ModelTask.BinaryClassification, metaLabelColumn, null) { Trainer = ffm, OrderSensitive = true, HidesColumns = true };
        for (var type = last?.GetType(); type != null; type = type.BaseType)
        {
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(MetaMulticlassTrainer<,>))
                return new StudentTrainer(ModelTask.MulticlassClassification, metaLabelColumn, null)
                {
                    Trainer = last as IEstimator<ITransformer>,
                    OrderSensitive = true, // its binary trainer is hidden: it may be an online one
                    HidesColumns = true,
                };
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
            if (!string.IsNullOrEmpty(weight.Name) && last is Trainers.FastTree.GamBinaryTrainer or Trainers.FastTree.GamRegressionTrainer)
                throw new ArgumentException(
                    $"The student is an ML.NET GAM trainer with the example-weight column '{weight.Name}'. ML.NET's GAM trainers (5.0) learn a constant "
                    + "model whenever they are given a weight column, even one of all ones, so this student would learn nothing. Create the GAM "
                    + "without exampleWeightColumnName: the teacher's soft targets then reach it as proportional copies of each row "
                    + "(DistillationOptions.SoftTargetResolution).", paramName);
            return new StudentTrainer(task.Value, label.Name, string.IsNullOrEmpty(weight.Name) ? null : weight.Name)
            {
                Trainer = last as IEstimator<ITransformer>,
                OrderSensitive = IsOrderSensitive(last),
            };
        }
        string calibrator = IsCalibratorEstimator(last)
            ? " A calibrator after the trainer is not taken: use a trainer that calibrates itself (FastTree, LightGBM, SDCA logistic regression, …) or calibrate the distilled student afterwards."
            : "";
        throw new ArgumentException(
            $"The student must be an ML.NET estimator (or chain) ending in a binary, multiclass or regression trainer; its last estimator is {last?.GetType().Name ?? "null"}.{calibrator}", paramName);
    }
}
