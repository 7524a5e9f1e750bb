namespace Microsoft.ML.Compression;

/// <summary>How a layer's weights are stored after a stage.</summary>
public enum LayerStorage
{
    /// <summary>32-bit float (left float, or pruned in place).</summary>
    Float32,
    /// <summary>16-bit float.</summary>
    Float16,
    /// <summary>Signed 8-bit integers with float scales.</summary>
    Int8,
    /// <summary>Unsigned 8-bit integers with float scales and zero points.</summary>
    UInt8,
    /// <summary>4-bit integers in blocks, each block with a float scale.</summary>
    Int4,
    /// <summary>The weight tensor is gone from the graph (its layer was removed or folded into another).</summary>
    Removed,
}

/// <summary>
/// What one stage did to one layer of a network (or of an exported linear model): a weight tensor of a MatMul, Gemm
/// or Conv, or an embedding table read by Gather, measured by comparing the graph before and after the stage.
/// </summary>
/// <example>
/// <code>
/// foreach (var layer in compressed.Report.Final.Layers ?? Array.Empty&lt;LayerEdit&gt;())
///     Console.WriteLine($"{layer.Layer}: {layer.Storage}, {layer.Sparsity:P0} zero, {layer.BytesBefore} → {layer.BytesAfter} bytes");
/// </code>
/// </example>
public sealed class LayerEdit
{
    /// <summary>The node that reads the weights (its name, or the tensor's name when the node has none).</summary>
    public string Layer { get; init; } = "";
    /// <summary>The weight initializer's name in the graph that went in.</summary>
    public string Tensor { get; init; } = "";
    /// <summary>The operator that reads it: MatMul, Gemm, Conv or Gather.</summary>
    public string OpType { get; init; } = "";
    /// <summary>How the weights are stored after the stage.</summary>
    public LayerStorage Storage { get; init; }
    /// <summary>Weights (elements) before the stage.</summary>
    public long Weights { get; init; }
    /// <summary>Weights stored after the stage: fewer when structured pruning removed rows or columns, 0 when removed.</summary>
    public long StoredWeights { get; init; }
    /// <summary>Stored weights that are not zero after the stage; null where that cannot be read off the stored form (INT4, varying zero points).</summary>
    public long? NonZero { get; init; }
    /// <summary>Bytes of the weights before the stage.</summary>
    public long BytesBefore { get; init; }
    /// <summary>Bytes of the weights after the stage, scales and zero points included.</summary>
    public long BytesAfter { get; init; }
    /// <summary>Whether integer weights have one scale per output channel (or block) rather than one per tensor.</summary>
    public bool PerChannel { get; init; }
    /// <summary>INT4: weights per block that share a scale; null otherwise.</summary>
    public int? BlockSize { get; init; }

    /// <summary>Share of the weights that went in that are now zero or removed; null when <see cref="NonZero"/> is unknown.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double? Sparsity => NonZero is long nz && Weights > 0 ? 1.0 - (double)nz / Weights : null;

    /// <summary>The layer in one line, e.g. "/fc1/Gemm Int8 per channel, 51.2 % zero, 40000 → 10128 bytes".</summary>
    public override string ToString()
        => $"{Layer} {Storage}{(PerChannel ? " per channel" : "")}{(BlockSize is int b ? $" blocks of {b}" : "")}" +
           $"{(Sparsity is double s ? $", {s:P1} zero" : "")}{(StoredWeights != Weights ? $", {StoredWeights} of {Weights} weights kept" : "")}, {BytesBefore} → {BytesAfter} bytes";
}
