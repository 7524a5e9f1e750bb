namespace Microsoft.ML.Compression;

/// <summary>
/// The typed error of a graph that refuses the rows it is given: ML.NET wraps ONNX Runtime's refusal (an input shape
/// that does not match its column) in InvalidOperationExceptions, which first show when the rows are read.
/// </summary>
internal static class ScoringErrors
{
    /// <summary>Whether <paramref name="e"/> is such a refusal rather than one of this library's own errors.</summary>
    public static bool IsRefusedRows(Exception e) => e is InvalidOperationException and not CompressionException;

    /// <summary>A <see cref="DataMismatchException"/> naming <paramref name="model"/> and the innermost cause.</summary>
    public static DataMismatchException CannotScore(string model, Exception e)
    {
        var cause = e;
        while (cause.InnerException != null) cause = cause.InnerException;
        return new DataMismatchException($"{model} cannot score the data ({cause.Message}). Give one column per graph input with the input's element type and shape.", e);
    }
}
