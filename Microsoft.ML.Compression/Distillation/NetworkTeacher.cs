namespace Microsoft.ML.Compression;

/// <summary>What a network teacher's output holds.</summary>
/// <example>
/// <code>
/// var teacher = new NetworkTeacher { OutputColumn = "probabilities", Output = NetworkOutputKind.Probabilities };
/// var distilled = ml.Compression().Distill("letter_mlp.onnx", student, new DistillationOptions { NetworkTeacher = teacher }).Fit(train);
/// </code>
/// </example>
public enum NetworkOutputKind
{
    /// <summary>Raw scores before softmax (multiclass, or binary with two outputs) or sigmoid (binary with one output). The default.</summary>
    /// <example><code>var teacher = new NetworkTeacher { Output = NetworkOutputKind.Logits }; // the default: raw scores before softmax or sigmoid</code></example>
    Logits,
    /// <summary>Probabilities: one per class (softmax already applied), or for binary a single probability of the positive class.</summary>
    /// <example><code>var teacher = new NetworkTeacher { OutputColumn = "probabilities", Output = NetworkOutputKind.Probabilities }; // softmax already applied</code></example>
    Probabilities,
}

/// <summary>
/// How to read an ONNX network used as a distillation teacher (<see cref="DistillationOptions.NetworkTeacher"/>).
/// The task comes from the student's trainer: binary (2 outputs, index 1 = positive class, or 1 output), multiclass
/// (K outputs, one per class) or regression (1 output). Without it the network's only output (or the one named
/// "Score") is read as logits, and the class values are inferred from the data's label column.
/// </summary>
/// <example>
/// <code>
/// var options = new DistillationOptions { NetworkTeacher = new NetworkTeacher { OutputColumn = "Score", ClassValues = new[] { "nonspam", "spam" } } };
/// var distilled = ml.Compression().Distill("spam_mlp.onnx", student, options).Fit(train);
/// </code>
/// </example>
public sealed class NetworkTeacher
{
    /// <summary>The network output to read; null (default) takes the network's only output, or the one named "Score".</summary>
    /// <example><code>var teacher = new NetworkTeacher { OutputColumn = "logits" }; // a network with several outputs: name the one to read</code></example>
    public string? OutputColumn { get; set; }

    /// <summary>Whether the output holds logits (default) or probabilities.</summary>
    /// <example><code>var teacher = new NetworkTeacher { Output = NetworkOutputKind.Probabilities };</code></example>
    public NetworkOutputKind Output { get; set; } = NetworkOutputKind.Logits;

    /// <summary>
    /// Classification: the class value of each output index, in index order, of the data's label type (e.g.
    /// <c>"nonspam", "spam"</c>, or <c>false, true</c>). For binary, index 0 is the negative class and index 1 the
    /// positive. Null (default): a Boolean label gives false/true; any other label its distinct values sorted
    /// (ordinal for text, numeric order for numbers) — for a key-typed label, its key values sorted, whatever the
    /// key's own numbering (the student still learns in that numbering: classes are matched by value).
    /// </summary>
    /// <example><code>var teacher = new NetworkTeacher { ClassValues = new object[] { "nonspam", "spam" } }; // index 0 negative, index 1 positive</code></example>
    public IReadOnlyList<object>? ClassValues { get; set; }

    internal NetworkTeacher Clone() => new() { OutputColumn = OutputColumn, Output = Output, ClassValues = ClassValues?.ToArray() };
}
