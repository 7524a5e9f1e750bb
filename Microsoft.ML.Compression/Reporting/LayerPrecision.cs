namespace Microsoft.ML.Compression;

/// <summary>
/// A layer that mixed precision kept at a higher precision than the stage's <see cref="QuantizationOptions.Precision"/>,
/// and why: how much noise it added at the lower precision, measured on the calibration rows, and what keeping it cost.
/// </summary>
/// <example>
/// <code>
/// foreach (var l in report.Final.LayerPrecisions ?? Array.Empty&lt;LayerPrecision&gt;())
///     Console.WriteLine($"{l.Name}: {l.Bits} bits (at {l.LowerBits} bits it added noise at {l.AddedSqnrDb:F1} dB)");
/// </code>
/// </example>
public sealed class LayerPrecision
{
    /// <summary>The weight initializer, embedding table or node that was kept (as named in the float graph).</summary>
    /// <example><code>bool embeddingKept = report.Final.LayerPrecisions?.Any(l =&gt; l.Name.Contains("embeddings")) == true;</code></example>
    public string Name { get; init; } = "";

    /// <summary>The precision it was kept at: 8 (INT8) or 32 (float).</summary>
    /// <example><code>var int8 = report.Final.LayerPrecisions?.Where(l =&gt; l.Bits == 8).Select(l =&gt; l.Name);</code></example>
    public int Bits { get; init; }

    /// <summary>The precision the rest of the network got: 4 (INT4) or 8 (INT8).</summary>
    /// <example><code>var from4 = report.Final.LayerPrecisions?.Where(l =&gt; l.LowerBits == 4);</code></example>
    public int LowerBits { get; init; }

    /// <summary>
    /// The noise the layer added at <see cref="LowerBits"/> (noise-to-signal power of its output minus that of its
    /// input, against the float network), as an SQNR in dB: lower means more noise added. The layers are kept worst first.
    /// </summary>
    /// <example><code>var worst = report.Final.LayerPrecisions?.MinBy(l =&gt; l.AddedSqnrDb);</code></example>
    public double AddedSqnrDb { get; init; }

    /// <summary>Estimated bytes the higher precision adds to the ONNX file (0 when the layer was left float for accuracy alone).</summary>
    /// <example><code>long cost = report.Final.LayerPrecisions?.Sum(l =&gt; l.ExtraBytes) ?? 0;</code></example>
    public long ExtraBytes { get; init; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Bits}-bit (added {AddedSqnrDb:F1} dB at {LowerBits} bits, +{ExtraBytes} bytes)";
}
