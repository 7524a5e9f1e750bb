using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Quantization;

namespace Microsoft.ML.Compression;

/// <summary>
/// Estimator of the quantization stage: weight-only INT8, INT4 or FP16, or dynamic/static INT8 for networks. Create it with
/// <see cref="CompressionCatalog.Quantize(QuantizationOptions)"/>.
/// </summary>
/// <example><code>var int8 = ml.Compression().Quantize(teacher, new QuantizationOptions { Precision = Precision.Int8 }).Fit(train);</code></example>
public sealed class QuantizationEstimator : CompressionStageEstimator
{
    private readonly QuantizationOptions _options;

    internal QuantizationEstimator(MLContext ml, ModelSource? source, QuantizationOptions options) : base(ml, source)
    {
        options.Validate();
        _options = options.Copy();
    }

    /// <inheritdoc/>
    public override string StageName => "Quantize";

    internal override ModelState Apply(ModelState input, IDataView data, out string description)
        => NativeCompression.Quantize(Ml, _options, input, data,
            (ModelState state, IDataView d, out string text) => GraphStage.Apply(Ml, state, d, (graph, context) => GraphQuantizer.Quantize(graph, _options, context), out text),
            out description);
}
