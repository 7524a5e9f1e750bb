namespace Microsoft.ML.Compression;

/// <summary>What a compressed model predicts; it decides the output columns and the metric in the report.</summary>
/// <example><code>if (compressed.Report.Task == ModelTask.BinaryClassification) { /* AUC in the report */ }</code></example>
public enum ModelTask
{
    /// <summary>Outputs <c>Score</c>, <c>Probability</c> (when calibrated) and <c>PredictedLabel</c> (Boolean); metric AUC.</summary>
    BinaryClassification,
    /// <summary>Outputs a <c>Score</c> vector and a key-typed <c>PredictedLabel</c>; metric micro accuracy.</summary>
    MulticlassClassification,
    /// <summary>Outputs a <c>Score</c> of type Single; metric RMSE.</summary>
    Regression,
    /// <summary>An ONNX network given as a file, stream or OnnxTransformer: its own outputs are kept as they are.</summary>
    Network,
}
