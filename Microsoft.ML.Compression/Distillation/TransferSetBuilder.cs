using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// Scores the training data with the teacher once and plans the student's rows (<see cref="TransferSet"/>): one
/// plan of class rows for a classification student, or one regression target per row.
/// </summary>
internal static class TransferSetBuilder
{
    private const float MinClassWeight = 1e-4f; // classes the teacher all but rules out add rows, not information

    /// <summary>What scoring found besides the targets: the rows the targets belong to, and the student's label values.</summary>
    internal sealed record Scored(IDataView Source, int SourceRows, string RowsText, object[] ClassValues, DataViewType LabelType)
    {
        /// <summary>Set when the data's multiclass label is already a key: <see cref="ClassValues"/> are then its keys, in its order.</summary>
        public KeyedLabel? Keyed { get; init; }
    }

    /// <summary>The transfer set of a student of the teacher's own task (classification rows, or regression targets).</summary>
    /// <param name="ml">The context the teacher runs in.</param>
    /// <param name="teacher">The teacher's transformers, applied in order.</param>
    /// <param name="data">The transfer rows (training data, then any unlabeled rows).</param>
    /// <param name="student">The student's trainer: its task and weight column decide how rows are expanded.</param>
    /// <param name="o">Temperature, Alpha, hard labels, augmentation.</param>
    /// <param name="summary">What the transfer set holds, for the report.</param>
    /// <param name="teacherClasses">A network teacher's class values and their type; null reads them from the teacher's output.</param>
    /// <param name="labelledRows">Rows of <paramref name="data"/> that hold true labels (the rest were appended from
    /// <see cref="DistillationOptions.UnlabeledData"/>); all of them when null.</param>
    public static IDataView Build(MLContext ml, IReadOnlyList<ITransformer> teacher, IDataView data, StudentTrainer student, DistillationOptions o, out string summary,
        (object[] values, DataViewType type)? teacherClasses = null, long? labelledRows = null)
    {
        var rowStart = new List<int> { 0 };
        var entryClass = new List<int>();
        var entryValue = new List<float>();
        // Hard labels need one row each (unless Alpha blends in a second, true label).
        int copies = student.WeightColumn != null ? 0 : o.HardLabels && o.Alpha >= 1 ? 1 : o.SoftTargetResolution;

        void AddClassRows(double[]? target)
        {
            if (target == null) { } // the teacher could not score the row: it teaches nothing
            else if (copies == 0)
            {
                for (int c = 0; c < target.Length; c++)
                    if (target[c] >= MinClassWeight) { entryClass.Add(c); entryValue.Add((float)target[c]); }
            }
            else
            {
                // Largest remainder: `copies` rows whose label counts follow the targets as closely as possible.
                var counts = target.Select(t => (int)Math.Floor(t * copies)).ToArray();
                int left = copies - counts.Sum();
                foreach (var c in Enumerable.Range(0, target.Length).OrderByDescending(c => target[c] * copies - counts[c]).Take(left)) counts[c]++;
                for (int c = 0; c < counts.Length; c++)
                    for (int k = 0; k < counts[c]; k++) { entryClass.Add(c); entryValue.Add(1f); }
            }
            rowStart.Add(entryClass.Count);
        }

        void AddRegressionRow(float target)
        {
            if (!float.IsNaN(target)) // NaN: the teacher could not score the row
            {
                entryClass.Add(0);
                entryValue.Add(target);
            }
            rowStart.Add(entryClass.Count);
        }

        Scored scored;
        try { scored = Score(ml, teacher, data, student.Task, o, student.WeightColumn, teacherClasses, AddClassRows, AddRegressionRow, labelledRows); }
        catch (Exception e) when (ScoringErrors.IsRefusedRows(e)) { throw ScoringErrors.CannotScore("The teacher", e); }
        bool regression = student.Task == ModelTask.Regression;
        string targets = o.HardLabels ? "the teacher's predicted labels" : "labels in proportion to the soft targets";
        summary = regression
            ? scored.RowsText
            : copies == 0
                ? $"{scored.RowsText} expanded to {entryClass.Count} weighted rows (one per likely class, weight column '{student.WeightColumn}')"
                : copies == 1
                    ? $"{scored.RowsText}, one row each with the teacher's predicted label"
                    : $"{scored.RowsText} expanded to {entryClass.Count} rows ({copies} copies each, {targets}){CopiesHint(student)}";
        return new TransferSet(scored.Source, o.LabelColumnName, scored.LabelType, scored.ClassValues, regression,
            regression ? null : student.WeightColumn, rowStart.ToArray(), entryClass.ToArray(), entryValue.ToArray(), scored.Keyed?.Annotations);
    }

