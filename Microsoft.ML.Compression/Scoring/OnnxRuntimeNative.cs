using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Whether ONNX Runtime's native library loads. The package depends only on ONNX Runtime's managed API, so that an
/// app that compresses only trees and linear models (which stay ML.NET models) does not restore the ~400 MB native
/// runtime; every path that runs a graph asks here first and gets a typed error that says which package to add.
/// </summary>
internal static class OnnxRuntimeNative
{
    private static readonly Lazy<Exception?> LoadError = new(TryLoad);

    /// <summary>Throws <see cref="OnnxRuntimeNotFoundException"/> when the native runtime cannot be loaded.</summary>
    /// <param name="what">What needs it, for the message (e.g. "Quantizing an ONNX network").</param>
    public static void Require(string what)
    {
        if (LoadError.Value is { } error)
            throw new OnnxRuntimeNotFoundException(
                $"{what} runs ONNX Runtime, whose native library this app does not have (the loader's error is the inner exception). " +
                "Add the runtime package that fits the app: dotnet add package Microsoft.ML.OnnxRuntime (CPU), or Microsoft.ML.OnnxRuntime.Gpu. " +
                "Trees and linear models are compressed without it (leave QuantizationOptions.Form / PruningOptions.Form at ModelForm.Native).", error);
    }

    private static Exception? TryLoad()
    {
        try
        {
            _ = OrtEnv.Instance(); // loads the native library and creates ONNX Runtime's environment
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException
                                      or TypeInitializationException { InnerException: DllNotFoundException or EntryPointNotFoundException or BadImageFormatException })
        {
            return e;
        }
    }
}
