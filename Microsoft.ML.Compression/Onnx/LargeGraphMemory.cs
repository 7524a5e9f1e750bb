using System.Runtime;
using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Returns model-sized garbage to the OS between the phases of compressing a large graph. ML.NET's OnnxTransformer
/// reads its whole graph into an array when it is saved and copies it again when loaded, and a process with memory
/// to spare collects such arrays late: without a collection the next phase's buffers pile on top of them (measured on
/// a 256 MB network: gigabytes of a weight-only INT8 peak). A full blocking collection that compacts the large-object
/// heap costs milliseconds next to a phase that handles hundreds of MB, so it runs only for graphs that large.
/// </summary>
internal static class LargeGraphMemory
{
    /// <summary>Graphs from this size on (64 MB).</summary>
    public const long LargeBytes = 64L << 20;

    public static bool IsLarge(ModelProto? graph) => graph != null && OnnxModelIO.SerializedBytes(graph) >= LargeBytes;

    /// <summary>Collects garbage now when <paramref name="graph"/> is large; does nothing otherwise.</summary>
    public static void Release(ModelProto? graph)
    {
        if (!IsLarge(graph)) return;
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }
}