    /// <summary>What to add for exact soft targets, after a student was taught through copies.</summary>
    internal static string CopiesHint(StudentTrainer student) => student.Task == ModelTask.Regression ? "" : student.HidesColumns
        ? student.Task == ModelTask.MulticlassClassification
            ? "; for exact soft targets create its binary trainer with exampleWeightColumnName: \"Weight\" and set DistillationOptions.StudentWeightColumnName = \"Weight\""
            : ""
        : "; for exact soft targets create the student's trainer with exampleWeightColumnName: \"Weight\"";

    /// <summary>
    /// Scores the transfer rows (the data, followed row by row by its MUNGE rows when augmenting) and hands each
    /// row's target to <paramref name="addClassTarget"/> (classification: one probability per class, after
    /// temperature, hard labels and Alpha) or <paramref name="addRegressionTarget"/>. A row the teacher scores
    /// NaN (a linear teacher given a missing feature value) or infinite (regression) teaches nothing: it gets a null
    /// class target or a NaN regression target, and is counted in the summary.
    /// </summary>
    internal static Scored Score(MLContext ml, IReadOnlyList<ITransformer> teacher, IDataView data, ModelTask task, DistillationOptions o, string? weightColumn,
        (object[] values, DataViewType type)? teacherClasses, Action<double[]?> addClassTarget, Action<float> addRegressionTarget, long? labelledRows = null)
    {
        var rawLabel = data.Schema.GetColumnOrNull(o.LabelColumnName);
        if (o.Alpha < 1 && rawLabel == null)
            throw new DataMismatchException($"Alpha {o.Alpha} blends in the true labels, but the data has no '{o.LabelColumnName}' column. Use Alpha = 1 for unlabeled data.", o.LabelColumnName);
        int factor = o.Augmentation.Factor;
        MungeDataView? munge = factor > 0
            ? new MungeDataView(data, factor, o.Augmentation.SwapProbability, o.Augmentation.LocalVariance, o.Augmentation.Seed, o.Augmentation.SampleSize,
                new[] { o.LabelColumnName, weightColumn }.OfType<string>().ToHashSet())
            : null;
        if (munge != null) data = munge; // synthetic rows follow each original row; the teacher labels them
        var scored = LabelFree.Transform(teacher, data, o.LabelColumnName);
        var score = scored.Schema.GetColumnOrNull("Score")
            ?? throw new UnsupportedModelException("The teacher's output has no 'Score' column; distillation needs the teacher's scores.");
        var probability = scored.Schema.GetColumnOrNull("Probability");
        var predicted = scored.Schema.GetColumnOrNull("PredictedLabel");
        var teacherLabel = scored.Schema.GetColumnOrNull(o.LabelColumnName);
        bool blend = o.Alpha < 1;
        CheckScore(task, score);

        object[] classValues;
        DataViewType labelType;
        KeyedLabel? keyed = null;
        int rows = 0, unscored = 0;
        // Synthetic rows, and the rows appended from UnlabeledData, have no true label: they learn the teacher alone whatever Alpha is.
        long labelled = labelledRows ?? long.MaxValue;
        bool TeacherOnly(long row) => (factor > 0 && row % (factor + 1) != 0) || row / (factor + 1) >= labelled;

        var columns = new List<DataViewSchema.Column> { score };
        if (probability != null) columns.Add(probability.Value);
        if (teacherLabel != null && blend) columns.Add(teacherLabel.Value);
        bool binaryPredicted = o.HardLabels && predicted is { Type: BooleanDataViewType };
        if (binaryPredicted) columns.Add(predicted!.Value);

        switch (task)
        {
            case ModelTask.Regression:
            {
                if (rawLabel != null && rawLabel.Value.Type != NumberDataViewType.Single)
                    throw new DataMismatchException($"A regression label must be Single; '{o.LabelColumnName}' is {rawLabel.Value.Type}.", o.LabelColumnName);
                using var cursor = scored.GetRowCursor(columns);
                var getScore = cursor.GetGetter<float>(score);
                var getLabel = blend ? cursor.GetGetter<float>(teacherLabel!.Value) : null;
                float s = 0, y = 0;
                long row = -1;
                while (cursor.MoveNext())
                {
                    getScore(ref s);
                    getLabel?.Invoke(ref y);
                    double alpha = TeacherOnly(++row) ? 1 : o.Alpha;
                    if (!float.IsFinite(s)) { addRegressionTarget(float.NaN); unscored++; }
                    else addRegressionTarget((float)(alpha * s + (1 - alpha) * y));
                    rows++;
                }
                classValues = Array.Empty<object>();
                labelType = NumberDataViewType.Single;
                break;
            }
            case ModelTask.BinaryClassification:
            {
                using var cursor = scored.GetRowCursor(columns);
                var getScore = cursor.GetGetter<float>(score);
                var getProb = probability != null ? cursor.GetGetter<float>(probability.Value) : null;
                var getPredicted = binaryPredicted ? cursor.GetGetter<bool>(predicted!.Value) : null;
                ValueGetter<bool>? getLabel = blend ? GetBool(cursor, teacherLabel!.Value) : null;
                float s = 0, p = 0;
                bool y = false, hard = false;
                long row = -1;
                while (cursor.MoveNext())
                {
                    bool teacherOnly = TeacherOnly(++row);
                    getScore(ref s);
                    double logit;
                    if (getProb != null)
                    {
                        getProb(ref p);
                        double clipped = Math.Clamp(p, 1e-7, 1 - 1e-7);
                        logit = Math.Log(clipped / (1 - clipped));
                    }
                    else logit = s; // an uncalibrated margin (e.g. FastForest) is read as a logit
                    double pt;
                    if (o.HardLabels)
                    {
                        // The teacher's own decision: its PredictedLabel column (ML.NET thresholds the score, not the probability).
                        if (getPredicted != null) getPredicted(ref hard); else hard = s > 0;
                        pt = hard ? 1 : 0;
                    }
                    else pt = 1 / (1 + Math.Exp(-logit / o.Temperature));
                    if (getLabel != null) { getLabel(ref y); if (!teacherOnly) pt = o.Alpha * pt + (1 - o.Alpha) * (y ? 1 : 0); }
                    if (float.IsNaN(s) || (getProb != null && float.IsNaN(p))) { addClassTarget(null); unscored++; }
                    else addClassTarget(new[] { 1 - pt, pt });
                    rows++;
                }
                if (rows == 0) throw Empty();
                (classValues, labelType) = teacherClasses ?? BinaryLabelValues(data, scored, rawLabel, o.LabelColumnName);
                break;
            }
            default:
            {
                var keyValues = teacherClasses ?? KeyValuesOf(scored, o.LabelColumnName) ?? KeyValuesOf(scored, "PredictedLabel")
                    ?? throw new UnsupportedModelException("The multiclass teacher exposes no label key values (train it on a label mapped with MapValueToKey).");
                classValues = keyValues.values;
                labelType = keyValues.type;
                keyed = KeyedLabel.Of(rawLabel, classValues, labelType);
                if (keyed == null && rawLabel != null && !rawLabel.Value.Type.Equals(labelType))
                    throw new DataMismatchException($"The teacher's classes are {labelType} values but '{o.LabelColumnName}' in the data is {rawLabel.Value.Type}.", o.LabelColumnName);
                // A keyed label is blended in the data's numbering, so it must reach the teacher's output unchanged.
                if (blend && keyed != null && !teacherLabel!.Value.Type.Equals(keyed.Type))
                    throw new DataMismatchException($"'{o.LabelColumnName}' is {keyed.Type} in the data but {teacherLabel.Value.Type} after the teacher: Alpha < 1 needs the teacher to leave the label as it is.", o.LabelColumnName);
                using var cursor = scored.GetRowCursor(columns);
                var getScore = cursor.GetGetter<VBuffer<float>>(score);
                var getLabel = blend ? cursor.GetGetter<uint>(teacherLabel!.Value) : null;
                VBuffer<float> v = default;
                uint key = 0;
                long row = -1;
                while (cursor.MoveNext())
                {
                    bool teacherOnly = TeacherOnly(++row);
                    getScore(ref v);
                    if (HasNaN(v)) { addClassTarget(null); unscored++; rows++; continue; }
                    var probs = o.HardLabels ? OneHot(v) : Soften(v, o.Temperature);
                    if (probs.Length != keyValues.values.Length)
                        throw new UnsupportedModelException($"The teacher's Score has {probs.Length} classes but it names {keyValues.values.Length} class values.");
                    if (keyed != null) probs = keyed.ToDataOrder(probs);
                    if (getLabel != null)
                    {
                        getLabel(ref key);
                        if (!teacherOnly)
                            for (int c = 0; c < probs.Length; c++) probs[c] = o.Alpha * probs[c] + (1 - o.Alpha) * (key == c + 1 ? 1 : 0);
                    }
                    addClassTarget(probs);
                    rows++;
                }
                if (keyed != null) (classValues, labelType) = (keyed.Keys, keyed.Type);
                break;
            }
        }
        if (rows == 0) throw Empty();
        if (unscored == rows)
            throw new DataMismatchException($"The teacher scored every one of the {rows} rows NaN, so there is nothing to learn from. A linear teacher gives NaN for a row with a missing " +
                "feature value: replace missing values (ml.Transforms.ReplaceMissingValues) in the teacher's pipeline, or filter those rows (ml.Data.FilterRowsByMissingValues).", o.LabelColumnName);
        string rowsText = munge == null ? $"{rows} rows" : $"{rows} rows ({rows / (factor + 1)} original + {munge.Describe()})";
        if (labelledRows is long n && n < rows / (factor + 1))
            rowsText += $" ({n} training rows + {rows / (factor + 1) - n} from UnlabeledData{(munge == null ? "" : ", before augmentation")})";
        if (unscored > 0)
            rowsText += $" ({unscored} left out: the teacher scored them {(task == ModelTask.Regression ? "NaN or infinite" : "NaN")}, missing feature values?)";
        return new Scored(data, rows, rowsText, classValues, labelType) { Keyed = keyed };
    }

