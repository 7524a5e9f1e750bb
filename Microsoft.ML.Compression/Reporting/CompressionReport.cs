using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Compression.Onnx;

namespace Microsoft.ML.Compression;

/// <summary>
/// One row of a <see cref="CompressionReport"/>: the model as it stood after one stage (the first row is the
/// model that went in).
/// </summary>
/// <example><code>foreach (var s in compressed.Report.Stages) Console.WriteLine($"{s.Stage}: {s.ZipBytes} bytes, {s.Metric:F4}");</code></example>
public sealed class StageReport
{
    /// <summary>Stage name: "Teacher", "Distill", "Prune", "Quantize", …</summary>
    /// <example><code>var pruneRow = compressed.Report.Stages.First(s =&gt; s.Stage == "Prune");</code></example>
    public string Stage { get; init; } = "";
    /// <summary>What the stage did, in a sentence.</summary>
    /// <example><code>foreach (var s in compressed.Report.Stages.Skip(1)) Console.WriteLine($"{s.Stage}: {s.Description}");</code></example>
    public string Description { get; init; } = "";
    /// <summary>Learned numbers in the model (weights, coefficients, split thresholds and leaf values), or null when unknown.</summary>
    /// <example><code>Console.WriteLine($"{report.Original.ParameterCount} → {report.Final.ParameterCount} parameters");</code></example>
    public long? ParameterCount { get; init; }
    /// <summary>How many of them are not zero.</summary>
    /// <example><code>Console.WriteLine($"{report.Final.NonZeroCount} of {report.Final.ParameterCount} parameters are non-zero");</code></example>
    public long? NonZeroCount { get; init; }
    /// <summary>Average storage bits per learned number in the ONNX file (32 = float, 16 = FP16, ≈8 = INT8 with scales).</summary>
    /// <example><code>Console.WriteLine($"{report.Original.BitsPerWeight:F1} → {report.Final.BitsPerWeight:F1} bits per weight"); // e.g. 32.0 → 8.1 after Int8</code></example>
    public double? BitsPerWeight { get; init; }
    /// <summary>Size of the ONNX graph of the predictor or network, in bytes (null for a native ML.NET model that ONNX cannot export).</summary>
    /// <example><code>Console.WriteLine(report.Final.OnnxBytes is long b ? $"ONNX graph: {b} bytes" : "native ML.NET model: no ONNX graph");</code></example>
    public long? OnnxBytes { get; init; }
    /// <summary>Size of the model saved with <c>mlContext.Model.Save</c>, in bytes.</summary>
    /// <example><code>double ratio = (double)report.Original.ZipBytes / report.Final.ZipBytes; // how many times smaller the saved model is</code></example>
    public long ZipBytes { get; init; }
    /// <summary>The task metric (see <see cref="CompressionReport.MetricName"/>) on the data the chain was fitted on.</summary>
    /// <example><code>double? lost = report.Original.Metric - report.Stages[1].Metric; // e.g. AUC given up by the first stage</code></example>
    public double? Metric { get; init; }
    /// <summary>The task metric on the evaluation data, when one was given.</summary>
    /// <example>
    /// <code>
    /// var compressed = chain.WithEvaluationData(test).Fit(train);
    /// Console.WriteLine($"{compressed.Report.MetricName} on test: {compressed.Report.Final.EvaluationMetric:F4}");
    /// </code>
    /// </example>
    public double? EvaluationMetric { get; init; }
    /// <summary>
    /// Distill rows: fraction of the fit data's rows on which student and teacher predict the same label (labels
    /// compared by value, not by key index); null for regression and for other stages.
    /// </summary>
    /// <example>
    /// <code>
    /// var distilled = ml.Compression().Distill(teacher, student).Fit(train);
    /// Console.WriteLine($"student agrees with the teacher on {distilled.Report.Stages[1].Agreement:P1} of the rows");
    /// </code>
    /// </example>
    public double? Agreement { get; init; }
    /// <summary>
    /// Distill rows: mean squared difference between teacher and student on the fit data. Binary: of their
    /// probabilities (or sigmoid of the score when a model has no calibrator); regression: of their scores; null for
    /// multiclass (see <see cref="KlDivergence"/>) and for other stages.
    /// </summary>
    /// <example><code>double? mse = distilled.Report.Stages[1].ScoreMse; // binary: probability MSE; regression: score MSE</code></example>
    public double? ScoreMse { get; init; }
    /// <summary>
    /// Distill rows, multiclass: mean KL(teacher ‖ student) of the normalized Score distributions on the fit data,
    /// in nats, classes aligned by value (a class the student never saw counts with probability 1e-7).
    /// </summary>
    /// <example><code>double? kl = distilled.Report.Stages[1].KlDivergence; // multiclass only, in nats: 0 = same distributions</code></example>
    public double? KlDivergence { get; init; }
    /// <summary>As <see cref="Agreement"/>, on the evaluation data (when one was given).</summary>
    /// <example>
    /// <code>
    /// var distilled = ml.Compression().Distill(teacher, student).WithEvaluationData(test).Fit(train);
    /// double? heldOut = distilled.Report.Stages[1].EvaluationAgreement;
    /// </code>
    /// </example>
    public double? EvaluationAgreement { get; init; }
    /// <summary>As <see cref="ScoreMse"/>, on the evaluation data (when one was given).</summary>
    /// <example><code>double? heldOutMse = distilled.Report.Stages[1].EvaluationScoreMse; // needs WithEvaluationData(test)</code></example>
    public double? EvaluationScoreMse { get; init; }
    /// <summary>As <see cref="KlDivergence"/>, on the evaluation data (when one was given).</summary>
    /// <example><code>double? heldOutKl = distilled.Report.Stages[1].EvaluationKlDivergence; // multiclass, needs WithEvaluationData(test)</code></example>
    public double? EvaluationKlDivergence { get; init; }
    /// <summary>
    /// Distill rows with <see cref="DistillationOptions.TrainLabelOnlyBaseline"/>: the task metric, on the fit data,
    /// of the same student estimator trained on the true labels alone (null when no baseline was trained).
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions { TrainLabelOnlyBaseline = true };
    /// var row = ml.Compression().Distill(teacher, student, options).Fit(train).Report.Stages[1];
    /// Console.WriteLine($"distilled {row.Metric:F4} vs labels only {row.BaselineMetric:F4}");
    /// </code>
    /// </example>
    public double? BaselineMetric { get; init; }
    /// <summary>As <see cref="BaselineMetric"/>, on the evaluation data (when one was given).</summary>
    /// <example>
    /// <code>
    /// var row = ml.Compression().Distill(teacher, student, new DistillationOptions { TrainLabelOnlyBaseline = true })
    ///     .WithEvaluationData(test).Fit(train).Report.Stages[1];
    /// bool distillationHelped = row.EvaluationMetric &gt; row.BaselineEvaluationMetric; // for a metric where higher is better
    /// </code>
    /// </example>
    public double? BaselineEvaluationMetric { get; init; }
    /// <summary>
    /// Distill rows with <see cref="DistillationOptions.ChooseOnValidation"/>: every candidate's validation metric,
    /// the teacher's, and which candidate was returned; null otherwise.
    /// </summary>
    /// <example><code>bool nothingToDistil = row.Selection?.NothingToDistil == true; // the label-only student was returned</code></example>
    public DistillationSelection? Selection { get; init; }
    /// <summary>
    /// Rows per second of the model's batch <c>Transform</c> over (up to 2,000 of) the fit rows, read while
    /// compressing: the best of three short passes, on the machine and load of the moment. Meant to compare the rows
    /// of one report with each other (a stage that makes the model slower says so in the text); measure deployment
    /// speed with the benchmark app. Null when the model writes no float column to read.
    /// </summary>
    /// <example><code>double? speedup = report.Final.RowsPerSecond / report.Original.RowsPerSecond; // e.g. 20 for a distilled tree model</code></example>
    public double? RowsPerSecond { get; init; }
    /// <summary>
    /// Distill rows: the teacher's size saved with <c>mlContext.Model.Save</c>, to compare with <see cref="ZipBytes"/>
    /// (null when the teacher cannot be saved); see <see cref="SmallerThanTeacher"/>.
    /// </summary>
    /// <example><code>Console.WriteLine($"student {row.ZipBytes} bytes, teacher {row.TeacherZipBytes} bytes");</code></example>
    public long? TeacherZipBytes { get; init; }
    /// <summary>Distill rows: whether the student's saved zip is smaller than the teacher's; null when not known.</summary>
    /// <example><code>if (row.SmallerThanTeacher == false) Console.WriteLine("give the student fewer trees or leaves");</code></example>
    [JsonIgnore]
    public bool? SmallerThanTeacher => TeacherZipBytes is long t ? ZipBytes < t : null;
    /// <summary>
    /// Distill rows: the teacher's <see cref="RowsPerSecond"/> (its report row's reading), to compare with this row's;
    /// see <see cref="FasterThanTeacher"/>. Null when the teacher was not read or this is not a Distill row.
    /// </summary>
    /// <example><code>Console.WriteLine($"student {row.RowsPerSecond:F0} rows/s, teacher {row.TeacherRowsPerSecond:F0}");</code></example>
    [JsonInclude]
    public double? TeacherRowsPerSecond { get; internal set; }
    /// <summary>
    /// Distill rows: whether the student scores more rows per second than the teacher (batch <c>Transform</c>, read
    /// while compressing); null when not known.
    /// </summary>
    /// <example><code>if (row.FasterThanTeacher == false) Console.WriteLine("give the student fewer trees (DistillationOptions.StudentTreeFraction)");</code></example>
    [JsonIgnore]
    public bool? FasterThanTeacher => TeacherRowsPerSecond is double t && RowsPerSecond is double r ? r > t : null;
    /// <summary>
    /// Quantize rows of networks: the SQNR (dB) between the float and the quantized network, on the calibration rows,
    /// of each quantized operator's input (as that operator sees it) and of each graph output; null for other stages.
    /// <see cref="CompressionReport.ToString"/> prints the worst five.
    /// </summary>
    /// <example>
    /// <code>
    /// foreach (var e in report.Final.TensorErrors ?? Array.Empty&lt;TensorError&gt;())
    ///     if (e.SqnrDb &lt; 20) Console.WriteLine($"{e.Name}: {e.SqnrDb:F1} dB");
    /// </code>
    /// </example>
    public IReadOnlyList<TensorError>? TensorErrors { get; init; }
    /// <summary>Fraction of learned numbers that are zero.</summary>
    /// <example>
    /// <code>
    /// var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(train);
    /// Console.WriteLine($"{pruned.Report.Final.Sparsity:P0} of the weights are zero");
    /// </code>
    /// </example>
    [JsonIgnore]
    public double? Sparsity => ParameterCount is > 0 ? 1.0 - (double)NonZeroCount!.Value / ParameterCount.Value : null;
}

