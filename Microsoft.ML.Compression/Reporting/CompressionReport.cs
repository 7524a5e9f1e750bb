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
    public string Stage { get; init; } = "";
    /// <summary>What the stage did, in a sentence.</summary>
    public string Description { get; init; } = "";
    /// <summary>Learned numbers in the model (weights, coefficients, split thresholds and leaf values), or null when unknown.</summary>
    public long? ParameterCount { get; init; }
    /// <summary>How many of them are not zero.</summary>
    public long? NonZeroCount { get; init; }
    /// <summary>Average storage bits per learned number in the ONNX file (32 = float, 16 = FP16, ≈8 = INT8 with scales).</summary>
    public double? BitsPerWeight { get; init; }
    /// <summary>Size of the ONNX graph of the predictor or network, in bytes (null for a native ML.NET model that ONNX cannot export).</summary>
    public long? OnnxBytes { get; init; }
    /// <summary>Size of the model saved with <c>mlContext.Model.Save</c>, in bytes.</summary>
    public long ZipBytes { get; init; }
    /// <summary>The task metric (see <see cref="CompressionReport.MetricName"/>) on the data the chain was fitted on.</summary>
    public double? Metric { get; init; }
    /// <summary>The task metric on the evaluation data, when one was given.</summary>
    public double? EvaluationMetric { get; init; }
    /// <summary>
    /// Distill rows: fraction of the fit data's rows on which student and teacher predict the same label (labels
    /// compared by value, not by key index); null for regression and for other stages.
    /// </summary>
    public double? Agreement { get; init; }
    /// <summary>
    /// Distill rows: mean squared difference between teacher and student on the fit data. Binary: of their
    /// probabilities (or sigmoid of the score when a model has no calibrator); regression: of their scores; null for
    /// multiclass (see <see cref="KlDivergence"/>) and for other stages.
    /// </summary>
    public double? ScoreMse { get; init; }
    /// <summary>
    /// Distill rows, multiclass: mean KL(teacher ‖ student) of the normalized Score distributions on the fit data,
    /// in nats, classes aligned by value (a class the student never saw counts with probability 1e-7).
    /// </summary>
    public double? KlDivergence { get; init; }
    /// <summary>As <see cref="Agreement"/>, on the evaluation data (when one was given).</summary>
    public double? EvaluationAgreement { get; init; }
    /// <summary>As <see cref="ScoreMse"/>, on the evaluation data (when one was given).</summary>
    public double? EvaluationScoreMse { get; init; }
    /// <summary>As <see cref="KlDivergence"/>, on the evaluation data (when one was given).</summary>
    public double? EvaluationKlDivergence { get; init; }
    /// <summary>
    /// Distill rows with <see cref="DistillationOptions.TrainLabelOnlyBaseline"/>: the task metric, on the fit data,
    /// of the same student estimator trained on the true labels alone (null when no baseline was trained).
    /// </summary>
    public double? BaselineMetric { get; init; }
    /// <summary>As <see cref="BaselineMetric"/>, on the evaluation data (when one was given).</summary>
    public double? BaselineEvaluationMetric { get; init; }
    /// <summary>
    /// Quantize rows of networks: the SQNR (dB) between the float and the quantized network, on the calibration rows,
    /// of each quantized operator's input (as that operator sees it) and of each graph output; null for other stages.
    /// <see cref="CompressionReport.ToString"/> prints the worst five.
    /// </summary>
    public IReadOnlyList<TensorError>? TensorErrors { get; init; }
    /// <summary>Fraction of learned numbers that are zero.</summary>
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
    public ModelTask Task { get; init; }
    /// <summary>Name of <see cref="StageReport.Metric"/>: "AUC", "MicroAccuracy", "RMSE", or empty for networks.</summary>
    public string MetricName { get; init; } = "";
    /// <summary>True when a larger metric is better (AUC, accuracy), false for errors (RMSE).</summary>
    public bool HigherIsBetter { get; init; } = true;
    /// <summary>The input model first, then one row per stage.</summary>
    public IReadOnlyList<StageReport> Stages { get; init; } = Array.Empty<StageReport>();

    /// <summary>The first row: the model before compression.</summary>
    [JsonIgnore] public StageReport Original => Stages[0];
    /// <summary>The last row: the compressed model.</summary>
    [JsonIgnore] public StageReport Final => Stages[^1];

    /// <summary>Serializes the report to JSON.</summary>
    /// <example><code>File.WriteAllText("report.json", compressed.Report.ToJson());</code></example>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    /// <example><code>var r = CompressionReport.FromJson(File.ReadAllText("report.json"));</code></example>
    public static CompressionReport FromJson(string json)
        => JsonSerializer.Deserialize<CompressionReport>(json, JsonOptions) ?? throw new ArgumentException("The JSON holds no compression report.", nameof(json));

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
    public static CompressionReport? ReadFrom(Stream zip)
    {
        foreach (var onnx in SavedOnnxModels.Read(zip))
        {
            var entry = onnx.MetadataProps.FirstOrDefault(p => p.Key == MetadataKey);
            if (entry != null) return FromJson(entry.Value);
        }
        return null;
    }

    /// <summary>A fixed-width table: one row per stage.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        string metric = string.IsNullOrEmpty(MetricName) ? "metric" : MetricName;
        sb.AppendLine($"Compression report ({Task})");
        sb.AppendLine($"{"stage",-10} {"params",10} {"non-zero",10} {"bits/w",6} {"onnx bytes",11} {"zip bytes",10} {metric + " (fit)",14} {metric + " (eval)",15}");
        foreach (var s in Stages)
            sb.AppendLine($"{s.Stage,-10} {Fmt(s.ParameterCount),10} {Fmt(s.NonZeroCount),10} {(s.BitsPerWeight is double b ? b.ToString("F1") : "-"),6} {Fmt(s.OnnxBytes),11} {s.ZipBytes,10} {Fmt(s.Metric),14} {Fmt(s.EvaluationMetric),15}");
        foreach (var s in Stages.Skip(1))
        {
            sb.AppendLine($"  {s.Stage}: {s.Description}");
            var fidelity = new List<string>();
            if (s.Agreement != null || s.EvaluationAgreement != null) fidelity.Add($"agreement {Pair(s.Agreement, s.EvaluationAgreement)}");
            if (s.ScoreMse != null || s.EvaluationScoreMse != null) fidelity.Add($"score MSE {Pair(s.ScoreMse, s.EvaluationScoreMse)}");
            if (s.KlDivergence != null || s.EvaluationKlDivergence != null) fidelity.Add($"KL(teacher||student) {Pair(s.KlDivergence, s.EvaluationKlDivergence)}");
            if (fidelity.Count > 0) sb.AppendLine($"    fidelity to the teacher (fit / eval): {string.Join(", ", fidelity)}");
            if (s.BaselineMetric != null || s.BaselineEvaluationMetric != null)
                sb.AppendLine($"    same student on the labels alone: {metric} {Pair(s.BaselineMetric, s.BaselineEvaluationMetric)} (distilled {Pair(s.Metric, s.EvaluationMetric)})");
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
        foreach (var h in new[] { "stage", "params", "non-zero", "sparsity", "bits/w", "onnx bytes", "zip bytes", metric + " (fit)", metric + " (eval)" })
            sb.Append("<th>").Append(E(h)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var s in Stages)
        {
            sb.Append("<tr><td>").Append(E(s.Stage)).Append("</td>");
            foreach (var cell in new[]
            {
                Fmt(s.ParameterCount), Fmt(s.NonZeroCount), s.Sparsity is double sp ? sp.ToString("P1", CultureInfo.InvariantCulture) : "-",
                s.BitsPerWeight is double b ? b.ToString("F1", CultureInfo.InvariantCulture) : "-", Fmt(s.OnnxBytes), Fmt(s.ZipBytes),
                Fmt(s.Metric), Fmt(s.EvaluationMetric),
            })
                sb.Append("<td style=\"text-align:right\">").Append(E(cell)).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (Stages.Count > 1)
        {
            sb.Append("<ul>");
            foreach (var s in Stages.Skip(1))
            {
                sb.Append("<li><strong>").Append(E(s.Stage)).Append("</strong>: ").Append(E(s.Description));
                var extra = new List<string>();
                if (s.Agreement != null || s.EvaluationAgreement != null) extra.Add($"agreement {Pair(s.Agreement, s.EvaluationAgreement)}");
                if (s.ScoreMse != null || s.EvaluationScoreMse != null) extra.Add($"score MSE {Pair(s.ScoreMse, s.EvaluationScoreMse)}");
                if (s.KlDivergence != null || s.EvaluationKlDivergence != null) extra.Add($"KL(teacher||student) {Pair(s.KlDivergence, s.EvaluationKlDivergence)}");
                if (extra.Count > 0) sb.Append("<br/>fidelity to the teacher (fit / eval): ").Append(E(string.Join(", ", extra)));
                if (s.BaselineMetric != null || s.BaselineEvaluationMetric != null)
                    sb.Append("<br/>").Append(E($"same student on the labels alone: {metric} {Pair(s.BaselineMetric, s.BaselineEvaluationMetric)} (distilled {Pair(s.Metric, s.EvaluationMetric)})"));
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
        Converters = { new JsonStringEnumConverter() },
    };
}
