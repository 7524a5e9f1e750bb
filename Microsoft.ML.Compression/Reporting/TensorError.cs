namespace Microsoft.ML.Compression;

/// <summary>
/// How closely one tensor of a quantized network follows the float network on the calibration rows: the
/// signal-to-quantization-noise ratio 10·log10(Σ x² / Σ (x − x̂)²) in decibels, over every value of every row
/// (x float, x̂ quantized). About 6 dB per bit: 40 dB or more is a close match, under 20 dB a visible loss.
/// </summary>
/// <example><code>foreach (var e in report.Final.TensorErrors ?? Array.Empty&lt;TensorError&gt;()) Console.WriteLine($"{e.Name}: {e.SqnrDb:F1} dB");</code></example>
public sealed class TensorError
{
    /// <summary>The tensor's name in the float graph: an input of a quantized operator, or a graph output.</summary>
    /// <example>
    /// <code>
    /// var worst = report.Final.TensorErrors?.MinBy(e =&gt; e.SqnrDb);
    /// Console.WriteLine(worst?.Name); // the float graph's tensor that quantization disturbs most
    /// </code>
    /// </example>
    public string Name { get; init; } = "";

    /// <summary>SQNR in dB; <see cref="MaxSqnrDb"/> when the quantized values equal the float ones exactly.</summary>
    /// <example><code>bool lossy = report.Final.TensorErrors?.Any(e =&gt; e.SqnrDb &lt; 20) == true; // under 20 dB: a visible loss</code></example>
    public double SqnrDb { get; init; }

    /// <summary>The value reported for a tensor without any error (an infinite ratio cannot be stored in JSON).</summary>
    /// <example><code>var exact = report.Final.TensorErrors?.Where(e =&gt; e.SqnrDb == TensorError.MaxSqnrDb); // tensors quantization left unchanged</code></example>
    public const double MaxSqnrDb = 200;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {SqnrDb:F1} dB";
}
