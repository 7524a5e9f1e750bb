namespace Microsoft.ML.Compression;

/// <summary>
/// How the pruning and quantization stages store a tree ensemble in their ONNX graph. Every choice gives the same
/// scores (bit for bit): only the bytes differ.
/// </summary>
/// <example><code>new QuantizationOptions { Trees = { Storage = TreeStorage.Compact } }</code></example>
public enum TreeStorage
{
    /// <summary>
    /// The smaller of the two as ML.NET saves it (the deflated ONNX bytes inside the model zip): usually
    /// <see cref="Classic"/> for float leaves, often <see cref="Compact"/> for INT8 leaves and multiclass models.
    /// </summary>
    /// <example><code>var options = new QuantizationOptions { Precision = Precision.Int8, Trees = { Storage = TreeStorage.Auto } }; // the default</code></example>
    Auto,
    /// <summary>
    /// ai.onnx.ml opset-5 <c>TreeEnsemble</c>: branch nodes only, one byte per comparison mode, leaf values in a
    /// table shared by equal leaves. The .onnx file is several times smaller than the export (docs/stages.md); its zip can be larger, since the
    /// export's per-tree node numbering compresses better. For shipping the .onnx file itself.
    /// </summary>
    /// <example>
    /// <code>
    /// var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.8, Trees = { Storage = TreeStorage.Compact } }).Fit(train);
    /// File.WriteAllBytes("model.onnx", pruned.OnnxModel!); // shipping the .onnx file itself
    /// </code>
    /// </example>
    Compact,
    /// <summary><c>TreeEnsembleRegressor</c> (ai.onnx.ml opset 2), as <c>mlContext.Model.ConvertToOnnx</c> exports it.</summary>
    /// <example><code>var options = new PruningOptions { Trees = { Storage = TreeStorage.Classic } }; // as ml.Model.ConvertToOnnx exports trees</code></example>
    Classic,
}
