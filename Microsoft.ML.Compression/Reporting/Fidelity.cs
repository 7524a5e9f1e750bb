using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Reporting;

/// <summary>How closely a student follows its teacher on one data set.</summary>
internal sealed record FidelityResult(double? Agreement, double? ScoreMse, double? KlDivergence);

/// <summary>
/// Compares teacher and student predictions row by row, streaming both scored views side by side. Labels are
/// compared by value (teacher and student number their keys independently); multiclass score distributions are
/// aligned by class value.
/// </summary>
internal static class Fidelity
{
    private const double Epsilon = 1e-7;

    public static FidelityResult Measure(ModelTask task, IDataView teacher, IDataView student)
    {
        return task switch
        {
            ModelTask.Regression => Regression(teacher, student),
            ModelTask.BinaryClassification => Binary(teacher, student),
            ModelTask.MulticlassClassification => Multiclass(teacher, student),
            _ => new FidelityResult(null, null, null),
        };
    }

    private static FidelityResult Regression(IDataView teacher, IDataView student)
    {
        var ts = teacher.Schema["Score"];
        var ss = student.Schema["Score"];
        using var tc = teacher.GetRowCursor(new[] { ts });
        using var sc = student.GetRowCursor(new[] { ss });
        var gt = tc.GetGetter<float>(ts);
        var gs = sc.GetGetter<float>(ss);
        float a = 0, b = 0;
        double sum = 0;
        long n = 0;
        while (tc.MoveNext() && sc.MoveNext())
        {
            gt(ref a);
            gs(ref b);
            if (float.IsNaN(a) || float.IsNaN(b)) continue;
            sum += (a - b) * (double)(a - b);
            n++;
        }
        return new FidelityResult(null, n > 0 ? sum / n : null, null);
    }

    private static FidelityResult Binary(IDataView teacher, IDataView student)
    {
        var (tCols, tProb, tLabel) = BinaryColumns(teacher);
        var (sCols, sProb, sLabel) = BinaryColumns(student);
        using var tc = teacher.GetRowCursor(tCols);
        using var sc = student.GetRowCursor(sCols);
        var pt = tProb(tc);
        var ps = sProb(sc);
        var lt = tLabel == null ? null : LabelReader(tc, tLabel.Value);
        var ls = sLabel == null ? null : LabelReader(sc, sLabel.Value);
        double sum = 0;
        long n = 0, same = 0, rows = 0;
        while (tc.MoveNext() && sc.MoveNext())
        {
            rows++;
            double a = pt(), b = ps();
            if (!double.IsNaN(a) && !double.IsNaN(b)) { sum += (a - b) * (a - b); n++; }
            if (lt != null && ls != null && lt() == ls()) same++;
        }
        return new FidelityResult(lt != null && ls != null && rows > 0 ? (double)same / rows : null, n > 0 ? sum / n : null, null);
    }

    private static (List<DataViewSchema.Column>, Func<DataViewRowCursor, Func<double>>, DataViewSchema.Column?) BinaryColumns(IDataView scored)
    {
        var cols = new List<DataViewSchema.Column>();
        var label = scored.Schema.GetColumnOrNull("PredictedLabel");
        if (label != null) cols.Add(label.Value);
        var prob = scored.Schema.GetColumnOrNull("Probability");
        if (prob != null && prob.Value.Type == NumberDataViewType.Single)
        {
            cols.Add(prob.Value);
            return (cols, c => { var g = c.GetGetter<float>(prob.Value); float v = 0; return () => { g(ref v); return v; }; }, label);
        }
        var score = scored.Schema["Score"];
        cols.Add(score);
        return (cols, c => { var g = c.GetGetter<float>(score); float v = 0; return () => { g(ref v); return 1 / (1 + Math.Exp(-v)); }; }, label);
    }

