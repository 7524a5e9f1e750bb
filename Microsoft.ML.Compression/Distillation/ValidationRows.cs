using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// One candidate student's predictions on the validation rows, row by row, with the true labels: what the task metric
/// is computed from, kept so that the noise of a comparison between two candidates can be measured on the same rows
/// (<see cref="PairedBootstrap"/>). Binary: the score and the label as 0/1; multiclass: whether the predicted class is
/// the label (1/0); regression: the prediction and the label.
/// </summary>
internal sealed class ValidationRows
{
    private ValidationRows(ModelTask task, double[] predictions, double[] labels) => (Task, Predictions, Labels) = (task, predictions, labels);

    public ModelTask Task { get; }

    /// <summary>Binary: the score; multiclass: 1 where the predicted class is right, else 0; regression: the prediction.</summary>
    public double[] Predictions { get; }

    /// <summary>Binary: 1 for the positive class, else 0; regression: the label; multiclass: unused (zeros).</summary>
    public double[] Labels { get; }

    public int Count => Predictions.Length;

    /// <summary>
    /// The rows of <paramref name="scored"/> (a candidate's output on the validation rows), or null where its columns are
    /// not those the task's evaluator reads (then the comparison falls back to the metric alone). Rows with a missing
    /// label or score are left out, as ML.NET's evaluators leave them out.
    /// </summary>
    public static ValidationRows? Read(IDataView scored, ModelTask task, string labelColumn)
    {
        var label = scored.Schema.GetColumnOrNull(labelColumn);
        if (label == null) return null;
        var predictions = new List<double>();
        var labels = new List<double>();
        // Binary and regression: a Single score against the label, read as a number (a Boolean as 1/0).
        void ReadScores<TLabel>(DataViewSchema.Column score, Func<TLabel, double> asNumber)
        {
            using var cursor = scored.GetRowCursor(new[] { label.Value, score });
            var getLabel = cursor.GetGetter<TLabel>(label.Value);
            var getScore = cursor.GetGetter<float>(score);
            TLabel y = default!; float s = 0;
            while (cursor.MoveNext())
            {
                getLabel(ref y); getScore(ref s);
                double value = asNumber(y);
                if (float.IsNaN(s) || double.IsNaN(value)) continue;
                predictions.Add(s); labels.Add(value);
            }
        }
        var scoreColumn = scored.Schema.GetColumnOrNull("Score") is { } c && c.Type == NumberDataViewType.Single ? c : (DataViewSchema.Column?)null;
        switch (task)
        {
            case ModelTask.BinaryClassification when label.Value.Type is BooleanDataViewType && scoreColumn is { } score:
                ReadScores<bool>(score, y => y ? 1 : 0);
                break;
            case ModelTask.Regression when label.Value.Type == NumberDataViewType.Single && scoreColumn is { } score:
                ReadScores<float>(score, y => y);
                break;
            case ModelTask.MulticlassClassification when label.Value.Type is KeyDataViewType && scored.Schema.GetColumnOrNull("PredictedLabel") is { Type: KeyDataViewType } predicted:
                using (var cursor = scored.GetRowCursor(new[] { label.Value, predicted }))
                {
                    var getLabel = cursor.GetGetter<uint>(label.Value);
                    var getPredicted = cursor.GetGetter<uint>(predicted);
                    uint y = 0, p = 0;
                    while (cursor.MoveNext())
                    {
                        getLabel(ref y); getPredicted(ref p);
                        if (y == 0) continue; // a missing key
                        predictions.Add(p == y ? 1 : 0); labels.Add(0);
                    }
                }
                break;
            default:
                return null;
        }
        return predictions.Count == 0 ? null : new ValidationRows(task, predictions.ToArray(), labels.ToArray());
    }
}
