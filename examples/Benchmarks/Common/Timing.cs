using System.Diagnostics;

namespace Benchmarks.Common;

/// <summary>Warm-up, then repeated timed runs; the median is reported.</summary>
public static class Timing
{
    public static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        if (v.Length == 0) return double.NaN;
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>
    /// Rows per second of <paramref name="pass"/> (which returns how many rows it handled): one warm-up pass, then
    /// <see cref="Settings.Runs"/> runs, each repeating the pass for at least <see cref="Settings.SecondsPerRun"/>; the median run.
    /// </summary>
    public static double RowsPerSecond(Settings s, Func<long> pass)
    {
        pass();
        var rates = new List<double>();
        for (int r = 0; r < s.Runs; r++)
        {
            long rows = 0;
            var sw = Stopwatch.StartNew();
            do rows += pass(); while (sw.Elapsed.TotalSeconds < s.SecondsPerRun);
            rates.Add(rows / sw.Elapsed.TotalSeconds);
        }
        return Median(rates);
    }

    /// <summary>
    /// Median wall time of one call of <paramref name="call"/>, in microseconds: warm-up calls, then every call of
    /// <see cref="Settings.Runs"/> time-boxed runs timed on its own.
    /// </summary>
    public static double MedianMicroseconds(Settings s, Action call, int warmup = 20)
    {
        for (int i = 0; i < warmup; i++) call();
        var times = new List<double>();
        for (int r = 0; r < s.Runs; r++)
        {
            var run = Stopwatch.StartNew();
            do
            {
                long t0 = Stopwatch.GetTimestamp();
                call();
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            } while (run.Elapsed.TotalSeconds < s.SecondsPerRun);
        }
        return Median(times);
    }
}
