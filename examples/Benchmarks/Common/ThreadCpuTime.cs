using System.Runtime.InteropServices;

namespace Benchmarks.Common;

/// <summary>
/// CPU time consumed by the calling thread (Linux and macOS: clock_gettime(CLOCK_THREAD_CPUTIME_ID)). With one
/// intra-op thread, ONNX Runtime computes on the calling thread, so this is the work of a call without the time spent
/// waiting for a core: on a machine shared with other jobs it moves far less than wall time.
/// </summary>
public static class ThreadCpuTime
{
    private struct Timespec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    private static int Clock => RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? 16 : 3; // CLOCK_THREAD_CPUTIME_ID

    /// <summary>Whether this platform can measure it (not on Windows).</summary>
    public static bool Available { get; } = !RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && Try(out _);

    private static bool Try(out double microseconds)
    {
        microseconds = 0;
        try
        {
            if (ClockGetTime(Clock, out var t) != 0) return false;
            microseconds = t.Seconds * 1e6 + t.Nanoseconds / 1e3;
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The calling thread's CPU time so far, in microseconds (0 where <see cref="Available"/> is false).</summary>
    public static double Microseconds() => Available && Try(out var us) ? us : 0;
}
