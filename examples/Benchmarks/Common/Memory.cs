using System.Diagnostics;

namespace Benchmarks.Common;

/// <summary>
/// Peak resident memory of the process during one scenario. On Linux the kernel's peak (VmHWM, which
/// <see cref="Process.PeakWorkingSet64"/> reads) is reset at the scenario's start by writing 5 to
/// /proc/self/clear_refs; elsewhere the peak counts from the start of the process and says so.
/// </summary>
public sealed class MemoryScope
{
    private readonly long _allocatedAtStart = GC.GetTotalAllocatedBytes(precise: false);

    public bool PeakWasReset { get; }

    private MemoryScope(bool reset) => PeakWasReset = reset;

    public static MemoryScope Start()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        bool reset = false;
        try
        {
            if (OperatingSystem.IsLinux()) { File.WriteAllText("/proc/self/clear_refs", "5"); reset = true; }
        }
        catch (Exception) { reset = false; } // not permitted or not supported: the peak is then since process start
        return new MemoryScope(reset);
    }

    public MemoryFigures Stop()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return new MemoryFigures(
            PeakWorkingSetMB: p.PeakWorkingSet64 / 1048576.0,
            PeakSince: PeakWasReset ? "scenario start" : "process start",
            ManagedAllocatedMB: (GC.GetTotalAllocatedBytes(precise: false) - _allocatedAtStart) / 1048576.0,
            ManagedHeapAtLastGcMB: GC.GetGCMemoryInfo(GCKind.Any).HeapSizeBytes / 1048576.0);
    }

    /// <summary>Managed bytes allocated per call of <paramref name="call"/> on this thread (after a warm-up call).</summary>
    public static double AllocatedBytesPerCall(Action call, int calls = 200)
    {
        call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < calls; i++) call();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)calls;
    }
}

/// <summary>Memory figures of one scenario.</summary>
public sealed record MemoryFigures(double PeakWorkingSetMB, string PeakSince, double ManagedAllocatedMB, double ManagedHeapAtLastGcMB);
