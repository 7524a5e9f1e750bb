using System.Globalization;
using System.Text;

namespace Microsoft.ML.Compression.Reporting;

/// <summary>The report as text and HTML: the only place that turns its numbers into words (the report itself is data).</summary>
internal static class ReportFormatter
{
    /// <summary>A fixed-width table, one row per stage, then each stage's description, fidelity, choice and worst tensors.</summary>
    public static string Text(CompressionReport report)
    {
        var sb = new StringBuilder();
        string metric = string.IsNullOrEmpty(report.MetricName) ? "metric" : report.MetricName;
        sb.AppendLine($"Compression report ({report.Task})");
        sb.AppendLine($"{"stage",-10} {"params",10} {"non-zero",10} {"bits/w",6} {"onnx bytes",11} {"zip bytes",10} {metric + " (fit)",14} {metric + " (eval)",15} {"rows/s",9}");
        foreach (var s in report.Stages)
            sb.AppendLine($"{s.Stage,-10} {Fmt(s.ParameterCount),10} {Fmt(s.NonZeroCount),10} {(s.BitsPerWeight is double b ? b.ToString("F1") : "-"),6} {Fmt(s.OnnxBytes),11} {s.ZipBytes,10} {Fmt(s.Metric),14} {Fmt(s.EvaluationMetric),15} {(s.RowsPerSecond is double r ? r.ToString("F0") : "-"),9}");
        for (int i = 1; i < report.Stages.Count; i++)
        {
            var s = report.Stages[i];
            sb.AppendLine($"  {s.Stage}: {s.Description}");
            if (SlowerLine(report.Stages[i - 1], s) is { } slower) sb.AppendLine($"    {slower}");
            var fidelity = new List<string>();
            if (s.Agreement != null || s.EvaluationAgreement != null) fidelity.Add($"agreement {Pair(s.Agreement, s.EvaluationAgreement)}");
            if (s.ScoreMse != null || s.EvaluationScoreMse != null) fidelity.Add($"score MSE {Pair(s.ScoreMse, s.EvaluationScoreMse)}");
            if (s.KlDivergence != null || s.EvaluationKlDivergence != null) fidelity.Add($"KL(teacher||student) {Pair(s.KlDivergence, s.EvaluationKlDivergence)}");
            if (fidelity.Count > 0) sb.AppendLine($"    fidelity to the teacher (fit / eval): {string.Join(", ", fidelity)}");
            if (s.BaselineMetric != null || s.BaselineEvaluationMetric != null)
                sb.AppendLine($"    same student on the labels alone: {metric} {Pair(s.BaselineMetric, s.BaselineEvaluationMetric)} (distilled {Pair(s.Metric, s.EvaluationMetric)})");
            foreach (var line in DistillationLines(s)) sb.AppendLine($"    {line}");
            if (s.Layers is { Count: > 0 }) sb.AppendLine($"    {LayerSummary(s.Layers)}");
            if (s.TensorErrors is { Count: > 0 }) sb.AppendLine(WorstTensors(s.TensorErrors));
        }
        return sb.ToString();
    }