    private static DataMismatchException Empty() => new("The transfer set is empty: the data view gave the teacher no rows.");

    /// <summary>Whether a score vector holds NaN (implicit zeros of a sparse vector are not NaN).</summary>
    private static bool HasNaN(VBuffer<float> scores)
    {
        foreach (var x in scores.GetValues()) if (float.IsNaN(x)) return true;
        return false;
    }

    /// <summary>The teacher's class scores raised to 1/T and renormalized (softmax of logit / T for probability outputs).</summary>
    private static double[] Soften(VBuffer<float> scores, double temperature)
    {
        var probs = scores.DenseValues().Select(x => Math.Pow(Math.Max(x, 0), 1 / temperature)).ToArray();
        double sum = probs.Sum();
        for (int c = 0; c < probs.Length; c++) probs[c] = sum > 0 ? probs[c] / sum : 1.0 / probs.Length;
        return probs;
    }

    /// <summary>The teacher's predicted class (the first highest score, as ML.NET's PredictedLabel) as a one-hot target.</summary>
    private static double[] OneHot(VBuffer<float> scores)
    {
        var values = scores.DenseValues().ToArray();
        var target = new double[values.Length];
        int best = 0;
        for (int c = 1; c < values.Length; c++) if (values[c] > values[best]) best = c;
        if (values.Length > 0) target[best] = 1;
        return target;
    }

