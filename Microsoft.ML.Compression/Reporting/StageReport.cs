using System.Text.Json.Serialization;

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
    /// Distill rows with <see cref="StudentSelectionOptions.TrainLabelOnlyBaseline"/>: the task metric, on the fit data,
    /// of the same student estimator trained on the true labels alone (null when no baseline was trained).
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new DistillationOptions { Selection = { TrainLabelOnlyBaseline = true } };
    /// var row = ml.Compression().Distill(teacher, student, options).Fit(train).Report.Stages[1];
    /// Console.WriteLine($"distilled {row.Metric:F4} vs labels only {row.BaselineMetric:F4}");
    /// </code>
    /// </example>
    public double? BaselineMetric { get; init; }
    /// <summary>As <see cref="BaselineMetric"/>, on the evaluation data (when one was given).</summary>
    /// <example>
    /// <code>
    /// var row = ml.Compression().Distill(teacher, student, new DistillationOptions { Selection = { TrainLabelOnlyBaseline = true } })
    ///     .WithEvaluationData(test).Fit(train).Report.Stages[1];
    /// bool distillationHelped = row.EvaluationMetric &gt; row.BaselineEvaluationMetric; // for a metric where higher is better
    /// </code>
    /// </example>
    public double? BaselineEvaluationMetric { get; init; }
    /// <summary>
    /// Distill rows with <see cref="StudentSelectionOptions.ChooseOnValidation"/>: every candidate's validation metric,
    /// the teacher's, and which candidate was returned; null otherwise.
    /// </summary>
    /// <example><code>bool nothingToDistil = row.Selection?.NothingToDistil == true; // the label-only student was returned</code></example>
    public DistillationSelection? Selection { get; init; }
    /// <summary>
    /// Rows per second of the model's batch <c>Transform</c> over (up to 2,000 of) the fit rows, read once all stages
    /// ran, every stage's model side by side: the best of three short passes each, on the machine and load of the moment. Meant to compare the rows
    /// of one report with each other (a stage that makes the model slower says so in the text); measure deployment
    /// speed with the benchmark app. Null when the model writes no float column to read.
    /// </summary>
    /// <example><code>double? speedup = report.Final.RowsPerSecond / report.Original.RowsPerSecond; // e.g. 20 for a distilled tree model</code></example>
    [JsonInclude]
    public double? RowsPerSecond { get; internal set; }
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
    /// <summary>
    /// Prune and Quantize rows of networks and exported models: what the stage did to each layer (storage, weights
    /// kept and non-zero, bytes before and after), read off the graphs before and after it; null for other stages.
    /// </summary>
    /// <example>
    /// <code>
    /// var layers = quantized.Report.Final.Layers!;
    /// Console.WriteLine($"{layers.Count(l =&gt; l.Storage == LayerStorage.Float32)} of {layers.Count} layers kept float");
    /// </code>
    /// </example>
    public IReadOnlyList<LayerEdit>? Layers { get; init; }

    /// <summary>
    /// Quantize rows of networks with mixed precision (<see cref="NetworkQuantizationOptions.Int4MaxSizeRatio"/>,
    /// <see cref="NetworkQuantizationOptions.MinimumOutputSqnrDb"/>): the layers kept at a higher precision than the rest, the
    /// worst first, with the noise each added; null when mixed precision did not run.
    /// </summary>
    /// <example>
    /// <code>
    /// foreach (var l in report.Final.LayerPrecisions ?? Array.Empty&lt;LayerPrecision&gt;())
    ///     Console.WriteLine(l); // e.g. "/encoder/layer.5/output/dense/MatMul 8-bit (added 21.3 dB at 4 bits, +442368 bytes)"
    /// </code>
    /// </example>
    public IReadOnlyList<LayerPrecision>? LayerPrecisions { get; init; }
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
