namespace Microsoft.ML.Compression;

/// <summary>What a compressed model predicts; it decides the output columns and the metric in the report.</summary>
/// <example><code>if (compressed.Report.Task == ModelTask.BinaryClassification) { /* AUC in the report */ }</code></example>
public enum ModelTask
{
    /// <summary>Outputs <c>Score</c>, <c>Probability</c> (when calibrated) and <c>PredictedLabel</c> (Boolean); metric AUC.</summary>
    /// <example><code>if (compressed.Report.Task == ModelTask.BinaryClassification) Console.WriteLine($"AUC {compressed.Report.Final.Metric:F4}");</code></example>
    BinaryClassification,
    /// <summary>Outputs a <c>Score</c> vector and a key-typed <c>PredictedLabel</c>; metric micro accuracy.</summary>
    /// <example><code>if (compressed.Report.Task == ModelTask.MulticlassClassification) Console.WriteLine($"micro accuracy {compressed.Report.Final.Metric:F4}");</code></example>
    MulticlassClassification,
    /// <summary>Outputs a <c>Score</c> of type Single; metric RMSE.</summary>
    /// <example><code>if (compressed.Report.Task == ModelTask.Regression) Console.WriteLine($"RMSE {compressed.Report.Final.Metric:F4}"); // lower is better</code></example>
    Regression,
    /// <summary>
    /// An ONNX network given as a file, stream or OnnxTransformer: its own outputs are kept as they are. Metric
    /// "accuracy" when the data has a class label (key, Boolean or integer-valued number) that indexes into the
    /// network's first output: the share of rows whose largest output value is at the label; otherwise none.
    /// </summary>
    /// <example>
    /// <code>
    /// var int8 = ml.Compression().Quantize("mlp.onnx").Fit(calibration);
    /// bool network = int8.Report.Task == ModelTask.Network; // true: the graph's own outputs; accuracy when the data has class labels
    /// </code>
    /// </example>
    Network,
}