    /// <summary>A teacher whose Score does not have the shape of the student's task is rejected before anything is read.</summary>
    internal static void CheckScore(ModelTask task, DataViewSchema.Column score)
    {
        bool fits = task == ModelTask.MulticlassClassification
            ? score.Type is VectorDataViewType { ItemType: var item, Size: > 1 } && item == NumberDataViewType.Single
            : score.Type == NumberDataViewType.Single;
        if (!fits)
            throw new UnsupportedModelException($"The teacher's Score column is {score.Type}, which does not fit a {task} student " +
                (task == ModelTask.MulticlassClassification ? "(it needs one Single score per class)." : "(it needs one Single score per row)."));
    }

    private static ValueGetter<bool> GetBool(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        if (column.Type is not BooleanDataViewType)
            throw new DataMismatchException($"The teacher's '{column.Name}' column is {column.Type}; a binary teacher's label must be Boolean.", column.Name);
        return cursor.GetGetter<bool>(column);
    }

    /// <summary>
    /// The student gets labels in the data's own type. A Boolean label maps directly; any other type (say "Yes"/"No")
    /// is mapped through the values the teacher's pipeline turned into true and false.
    /// </summary>
    private static (object[], DataViewType) BinaryLabelValues(IDataView data, IDataView scored, DataViewSchema.Column? rawLabel, string labelName)
    {
        if (rawLabel == null || rawLabel.Value.Type is BooleanDataViewType)
            return (new object[] { false, true }, BooleanDataViewType.Instance);
        var converted = scored.Schema.GetColumnOrNull(labelName);
        if (converted == null || converted.Value.Type is not BooleanDataViewType)
            throw new DataMismatchException($"'{labelName}' is {rawLabel.Value.Type} and the teacher does not turn it into a Boolean label, so soft targets cannot be written in it.", labelName);
        var method = typeof(TransferSetBuilder).GetMethod(nameof(MapBinary), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(rawLabel.Value.Type.RawType);
        return ((object[])method.Invoke(null, new object[] { data, scored, rawLabel.Value, converted.Value })!, rawLabel.Value.Type);
    }

    private static object[] MapBinary<T>(IDataView data, IDataView scored, DataViewSchema.Column raw, DataViewSchema.Column converted)
    {
        using var rawCursor = data.GetRowCursor(new[] { raw });
        using var convCursor = scored.GetRowCursor(new[] { converted });
        var getRaw = rawCursor.GetGetter<T>(raw);
        var getConv = convCursor.GetGetter<bool>(converted);
        object? whenFalse = null, whenTrue = null;
        T value = default!;
        bool b = false;
        while ((whenFalse == null || whenTrue == null) && rawCursor.MoveNext() && convCursor.MoveNext())
        {
            getRaw(ref value);
            getConv(ref b);
            if (b) whenTrue ??= value; else whenFalse ??= value;
        }
        if (whenFalse == null || whenTrue == null)
            throw new DataMismatchException($"The data's '{raw.Name}' column holds only one class, so a binary student cannot be distilled on it.", raw.Name);
        return new[] { whenFalse, whenTrue };
    }

    private static (object[] values, DataViewType type)? KeyValuesOf(IDataView scored, string column)
        => scored.Schema.GetColumnOrNull(column) is { } col ? KeyedLabel.KeyValuesOf(col) : null;
}
