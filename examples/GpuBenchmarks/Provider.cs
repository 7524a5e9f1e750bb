using Microsoft.ML.OnnxRuntime;

namespace GpuBenchmarks;

/// <summary>An ONNX Runtime execution provider to time on: the CPU provider, or CUDA on one device.</summary>
public sealed class Provider
{
    private readonly int? _cudaDevice;

    private Provider(string name, int? cudaDevice)
    {
        Name = name;
        _cudaDevice = cudaDevice;
    }

    public string Name { get; }

    public static Provider Cpu { get; } = new("CPU", null);

    public static Provider Cuda(int device) => new($"CUDA:{device}", device);

    /// <summary>Session options for this provider (graph optimizations on; nodes CUDA lacks fall back to the CPU).</summary>
    public SessionOptions Options()
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        try
        {
            if (_cudaDevice is int device) options.AppendExecutionProvider_CUDA(device);
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    /// <summary>Null when the provider starts; otherwise ONNX Runtime's reason.</summary>
    public string? Check()
    {
        try
        {
            using var options = Options();
            return null;
        }
        catch (OnnxRuntimeException e)
        {
            return e.Message;
        }
    }
}
