namespace Microsoft.ML.Compression;

/// <summary>
/// Base class of the errors this library raises for a model or data it cannot compress.
/// Every message says what was wrong and what to do about it.
/// </summary>
/// <example>
/// <code>
/// try { ml.Compression().Quantize("model.onnx").Fit(data); }
/// catch (CompressionException e) { Console.WriteLine(e.Message); }
/// </code>
/// </example>
public class CompressionException : InvalidOperationException
{
    /// <summary>Creates the exception with a message that says what to do.</summary>
    /// <example>
    /// <code>
    /// try { var int8 = ml.Compression().Quantize(model).Fit(data); }
    /// catch (CompressionException e) { Console.WriteLine(e.Message); /* it says what to change: the model, the data or the options */ }
    /// </code>
    /// </example>
    public CompressionException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    /// <example><code>catch (CompressionException e) when (e.InnerException != null) { Console.WriteLine(e.InnerException.Message); /* the error that caused it */ }</code></example>
    public CompressionException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The model is of a kind this library cannot compress (for example an ONNX operator it does not know, or an
/// ML.NET predictor that ONNX export does not support).
/// </summary>
/// <example><code>catch (UnsupportedModelException e) { /* choose another stage or model */ }</code></example>
public sealed class UnsupportedModelException : CompressionException
{
    /// <summary>Creates the exception.</summary>
    /// <example>
    /// <code>
    /// try { ml.Compression().Prune(model).Fit(data); }
    /// catch (UnsupportedModelException e) { Console.WriteLine(e.Message); /* use another stage, or a model this library supports */ }
    /// </code>
    /// </example>
    public UnsupportedModelException(string message) : base(message) { }

    /// <summary>Creates the exception with the error that caused it.</summary>
    /// <example><code>catch (UnsupportedModelException e) when (e.InnerException != null) { Console.WriteLine(e.InnerException.Message); /* the underlying cause */ }</code></example>
    public UnsupportedModelException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The model is broken: a file that is not ONNX, a truncated graph, or weights that are NaN or infinite.
/// </summary>
/// <example><code>catch (InvalidModelException e) { /* re-export or retrain the model */ }</code></example>
public sealed class InvalidModelException : CompressionException
{
    /// <summary>Creates the exception.</summary>
    /// <example>
    /// <code>
    /// try { ml.Compression().Quantize("model.onnx").Fit(data); }
    /// catch (InvalidModelException e) { Console.WriteLine(e.Message); /* re-export the model, e.g. with ml.Model.ConvertToOnnx */ }
    /// </code>
    /// </example>
    public InvalidModelException(string message) : base(message) { }

    /// <summary>Creates the exception with the error that caused it.</summary>
    /// <example>
    /// <code>
    /// catch (InvalidModelException e) when (e.InnerException is Google.Protobuf.InvalidProtocolBufferException)
    /// { /* the file is not ONNX or is truncated: export it again */ }
    /// </code>
    /// </example>
    public InvalidModelException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The data handed to a stage does not fit the model: a missing column, a column of the wrong type, no rows, or
/// values (NaN, infinities) a stage cannot learn from. A <see cref="CompressionException"/> like every error of
/// this library (it derived from <see cref="ArgumentException"/> before version 1.1).
/// </summary>
/// <example><code>catch (DataMismatchException e) { Console.WriteLine(e.ColumnName); }</code></example>
public sealed class DataMismatchException : CompressionException
{
    /// <summary>The column at fault, or null when the problem is not one column (for example an empty data view).</summary>
    /// <example>
    /// <code>
    /// try { chain.Fit(data); }
    /// catch (DataMismatchException e) when (e.ColumnName != null) { Console.WriteLine($"Check column '{e.ColumnName}': {e.Message}"); }
    /// </code>
    /// </example>
    public string? ColumnName { get; }

    /// <summary>Creates the exception.</summary>
    /// <example>
    /// <code>
    /// try { ml.Compression().Quantize(model).Fit(data); }
    /// catch (DataMismatchException e) { /* give data with the columns (and types) the model was trained on */ }
    /// </code>
    /// </example>
    public DataMismatchException(string message, string? columnName = null) : base(message) => ColumnName = columnName;

    /// <summary>Creates the exception around the ML.NET error that revealed the mismatch.</summary>
    /// <example>
    /// <code>
    /// try { ml.Compression().Distill(teacher, student).WithEvaluationData(test).Fit(train); }
    /// catch (DataMismatchException e) { Console.WriteLine(e.InnerException?.Message); } // what ML.NET said
    /// </code>
    /// </example>
    public DataMismatchException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// A zip given to <c>LoadModel</c> is not a model saved from a <see cref="CompressedModel"/>: not a zip, truncated,
/// altered, or written by another program. The inner exception is what ML.NET's loader or the zip reader said.
/// </summary>
/// <example><code>catch (CorruptSavedModelException e) { /* save the model again with mlContext.Model.Save */ }</code></example>
public sealed class CorruptSavedModelException : CompressionException
{
    /// <summary>Creates the exception.</summary>
    /// <example><code>throw new CorruptSavedModelException("The zip has no model in it. Save the model again.");</code></example>
    public CorruptSavedModelException(string message) : base(message) { }

    /// <summary>Creates the exception with the error that revealed the damage.</summary>
    /// <example><code>catch (CorruptSavedModelException e) when (e.InnerException is System.IO.InvalidDataException) { /* not a zip at all */ }</code></example>
    public CorruptSavedModelException(string message, Exception inner) : base(message, inner) { }
}