/// <summary>
/// What a compression chain did: for the input model and after every stage, parameter count, non-zero count, bits
/// per weight, ONNX and saved-zip size, and the task metric; a distill row also has the student's fidelity to its
/// teacher and the metric of a labels-only baseline. It is stored inside the compressed ONNX graph, so it
/// travels in the saved zip and can be read back with <see cref="ReadFrom(string)"/>.
/// </summary>
/// <example>
/// <code>
/// var compressed = chain.Fit(train);
/// Console.WriteLine(compressed.Report);
/// ml.Model.Save(compressed, train.Schema, "model.zip");
/// var again = CompressionReport.ReadFrom("model.zip");
/// </code>
/// </example>
public sealed class CompressionReport
{
    internal const string MetadataKey = "ml.compression.report";

    /// <summary>The task of the model.</summary>
    /// <example><code>if (compressed.Report.Task == ModelTask.Regression) Console.WriteLine("metric: RMSE");</code></example>
    public ModelTask Task { get; init; }
    /// <summary>Name of <see cref="StageReport.Metric"/>: "AUC", "MicroAccuracy", "RMSE", or empty for networks.</summary>
    /// <example><code>Console.WriteLine($"{report.MetricName}: {report.Original.Metric:F4} → {report.Final.Metric:F4}"); // e.g. AUC: 0.9312 → 0.9287</code></example>
    public string MetricName { get; init; } = "";
    /// <summary>True when a larger metric is better (AUC, accuracy), false for errors (RMSE).</summary>
    /// <example><code>double? loss = report.HigherIsBetter ? report.Original.Metric - report.Final.Metric : report.Final.Metric - report.Original.Metric;</code></example>
    public bool HigherIsBetter { get; init; } = true;
    /// <summary>The input model first, then one row per stage.</summary>
    /// <example>
    /// <code>
    /// foreach (var s in compressed.Report.Stages) Console.WriteLine($"{s.Stage,-10} {s.ZipBytes,10} {s.Metric:F4}");
    /// var afterPrune = compressed.Report.Stages[1]; // Stages[0] is the model that went in
    /// </code>
    /// </example>
    public IReadOnlyList<StageReport> Stages { get; init; } = Array.Empty<StageReport>();