    private static FidelityResult Multiclass(IDataView teacher, IDataView student)
    {
        var tLabel = teacher.Schema.GetColumnOrNull("PredictedLabel");
        var sLabel = student.Schema.GetColumnOrNull("PredictedLabel");
        var ts = teacher.Schema["Score"];
        var ss = student.Schema["Score"];
        var tNames = ClassNames(teacher);
        var sNames = ClassNames(student);
        // teacher class c → student class map[c] (-1: the student does not know it)
        int[]? map = null;
        if (tNames != null && sNames != null)
        {
            var index = new Dictionary<string, int>();
            for (int i = 0; i < sNames.Length; i++) index.TryAdd(sNames[i], i);
            map = tNames.Select(n => index.TryGetValue(n, out var i) ? i : -1).ToArray();
        }
        var tCols = new List<DataViewSchema.Column> { ts };
        var sCols = new List<DataViewSchema.Column> { ss };
        if (tLabel != null) tCols.Add(tLabel.Value);
        if (sLabel != null) sCols.Add(sLabel.Value);
        using var tc = teacher.GetRowCursor(tCols);
        using var sc = student.GetRowCursor(sCols);
        var gt = tc.GetGetter<VBuffer<float>>(ts);
        var gs = sc.GetGetter<VBuffer<float>>(ss);
        var lt = tLabel == null ? null : LabelReader(tc, tLabel.Value);
        var ls = sLabel == null ? null : LabelReader(sc, sLabel.Value);
        VBuffer<float> a = default, b = default;
        double kl = 0;
        long rows = 0, same = 0;
        while (tc.MoveNext() && sc.MoveNext())
        {
            rows++;
            if (lt != null && ls != null && lt() == ls()) same++;
            if (map == null) continue;
            gt(ref a);
            gs(ref b);
            var p = Normalize(a);
            var q = Normalize(b);
            double sum = 0;
            for (int c = 0; c < p.Length && c < map.Length; c++)
            {
                if (p[c] <= 0) continue;
                double qc = map[c] >= 0 && map[c] < q.Length ? q[map[c]] : 0;
                sum += p[c] * Math.Log(p[c] / Math.Max(qc, Epsilon));
            }
            kl += sum;
        }
        return new FidelityResult(lt != null && ls != null && rows > 0 ? (double)same / rows : null, null, map != null && rows > 0 ? kl / rows : null);
    }

    private static double[] Normalize(VBuffer<float> v)
    {
        var p = v.DenseValues().Select(x => float.IsNaN(x) ? 0.0 : Math.Max(x, 0.0)).ToArray();
        double sum = p.Sum();
        for (int i = 0; i < p.Length; i++) p[i] = sum > 0 ? p[i] / sum : 1.0 / p.Length;
        return p;
    }

    /// <summary>The class value of each Score slot: the predicted label's key values, else the Score's slot names.</summary>
    private static string[]? ClassNames(IDataView scored)
    {
        var label = scored.Schema.GetColumnOrNull("PredictedLabel");
        var score = scored.Schema["Score"];
        if (label != null && label.Value.Type is KeyDataViewType && KeyNames(label.Value) is { } names) return names;
        if (score.Annotations.Schema.GetColumnOrNull("SlotNames") != null)
        {
            VBuffer<ReadOnlyMemory<char>> slots = default;
            score.GetSlotNames(ref slots);
            if (slots.Length > 0) return slots.DenseValues().Select(s => s.ToString()).ToArray();
        }
        return null;
    }

    private static string[]? KeyNames(DataViewSchema.Column column)
    {
        var kv = column.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (kv == null || kv.Value.Type is not VectorDataViewType vt) return null;
        var method = typeof(Fidelity).GetMethod(nameof(ReadKeyNames), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(vt.ItemType.RawType);
        return (string[])method.Invoke(null, new object[] { column })!;
    }

    private static string[] ReadKeyNames<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(v => v?.ToString() ?? "").ToArray();
    }

    /// <summary>The predicted label as a string value: key values looked up, anything else written out.</summary>
    internal static Func<string> LabelReader(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        if (column.Type is KeyDataViewType)
        {
            var names = KeyNames(column);
            var g = cursor.GetGetter<uint>(column);
            uint k = 0;
            return () =>
            {
                g(ref k);
                return k == 0 ? "" : names != null && k <= names.Length ? names[k - 1] : k.ToString();
            };
        }
        var method = typeof(Fidelity).GetMethod(nameof(ValueReader), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(column.Type.RawType);
        return (Func<string>)method.Invoke(null, new object[] { cursor, column })!;
    }

    private static Func<string> ValueReader<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var g = cursor.GetGetter<T>(column);
        T v = default!;
        return () => { g(ref v); return v?.ToString() ?? ""; };
    }
}
