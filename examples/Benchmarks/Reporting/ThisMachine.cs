using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace Benchmarks.Reporting;

/// <summary>The <see cref="RunInfo"/> of a run on this machine: CPU from /proc/cpuinfo, cores, runtimes, load.</summary>
public static class ThisMachine
{
    public static RunInfo Describe(bool quick, DateTimeOffset startedAt) => new()
    {
        Date = startedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        Cpu = Cpu(),
        Cores = Environment.ProcessorCount,
        DotNet = Environment.Version.ToString(),
        OnnxRuntime = OrtEnv.Instance().GetVersionString(),
        Quick = quick,
        Conditions = LoadAverage() is double load ? $"1-minute load average {load.ToString("F1", CultureInfo.InvariantCulture)} at the start" : null,
    };

    /// <summary>
    /// The model name and the vector extensions ONNX Runtime's integer kernels depend on (VNNI decides whether
    /// dynamic and static INT8 gain): "AMD EPYC (AVX-512 VNNI)", "AMD EPYC (AVX2)". Elsewhere than Linux, the architecture.
    /// </summary>
    public static string Cpu()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var lines = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Length > 0).ToArray(); // the first CPU's block
                string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "";
                var flags = Field("flags").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
                string vector = flags.Contains("avx512_vnni") ? "AVX-512 VNNI" : flags.Contains("avx_vnni") ? "AVX-VNNI"
                    : flags.Contains("avx512f") ? "AVX-512, no VNNI" : flags.Contains("avx2") ? "AVX2, no VNNI" : "no AVX2";
                string model = Field("model name");
                if (model.Length > 0) return $"{model} ({vector})";
            }
        }
        catch (IOException) { } // unreadable: fall back to the architecture
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static double? LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg")
                && double.TryParse(File.ReadAllText("/proc/loadavg").Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var load) ? load : null;
        }
        catch (IOException) { return null; }
    }
}
