using System.Runtime;
using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Returns model-sized garbage to the OS between the phases of compressing a large graph. ML.NET's OnnxTransformer
/// reads its whole graph into arrays when it is created and saved, and a process with memory to spare collects such
/// arrays late: without a collection the next phase's buffers pile on top of them. A plain full collection is not
/// enough either: .NET's region-based GC keeps the freed regions committed, so the working set stays at its high-water
/// mark (measured on a 128 MB network: 750 MB resident after the original was measured, 130 MB of it live; 211 MB
/// after an aggressive collection). An aggressive, compacting collection costs milliseconds next to a phase that
/// handles hundreds of MB, so it runs only while a graph that large is being compressed.
/// </summary>
internal static class LargeGraphMemory
{
    /// <summary>Graphs from this size on (64 MB).</summary>
    public const long LargeBytes = 64L << 20;

    public static bool IsLarge(ModelProto? graph) => graph != null && OnnxModelIO.SerializedBytes(graph) >= LargeBytes;

    /// <summary>Collects garbage now, and returns the freed memory to the OS, when <paramref name="large"/>; does nothing otherwise.</summary>
    public static void Release(bool large)
    {
        if (!large) return;
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