    /// <summary>An HTML fragment: the table, then each stage's description with its numbers; all text HTML-escaped.</summary>
    public static string Html(CompressionReport report)
    {
        static string E(string s) => System.Net.WebUtility.HtmlEncode(s);
        string metric = string.IsNullOrEmpty(report.MetricName) ? "metric" : report.MetricName;
        var sb = new StringBuilder();
        sb.Append("<div class=\"ml-compression-report\">");
        sb.Append("<p><strong>Compression report</strong> (").Append(E(report.Task.ToString())).Append(")</p>");
        sb.Append("<table><thead><tr>");
        foreach (var h in new[] { "stage", "params", "non-zero", "sparsity", "bits/w", "onnx bytes", "zip bytes", metric + " (fit)", metric + " (eval)", "rows/s" })
            sb.Append("<th>").Append(E(h)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var s in report.Stages)
        {
            sb.Append("<tr><td>").Append(E(s.Stage)).Append("</td>");
            foreach (var cell in new[]
            {
                Fmt(s.ParameterCount), Fmt(s.NonZeroCount), s.Sparsity is double sp ? sp.ToString("P1", CultureInfo.InvariantCulture) : "-",
                s.BitsPerWeight is double b ? b.ToString("F1", CultureInfo.InvariantCulture) : "-", Fmt(s.OnnxBytes), Fmt(s.ZipBytes),
                Fmt(s.Metric), Fmt(s.EvaluationMetric), s.RowsPerSecond is double r ? r.ToString("F0", CultureInfo.InvariantCulture) : "-",
            })
                sb.Append("<td style=\"text-align:right\">").Append(E(cell)).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (report.Stages.Count > 1)
        {
            sb.Append("<ul>");
            for (int i = 1; i < report.Stages.Count; i++)
            {
                var s = report.Stages[i];
                sb.Append("<li><strong>").Append(E(s.Stage)).Append("</strong>: ").Append(E(s.Description));
                if (SlowerLine(report.Stages[i - 1], s) is { } slower) sb.Append("<br/>").Append(E(slower));
                var extra = new List<string>();
                if (s.Agreement != null || s.EvaluationAgreement != null) extra.Add($"agreement {Pair(s.Agreement, s.EvaluationAgreement)}");
                if (s.ScoreMse != null || s.EvaluationScoreMse != null) extra.Add($"score MSE {Pair(s.ScoreMse, s.EvaluationScoreMse)}");
                if (s.KlDivergence != null || s.EvaluationKlDivergence != null) extra.Add($"KL(teacher||student) {Pair(s.KlDivergence, s.EvaluationKlDivergence)}");
                if (extra.Count > 0) sb.Append("<br/>fidelity to the teacher (fit / eval): ").Append(E(string.Join(", ", extra)));
                if (s.BaselineMetric != null || s.BaselineEvaluationMetric != null)
                    sb.Append("<br/>").Append(E($"same student on the labels alone: {metric} {Pair(s.BaselineMetric, s.BaselineEvaluationMetric)} (distilled {Pair(s.Metric, s.EvaluationMetric)})"));
                foreach (var line in DistillationLines(s)) sb.Append("<br/>").Append(E(line));
                if (s.Layers is { Count: > 0 }) AppendLayers(sb, s.Layers);
                sb.Append("</li>");
            }
            sb.Append("</ul>");
        }
        sb.Append("</div>");
        return sb.ToString();
    }

    /// <summary>Below this fraction of the previous row's rows/s a stage says it made the model slower (the reading is a quick one: ±10–20 % is noise).</summary>
    internal const double SlowerFraction = 0.8;

    /// <summary>The line of a stage that made the model slower than the model it came from, or null.</summary>
    private static string? SlowerLine(StageReport previous, StageReport s)
        => s.TeacherRowsPerSecond == null // a Distill row compares itself with its teacher (DistillationLines)
           && s.RowsPerSecond is double now && previous.RowsPerSecond is double before && now < SlowerFraction * before
            ? $"slower than the model it came from: {now:F0} rows/s against {before:F0} in batch Transform ({now / before:F2}x, read while compressing)"
            : null;

    /// <summary>What a Distill row says besides its numbers: how its student was chosen, and its size against the teacher's.</summary>
    private static IEnumerable<string> DistillationLines(StageReport s)
    {
        if (s.Selection is { Candidates.Count: > 0 } c)
        {
            var each = c.Candidates.Select((k, i) => $"{k.Name} {Fmt(k.ValidationMetric)}{(i == c.ChosenIndex ? " (returned)" : "")}");
            yield return $"chosen on {c.ValidationRows} {(c.HeldOut ? "held-out" : "validation")} rows by {c.MetricName}: {string.Join(", ", each)}" +
                (c.TeacherValidationMetric is double t ? $"; teacher {t:F4}{(c.HeldOut && !c.TeacherLikelyTrainedOnValidationRows ? " (it may have trained on these rows)" : "")}" : "") +
                (c.BestGain is double g && c.BestGainStandardError is double se ? $"; best distilled gain {g:+0.####;-0.####} ± {se:0.####} (paired bootstrap standard error)" : "") +
                (c.Refitted ? "; the returned student was trained again on all the training data" : "");
            if (c.TeacherLikelyTrainedOnValidationRows)
                yield return $"the teacher's {c.MetricName} on the {(c.HeldOut ? "held-out" : "validation")} rows, {c.TeacherValidationMetric:F4} against the label-only student's {c.Candidates[0].ValidationMetric:F4}, leaves it under half that student's error: " +
                    (c.HeldOut ? "it was most likely trained on these rows" : "if it was trained or early-stopped on these rows") +
                    ", distilled students look better on them than they are on new data; give Distill rows the teacher never saw as DistillationOptions.Selection.ValidationData (and train the student on the rest)";
            if (c.NothingToDistil)
                yield return c.TeacherValidationMetric is double tm && !c.Better(tm, c.Candidates[0].ValidationMetric ?? double.NaN)
                    ? "nothing to distil: the teacher is no better than the label-only student on the validation rows, so the label-only student was returned"
                    : c.WithinNoise
                        ? $"nothing to distil: the best distilled student was ahead by {c.BestGain:G3} {c.MetricName}, within the noise of these rows (standard error {c.BestGainStandardError:G3}, MinimumStandardErrors {c.MinimumStandardErrors:G3}), so the label-only student was returned"
                    : c.AnyDistilledBetter
                        ? $"nothing to distil: no distilled student cut the label-only student's validation error by {c.MinimumErrorReduction:P0} (MinimumErrorReduction), so the label-only student was returned"
                        : "nothing to distil: no distilled student beat the label-only student on the validation rows, so the label-only student was returned";
        }
        if (s.SmallerThanTeacher == false)
            yield return $"the student is not smaller than its teacher: {s.ZipBytes} bytes against {s.TeacherZipBytes} (give it fewer trees, leaves or features)";
        if (s.FasterThanTeacher == false)
            yield return $"the student is not faster than its teacher: {s.RowsPerSecond:F0} rows/s against {s.TeacherRowsPerSecond:F0} in batch Transform (give it fewer trees, e.g. DistillationOptions.StudentTreeFraction)";
    }

    /// <summary>The layers grouped by how they are stored, e.g. "layers: 3 Int8 per channel (51.2 % zero), 1 Float32; weights 160,000 → 40,512 bytes".</summary>
    internal static string LayerSummary(IReadOnlyList<LayerEdit> layers)
    {
        var groups = layers.GroupBy(l => (l.Storage, l.PerChannel)).OrderByDescending(g => g.Sum(l => l.Weights)).Select(g =>
        {
            long weights = g.Sum(l => l.Weights);
            var known = g.Where(l => l.NonZero != null).ToList();
            double? zero = known.Count == g.Count() && weights > 0 ? 1 - (double)known.Sum(l => l.NonZero!.Value) / weights : null;
            return $"{g.Count()} {g.Key.Storage}{(g.Key.PerChannel && g.Key.Storage is not LayerStorage.Int4 ? " per channel" : "")}" +
                   (zero is > 0 ? $" ({zero.Value.ToString("P1", CultureInfo.InvariantCulture)} zero)" : "");
        });
        return $"layers: {string.Join(", ", groups)}; weights {layers.Sum(l => l.BytesBefore).ToString("N0", CultureInfo.InvariantCulture)} → {layers.Sum(l => l.BytesAfter).ToString("N0", CultureInfo.InvariantCulture)} bytes";
    }

    /// <summary>The per-layer table of a stage, folded (a network can have hundreds of layers).</summary>
    private static void AppendLayers(StringBuilder sb, IReadOnlyList<LayerEdit> layers)
    {
        static string E(string s) => System.Net.WebUtility.HtmlEncode(s);
        sb.Append("<details><summary>").Append(E(LayerSummary(layers))).Append("</summary><table><thead><tr>");
        foreach (var h in new[] { "layer", "op", "storage", "weights", "kept", "zero", "bytes before", "bytes after" })
            sb.Append("<th>").Append(h).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var l in layers)
        {
            sb.Append("<tr><td>").Append(E(l.Layer)).Append("</td><td>").Append(E(l.OpType)).Append("</td><td>")
              .Append(E(l.Storage + (l.BlockSize is int b ? $" /{b}" : l.PerChannel ? " per channel" : ""))).Append("</td>");
            foreach (var cell in new[] { Fmt(l.Weights), Fmt(l.StoredWeights), l.Sparsity is double z ? z.ToString("P1", CultureInfo.InvariantCulture) : "-", Fmt(l.BytesBefore), Fmt(l.BytesAfter) })
                sb.Append("<td style=\"text-align:right\">").Append(E(cell)).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table></details>");
    }

    /// <summary>The five tensors with the lowest SQNR, worst first.</summary>
    private static string WorstTensors(IReadOnlyList<TensorError> errors)
        => $"    SQNR of {errors.Count} tensor(s), worst {Math.Min(5, errors.Count)}: {string.Join(", ", errors.OrderBy(e => e.SqnrDb).Take(5))}";

    private static string Pair(double? fit, double? eval) => $"{Fmt(fit).Trim()} / {Fmt(eval).Trim()}";

    private static string Fmt(long? v) => v?.ToString() ?? "-";
    private static string Fmt(double? v) => v is double d ? d.ToString("F4") : "-";
}
