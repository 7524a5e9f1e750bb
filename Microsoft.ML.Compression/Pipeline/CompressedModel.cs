using Microsoft.ML.Data;

namespace Microsoft.ML.Compression;

/// <summary>
/// The result of fitting a compression chain: one transformer that takes the raw input columns and produces the
/// predictions, made only of standard ML.NET transformers (the compressed model runs through ONNX Runtime via
/// OnnxTransformer), plus the <see cref="Report"/> of what each stage did. Saved with <c>mlContext.Model.Save</c>
/// it loads back with <c>mlContext.Model.Load</c> as a plain <see cref="TransformerChain{TLastTransformer}"/>.
/// </summary>
/// <example>
/// <code>
/// CompressedModel compressed = chain.Fit(train);
/// var metrics = ml.BinaryClassification.Evaluate(compressed.Transform(test));
/// Console.WriteLine(compressed.Report);
/// ml.Model.Save(compressed, train.Schema, "compressed.zip");
/// </code>
/// </example>
public sealed class CompressedModel : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> _chain;
    private readonly byte[]? _onnx;

    internal CompressedModel(TransformerChain<ITransformer> chain, CompressionReport report, byte[]? onnx)
    {
        _chain = chain;
        Report = report;
        _onnx = onnx;
    }

    /// <summary>What each stage did: sizes, counts and metrics before and after.</summary>
    /// <example><code>Console.WriteLine(compressed.Report);</code></example>
    public CompressionReport Report { get; }

    /// <summary>The standard ML.NET transformers this model runs, in order (featurization, OnnxTransformer, output columns).</summary>
    /// <example><code>foreach (var t in compressed.Transformers) Console.WriteLine(t.GetType().Name);</code></example>
    public TransformerChain<ITransformer> Transformers => _chain;

    /// <summary>The compressed ONNX graph (of the predictor or network), or null when the result is a native ML.NET model.</summary>
    /// <example><code>File.WriteAllBytes("model.onnx", compressed.OnnxModel!);</code></example>
    public byte[]? OnnxModel => _onnx?.ToArray();

    /// <inheritdoc/>
    public bool IsRowToRowMapper => ((ITransformer)_chain).IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)_chain).GetRowToRowMapper(inputSchema);

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) => _chain.Transform(input);

    // Saved as the inner chain of standard transformers, so loading needs nothing of this type.
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_chain).Save(ctx);

    /// <summary>Releases the ONNX Runtime sessions of the model.</summary>
    public void Dispose() => _chain.Dispose();
}
