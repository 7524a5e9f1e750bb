namespace Microsoft.ML.Compression;

/// <summary>The form a pruned or quantized ML.NET tree ensemble or linear model takes.</summary>
public enum ModelForm
{
    /// <summary>
    /// Default: it stays an ML.NET model of the same kind (a FastTree ensemble stays a FastTree ensemble), saved in
    /// ML.NET's own format, so an app that references only Microsoft.ML (and FastTree/LightGbm) loads it with
    /// <c>mlContext.Model.Load</c> and scores it with ML.NET's own code. A predictor that has no native writer (e.g.
    /// trees with categorical splits) becomes an ONNX graph, and the report says why.
    /// </summary>
    Native,

    /// <summary>
    /// The predictor becomes an ONNX graph run by ONNX Runtime inside ML.NET (<c>OnnxTransformer</c>), behind the
    /// model's own featurization; loading it needs this library and ONNX Runtime. For a whole-pipeline ONNX file use
    /// <see cref="CompressedModel.ExportToOnnx"/> instead. Networks are always ONNX.
    /// </summary>
    Onnx,
}
