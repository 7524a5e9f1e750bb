using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Compression.Onnx;

namespace Microsoft.ML.Compression;

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
            if (s.Layers != null && s.Layers.Any(l => l == null || l.Layer == null || l.Tensor == null || l.OpType == null || !Enum.IsDefined(l.Storage)
                    || l.Weights < 0 || l.StoredWeights < 0 || l.NonZero < 0 || l.BytesBefore < 0 || l.BytesAfter < 0))
                throw Bad($"stage '{s.Stage}' lists a layer with no name, an unknown storage or negative counts");
            if (s.LayerPrecisions != null && s.LayerPrecisions.Any(l => l == null || l.Name == null)) throw Bad($"stage '{s.Stage}' lists an empty layer precision");
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

    /// <summary>A fixed-width table: one row per stage.</summary>
    /// <example><code>Console.WriteLine(compressed.Report); // the table, then each stage's description, fidelity and worst tensors</code></example>
    public override string ToString() => ReportFormatter.Text(this);

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
    public string ToHtml() => ReportFormatter.Html(this);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, // most rows have no fidelity or baseline numbers
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false) },
        // One weight of 1e38 makes a tensor's error infinite: written as "Infinity" (and read back) instead of failing.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
