namespace Microsoft.ML.Compression.Native;

/// <summary>
/// <c>mlContext.Model.Load</c> with one known, random failure taken out. Why: ML.NET writes the ONNX graph of a
/// loaded OnnxTransformer to a temporary file named by <c>Path.GetRandomFileName()</c> ("xxxxxxxx.xxx", a random
/// three-letter extension), and ONNX Runtime reads a file whose extension is ".ort" as its own flatbuffer format, so
/// about one load in 32,768 fails with "ORT model verification failed" (dotnet/machinelearning#7339). A fresh
/// attempt draws a fresh name.
/// </summary>
internal static class ModelLoading
{
    private const int Attempts = 4;

    /// <summary>Loads the model in the stream <paramref name="open"/> returns (called once per attempt; the stream is disposed).</summary>
    public static ITransformer Load(MLContext ml, Func<Stream> open, out DataViewSchema inputSchema)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var stream = open();
                return ml.Model.Load(stream, out inputSchema);
            }
            catch (Exception e) when (attempt < Attempts && IsOrtFormatMisread(e)) { }
        }
    }

    /// <summary>Whether ONNX Runtime took the graph's temporary file for an ORT-format model (the message is all that tells it).</summary>
    internal static bool IsOrtFormatMisread(Exception e)
    {
        for (var x = e; x != null; x = x.InnerException)
            if (x.Message.Contains("LoadOrtModel", StringComparison.Ordinal) || x.Message.Contains("ORT model verification failed", StringComparison.Ordinal))
                return true;
        return false;
    }
}
