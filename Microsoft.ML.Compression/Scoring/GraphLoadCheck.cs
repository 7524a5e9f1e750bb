using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Whether ONNX Runtime loads a graph the user gave: a graph it rejects cannot be scored, so no stage could measure or
/// check its result. Run after the protobuf checks of <see cref="ModelValidation"/> and after
/// <see cref="OnnxRuntimeNative.Require"/> (an app without the native runtime gets that typed error first).
/// </summary>
internal static class GraphLoadCheck
{
    public static void Run(ModelProto model, string source)
    {
        try
        {
            // From a file with the weights as external data: no serialized copy of the model, nor a second one
            // parsed by ONNX Runtime; and no weight packing (the session only checks that the graph loads).
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
            options.AddSessionConfigEntry("session.disable_prepacking", "1");
            using var file = GraphFile.Write(model);
            using var session = new InferenceSession(file.Path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidModelException(
                $"ONNX Runtime cannot load the ONNX model {source} ({e.Message.Split('\n')[0]}). Check that it runs in ONNX Runtime 1.31 (for example with onnx.checker.check_model and a test run), then re-export it.", e);
        }
    }
}
