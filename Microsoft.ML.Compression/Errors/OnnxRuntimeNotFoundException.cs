namespace Microsoft.ML.Compression;

/// <summary>
/// A network or an ONNX-form model needs ONNX Runtime's native library, and the app does not have it. This package
/// brings only ONNX Runtime's managed API (trees and linear models are compressed without it); add the runtime that
/// fits the app, as with ML.NET's <c>Microsoft.ML.OnnxTransformer</c>.
/// </summary>
/// <example>
/// <code>
/// try { ml.Compression().Quantize("model.onnx").Fit(data); }
/// catch (OnnxRuntimeNotFoundException e) { Console.WriteLine(e.Message); /* dotnet add package Microsoft.ML.OnnxRuntime */ }
/// </code>
/// </example>
public sealed class OnnxRuntimeNotFoundException : CompressionException
{
    /// <summary>Creates the exception; <paramref name="inner"/> is the loader's error.</summary>
    /// <example><code>catch (OnnxRuntimeNotFoundException e) { Console.WriteLine(e.InnerException?.Message); /* which library the loader looked for */ }</code></example>
    public OnnxRuntimeNotFoundException(string message, Exception inner) : base(message, inner) { }
}
