namespace Microsoft.ML.Compression;

/// <summary>How many bits the quantized weights keep.</summary>
/// <example><code>new QuantizationOptions { Precision = Precision.Float16 }</code></example>
public enum Precision
{
    /// <summary>8-bit integers, symmetric, one scale per output channel, dequantized by ONNX's DequantizeLinear. About 4× smaller weights.</summary>
    Int8,
    /// <summary>IEEE half precision weights, cast back to float at run time. About 2× smaller weights, nearly lossless.</summary>
    Float16,
}

/// <summary>Options of the quantization stage (<see cref="CompressionCatalog.Quantize(QuantizationOptions)"/>).</summary>
/// <example>
/// <code>
/// var quantize = ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8, ExcludedNodes = new[] { "fc_out" } });
/// </code>
/// </example>
public sealed class QuantizationOptions
{
    /// <summary>Target precision of the weights. Default <see cref="Precision.Int8"/>.</summary>
    public Precision Precision { get; set; } = Precision.Int8;

    /// <summary>
    /// INT8 only: one scale per output channel (true, default: accurate where channels differ in range) or one
    /// scale for the whole tensor (false).
    /// </summary>
    public bool PerChannel { get; set; } = true;

    /// <summary>Names of ONNX nodes, or of their weight initializers, to leave in float (e.g. a sensitive last layer).</summary>
    public IReadOnlyCollection<string> ExcludedNodes { get; set; } = Array.Empty<string>();

    internal void Validate()
    {
        if (!Enum.IsDefined(Precision))
            throw new ArgumentOutOfRangeException(nameof(Precision), Precision, "Precision must be Int8 or Float16.");
        if (ExcludedNodes == null)
            throw new ArgumentNullException(nameof(ExcludedNodes), "ExcludedNodes may be empty but not null.");
    }
}