    /// <summary>The first row: the model before compression.</summary>
    /// <example><code>Console.WriteLine($"before: {compressed.Report.Original.ZipBytes} bytes, {compressed.Report.Original.Metric:F4}");</code></example>
    [JsonIgnore] public StageReport Original => Stages[0];
    /// <summary>The last row: the compressed model.</summary>
    /// <example><code>Console.WriteLine($"after: {compressed.Report.Final.ZipBytes} bytes, {compressed.Report.Final.Metric:F4}");</code></example>
    [JsonIgnore] public StageReport Final => Stages[^1];

    /// <summary>Serializes the report to JSON.</summary>
    /// <example><code>File.WriteAllText("report.json", compressed.Report.ToJson());</code></example>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    /// <exception cref="CorruptSavedModelException">The text is not a report written by <see cref="ToJson"/> (malformed JSON, no stages, negative counts).</exception>
    /// <example><code>var r = CompressionReport.FromJson(File.ReadAllText("report.json"));</code></example>
    public static CompressionReport FromJson(string json)
    {
        if (json == null) throw new ArgumentNullException(nameof(json));
        CompressionReport? report;
        try { report = JsonSerializer.Deserialize<CompressionReport>(json, JsonOptions); }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new CorruptSavedModelException($"The compression report is not valid JSON of a report ({e.Message}). Compress the model again, or read it with mlContext.Model.Load.", e);
        }
        return Checked(report);
    }

    /// <summary>A parsed report that every property and method can use, or a typed error saying what is wrong.</summary>
    private static CompressionReport Checked(CompressionReport? report)
    {
        static CorruptSavedModelException Bad(string what) => new($"The compression report is damaged: {what}. Compress the model again, or read it with mlContext.Model.Load.");
        if (report == null) throw Bad("it is empty");
        if (!Enum.IsDefined(report.Task)) throw Bad($"its task {(int)report.Task} is unknown");
        if (report.MetricName == null) throw Bad("it has no metric name");
        if (report.Stages == null || report.Stages.Count == 0) throw Bad("it has no stages");
        foreach (var s in report.Stages)
        {
            if (s == null || s.Stage == null || s.Description == null) throw Bad("a stage has no name or description");
            if (s.ParameterCount < 0 || s.NonZeroCount < 0 || s.OnnxBytes < 0 || s.ZipBytes < 0 || s.NonZeroCount > s.ParameterCount)
                throw Bad($"stage '{s.Stage}' has negative or inconsistent counts");
            if (s.TensorErrors != null && s.TensorErrors.Any(t => t == null)) throw Bad($"stage '{s.Stage}' lists an empty tensor error");
        }
        return report;
    }

    /// <summary>
    /// Reads the report stored in a model zip written by <c>mlContext.Model.Save</c>; null when the zip holds no
    /// compressed ONNX graph (for example a distilled student that stayed a native ML.NET model).
    /// </summary>
    /// <example><code>var report = CompressionReport.ReadFrom("compressed.zip");</code></example>
    public static CompressionReport? ReadFrom(string zipPath)
    {
        using var file = File.OpenRead(zipPath);
        return ReadFrom(file);
    }

    /// <summary>Reads the report stored in a model zip given as a stream.</summary>
    /// <example><code>using var s = File.OpenRead("compressed.zip"); var report = CompressionReport.ReadFrom(s);</code></example>
    /// <exception cref="CorruptSavedModelException">The stream is not a zip, or the report in it is damaged.</exception>
    public static CompressionReport? ReadFrom(Stream zip)
    {
        if (zip == null) throw new ArgumentNullException(nameof(zip));
        List<global::Onnx.ModelProto> graphs;
        try { graphs = SavedOnnxModels.Read(zip).ToList(); }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            throw new CorruptSavedModelException($"The stream is not a model zip written by mlContext.Model.Save, or it is damaged ({e.Message}). Save the model again.", e);
        }
        foreach (var onnx in graphs)
        {
            var entry = onnx.MetadataProps.FirstOrDefault(p => p.Key == MetadataKey);
            if (entry != null) return FromJson(entry.Value);
        }
        return null;
    }

    /// <summary>Below this fraction of the previous row's rows/s a stage says it made the model slower (the reading is a quick one: ±10–20 % is noise).</summary>
    internal const double SlowerFraction = 0.8;

    /// <summary>The line of a stage that made the model slower than the model it came from, or null.</summary>
    private static string? SlowerLine(StageReport previous, StageReport s)
        => s.RowsPerSecond is double now && previous.RowsPerSecond is double before && now < SlowerFraction * before
            ? $"slower than the model it came from: {now:F0} rows/s against {before:F0} in batch Transform ({now / before:F2}x, read while compressing)"
            : null;

    /// <summary>What a Distill row says besides its numbers: how its student was chosen, and its size against the teacher's.</summary>
    private static IEnumerable<string> DistillationLines(StageReport s)
    {
        if (s.Selection is { Candidates.Count: > 0 } c)
        {
            var each = c.Candidates.Select((k, i) => $"{k.Name} {Fmt(k.ValidationMetric)}{(i == c.ChosenIndex ? " (returned)" : "")}");
            yield return $"chosen on {c.ValidationRows} {(c.HeldOut ? "held-out" : "validation")} rows by {c.MetricName}: {string.Join(", ", each)}" +
                (c.TeacherValidationMetric is double t ? $"; teacher {t:F4}{(c.HeldOut ? " (it may have trained on these rows)" : "")}" : "") +
                (c.Refitted ? "; the returned student was trained again on all the training data" : "");
            if (c.NothingToDistil)
                yield return c.TeacherValidationMetric is double tm && !c.Better(tm, c.Candidates[0].ValidationMetric ?? double.NaN)
                    ? "nothing to distil: the teacher is no better than the label-only student on the validation rows, so the label-only student was returned"
                    : c.AnyDistilledBetter
                        ? $"nothing to distil: no distilled student cut the label-only student's validation error by {c.MinimumErrorReduction:P0} (MinimumErrorReduction), so the label-only student was returned"
                        : "nothing to distil: no distilled student beat the label-only student on the validation rows, so the label-only student was returned";
        }
        if (s.SmallerThanTeacher == false)
            yield return $"the student is not smaller than its teacher: {s.ZipBytes} bytes against {s.TeacherZipBytes} (give it fewer trees, leaves or features)";
        if (s.FasterThanTeacher == false)
            yield return $"the student is not faster than its teacher: {s.RowsPerSecond:F0} rows/s against {s.TeacherRowsPerSecond:F0} in batch Transform (give it fewer trees, e.g. DistillationOptions.StudentTreeFraction)";
    }

    /// <summary>A fixed-width table: one row per stage.</summary>
    /// <example><code>Console.WriteLine(compressed.Report); // the table, then each stage's description, fidelity and worst tensors</code></example>
    public override string ToString()
    {
        var sb = new StringBuilder();
        string metric = string.IsNullOrEmpty(MetricName) ? "metric" : MetricName;
        sb.AppendLine($"Compression report ({Task})");
        sb.AppendLine($"{"stage",-10} {"params",10} {"non-zero",10} {"bits/w",6} {"onnx bytes",11} {"zip bytes",10} {metric + " (fit)",14} {metric + " (eval)",15} {"rows/s",9}");
        foreach (var s in Stages)
            sb.AppendLine($"{s.Stage,-10} {Fmt(s.ParameterCount),10} {Fmt(s.NonZeroCount),10} {(s.BitsPerWeight is double b ? b.ToString("F1") : "-"),6} {Fmt(s.OnnxBytes),11} {s.ZipBytes,10} {Fmt(s.Metric),14} {Fmt(s.EvaluationMetric),15} {(s.RowsPerSecond is double r ? r.ToString("F0") : "-"),9}");
        for (int i = 1; i < Stages.Count; i++)
        {
            var s = Stages[i];
            sb.AppendLine($"  {s.Stage}: {s.Description}");
            if (SlowerLine(Stages[i - 1], s) is { } slower) sb.AppendLine($"    {slower}");
            var fidelity = new List<string>();
            if (s.Agreement != null || s.EvaluationAgreement != null) fidelity.Add($"agreement {Pair(s.Agreement, s.EvaluationAgreement)}");
            if (s.ScoreMse != null || s.EvaluationScoreMse != null) fidelity.Add($"score MSE {Pair(s.ScoreMse, s.EvaluationScoreMse)}");
            if (s.KlDivergence != null || s.EvaluationKlDivergence != null) fidelity.Add($"KL(teacher||student) {Pair(s.KlDivergence, s.EvaluationKlDivergence)}");
            if (fidelity.Count > 0) sb.AppendLine($"    fidelity to the teacher (fit / eval): {string.Join(", ", fidelity)}");
            if (s.BaselineMetric != null || s.BaselineEvaluationMetric != null)
                sb.AppendLine($"    same student on the labels alone: {metric} {Pair(s.BaselineMetric, s.BaselineEvaluationMetric)} (distilled {Pair(s.Metric, s.EvaluationMetric)})");
            foreach (var line in DistillationLines(s)) sb.AppendLine($"    {line}");
            if (s.TensorErrors is { Count: > 0 }) sb.AppendLine(WorstTensors(s.TensorErrors));
        }
        return sb.ToString();
    }

    /// <summary>
    /// The report as an HTML fragment: a table with one row per stage (the input model first), then each stage's
    /// description with its fidelity and baseline numbers. All text is HTML-escaped. Handy in a notebook, or to
    /// write a page next to a saved model.
    /// </summary>
    /// <example>
    /// <code>
    /// File.WriteAllText("report.html", compressed.Report.ToHtml());
    /// // in a .NET Interactive notebook:
    /// display(HTML(compressed.Report.ToHtml()));
    /// </code>
    /// </example>
    public string ToHtml()
    {
        static string E(string s) => System.Net.WebUtility.HtmlEncode(s);
        string metric = string.IsNullOrEmpty(MetricName) ? "metric" : MetricName;
        var sb = new StringBuilder();
        sb.Append("<div class=\"ml-compression-report\">");
        sb.Append("<p><strong>Compression report</strong> (").Append(E(Task.ToString())).Append(")</p>");
        sb.Append("<table><thead><tr>");
        foreach (var h in new[] { "stage", "params", "non-zero", "sparsity", "bits/w", "onnx bytes", "zip bytes", metric + " (fit)", metric + " (eval)", "rows/s" })
            sb.Append("<th>").Append(E(h)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var s in Stages)
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
        if (Stages.Count > 1)
        {
            sb.Append("<ul>");
            for (int i = 1; i < Stages.Count; i++)
            {
                var s = Stages[i];
                sb.Append("<li><strong>").Append(E(s.Stage)).Append("</strong>: ").Append(E(s.Description));
                if (SlowerLine(Stages[i - 1], s) is { } slower) sb.Append("<br/>").Append(E(slower));
                var extra = new List<string>();
                if (s.Agreement != null || s.EvaluationAgreement != null) extra.Add($"agreement {Pair(s.Agreement, s.EvaluationAgreement)}");
                if (s.ScoreMse != null || s.EvaluationScoreMse != null) extra.Add($"score MSE {Pair(s.ScoreMse, s.EvaluationScoreMse)}");
                if (s.KlDivergence != null || s.EvaluationKlDivergence != null) extra.Add($"KL(teacher||student) {Pair(s.KlDivergence, s.EvaluationKlDivergence)}");
                if (extra.Count > 0) sb.Append("<br/>fidelity to the teacher (fit / eval): ").Append(E(string.Join(", ", extra)));
                if (s.BaselineMetric != null || s.BaselineEvaluationMetric != null)
                    sb.Append("<br/>").Append(E($"same student on the labels alone: {metric} {Pair(s.BaselineMetric, s.BaselineEvaluationMetric)} (distilled {Pair(s.Metric, s.EvaluationMetric)})"));
                foreach (var line in DistillationLines(s)) sb.Append("<br/>").Append(E(line));
                sb.Append("</li>");
            }
            sb.Append("</ul>");
        }
        sb.Append("</div>");
        return sb.ToString();
    }
    /// <summary>The five tensors with the lowest SQNR, worst first.</summary>
    private static string WorstTensors(IReadOnlyList<TensorError> errors)
        => $"    SQNR of {errors.Count} tensor(s), worst {Math.Min(5, errors.Count)}: {string.Join(", ", errors.OrderBy(e => e.SqnrDb).Take(5))}";

    private static string Pair(double? fit, double? eval) => $"{Fmt(fit).Trim()} / {Fmt(eval).Trim()}";

    private static string Fmt(long? v) => v?.ToString() ?? "-";
    private static string Fmt(double? v) => v is double d ? d.ToString("F4") : "-";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, // most rows have no fidelity or baseline numbers
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false) },
        // One weight of 1e38 makes a tensor's error infinite: written as "Infinity" (and read back) instead of failing.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
