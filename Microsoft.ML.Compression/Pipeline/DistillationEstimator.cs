using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Distillation;
using Microsoft.ML.Data;
using Microsoft.ML.Compression.Reporting;

namespace Microsoft.ML.Compression;

/// <summary>
/// Estimator of the distillation stage: the teacher scores the training data and the student (any ML.NET
/// estimator chain ending in a trainer) learns the teacher's soft targets, optionally blended with the true
/// labels. The student stays a native ML.NET model (except with <see cref="MulticlassTargets.PerClassRegression"/> and
/// <see cref="BinaryTargets.LogitRegression"/>, whose regressors become one ONNX graph). Create it with
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
        _trainer = StudentTrainer.Of(student, nameof(student), options.LabelColumnName);
        if (options.HardLabels && _trainer.Task == ModelTask.Regression)
            throw new ArgumentException("HardLabels applies to classification students; a regression student learns the teacher's score.", nameof(options));
        // With a regression student, the student given here is the labels-only baseline and must be of the teacher's task.
        var (mode, needed) = options.MulticlassTargets == MulticlassTargets.PerClassRegression ? ("MulticlassTargets PerClassRegression", ModelTask.MulticlassClassification)
            : options.BinaryTargets == BinaryTargets.LogitRegression ? ("BinaryTargets LogitRegression", ModelTask.BinaryClassification) : ("", _trainer.Task);
        if (_trainer.Task != needed)
            throw new ArgumentException($"{mode} distills a {(needed == ModelTask.BinaryClassification ? "binary" : "multiclass")} teacher, but the student's trainer is {_trainer.Task}: " +
                $"give the {(needed == ModelTask.BinaryClassification ? "binary" : "multiclass")} student (it is trained on the labels alone as the baseline) and the regression trainer in DistillationOptions.RegressionStudent.", nameof(student));
        _options = options.Clone(); // later changes to the caller's options do not change this stage
    }

    private bool PerClass => _options.MulticlassTargets == MulticlassTargets.PerClassRegression;

    /// <summary>The task the student predicts.</summary>
    private ModelTask StudentTask => _trainer.Task;

    /// <inheritdoc/>
    public override string StageName => "Distill";

    internal SchemaShape? StudentOutputSchema(SchemaShape input)
    {
        try { return _student.GetOutputSchema(input); }
        catch (ArgumentException) { return null; } // the raw label type differs from what the student sees
    }

    internal override ModelState PrepareSource(ModelState state, IDataView data) => state switch
    {
        NetworkState network => NetworkTeacherState.Create(Ml, network, StudentTask, _options.NetworkTeacher, data, _options.LabelColumnName, _options.Alpha),
        ScoringTeacherState scoring => ScoringTeacher(scoring, data),
        _ => state,
    };

    /// <summary>A teacher read only through its Score column: it must write one that fits the student's task.</summary>
    private NativeState ScoringTeacher(ScoringTeacherState scoring, IDataView data)
    {
        DataViewSchema output;
        try { output = LabelFree.OutputSchema(scoring.Model, data.Schema, _options.LabelColumnName); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new DataMismatchException($"The teacher cannot read this data ({e.Message}). Give data with the columns the teacher was trained on.", _options.LabelColumnName);
        }
        var score = output.GetColumnOrNull("Score")
            ?? throw new UnsupportedModelException("The teacher has neither an ML.NET predictor nor an ONNX network, and writes no 'Score' column: distillation reads a teacher's scores from it.");
        TransferSetBuilder.CheckScore(StudentTask, score);
        return NativeState.Of(scoring.Model, StudentTask, "teacher");
    }

    /// <summary>The teacher's task against the student's, and the label column, before the teacher scores anything.</summary>
    internal override void CheckBeforeFit(ModelState state)
    {
        if (state is NetworkState) return; // read as a predictor of the student's task when this stage runs
        if (state.Task != StudentTask)
            throw new ArgumentException($"The teacher is a {state.Task} model but the student's trainer is {_trainer.Task}: give a student of the teacher's task" +
                (state.Task == ModelTask.MulticlassClassification && _trainer.Task == ModelTask.Regression
                    ? " (regressors per class: give a multiclass student and the regression trainer as DistillationOptions.RegressionStudent, with MulticlassTargets = PerClassRegression)."
                    : "."), "student");
        if (_trainer.LabelColumn != _options.LabelColumnName)
            throw new ArgumentException($"The student's trainer reads its label from '{_trainer.LabelColumn}', but DistillationOptions.LabelColumnName is '{_options.LabelColumnName}'. Make them the same.", "student");
    }

    internal override ModelState Apply(ModelState input, IDataView data, out string description)
    {
        input = PrepareSource(input, data);
        CheckBeforeFit(input);
        using var teacher = new TransformerChain<ITransformer>(input.BuildTransformers(Ml, data).ToArray());
        var classes = input is NetworkTeacherState network ? (network.ClassValues, network.ClassType) : ((object[], DataViewType)?)null;
        var (transferData, labelledRows) = WithUnlabeledRows(data);
        if (_options.UsesRegressionStudent)
        {
            // One regressor per class, or one on the binary logit: exported and merged into an ONNX graph of the teacher's task.
            Ml.LogInfo(PerClass ? "Compression: distilling into one regression student per class." : "Compression: distilling into a regression student on the teacher's logit.");
            var regressed = PerClass
                ? PerClassStudent.Train(Ml, teacher.ToList(), transferData, _options, classes, out var regressionSummary, labelledRows)
                : LogitRegressionStudent.Train(Ml, teacher.ToList(), transferData, _options, classes, out regressionSummary, labelledRows);
            var regressionBaseline = TrainBaseline(data, out var regressionNote);
            description = $"{Targets()}: {regressionSummary}{regressionNote}.";
            return new PredictorState(regressed.Parts, regressed.Predictor) { Distillation = new DistillationInfo(input, regressionBaseline, _options.LabelColumnName) };
        }
        var transfer = TransferSetBuilder.Build(Ml, teacher.ToList(), transferData, _trainer, _options, out var summary, classes, labelledRows);
        Ml.LogInfo($"Compression: distilling into the student on {summary}.");
        ITransformer student;
        try { student = _student.Fit(_trainer.Feed(Ml, transfer)); }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException && e is not CompressionException)
        {
            // ML.NET estimators check their input schema before they train: a label type the student does not take lands here.
            var labelType = transfer.Schema[_options.LabelColumnName].Type;
            throw new CompressionException($"The student could not be trained on the transfer set ({e.Message}). It receives the training data's columns with '{_trainer.LabelColumn}' holding the teacher's targets as {labelType}" +
                (data.Schema.GetColumnOrNull(_options.LabelColumnName) == null
                    ? "; the data has no label column, so a binary student gets a Boolean label and a multiclass student the teacher's class values: start the student's pipeline from a label of that type."
                    : "."), e);
        }
        var baseline = TrainBaseline(data, out var baselineNote);
        description = $"{Targets()}: {summary}{baselineNote}.";
        return NativeState.Of(student, StudentTask, "student", new DistillationInfo(input, baseline, _options.LabelColumnName));
    }

    /// <summary>The training data, followed by <see cref="DistillationOptions.UnlabeledData"/> when given, and how many rows hold true labels.</summary>
    private (IDataView Data, long? LabelledRows) WithUnlabeledRows(IDataView data)
    {
        if (_options.UnlabeledData is not { } unlabeled) return (data, null);
        if (!FeatureSample.HasRows(unlabeled))
            throw new DataMismatchException("DistillationOptions.UnlabeledData has no rows. Give it the unlabeled rows, or leave it null.");
        var appended = AppendedRowsView.Create(data, unlabeled, _options.LabelColumnName, _trainer.WeightColumn);
        return (appended, FeatureSample.RowCount(data));
    }

    private string Targets() => _options.HardLabels
        ? $"student trained on the teacher's predicted labels (hard labels, alpha {_options.Alpha:G3})"
        : _options.BinaryTargets == BinaryTargets.LogitRegression
            ? $"regression student trained on the teacher's logit (alpha {_options.Alpha:G3}, temperature {_options.Temperature:G3})"
            : $"student trained on the teacher's soft targets (alpha {_options.Alpha:G3}, temperature {_options.Temperature:G3})";

    /// <summary>The same student estimator trained on the true labels alone, or null (option off, no labels, or it failed).</summary>
    private ITransformer? TrainBaseline(IDataView data, out string note)
    {
        note = "";
        if (!_options.TrainLabelOnlyBaseline) return null;
        if (data.Schema.GetColumnOrNull(_options.LabelColumnName) == null)
        {
            note = "; no labels-only baseline (the data has no label column)";
            return null;
        }
        var labeled = _trainer.WeightColumn != null && data.Schema.GetColumnOrNull(_trainer.WeightColumn) == null
            ? new UnitWeightView(data, _trainer.WeightColumn)
            : data;
        try
        {
            Ml.LogInfo("Compression: training the labels-only baseline student.");
            var model = _student.Fit(labeled);
            note = "; baseline: the same student trained on the labels alone";
            return model;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            note = $"; the labels-only baseline could not be trained ({e.Message})";
            return null;
        }
    }
}
