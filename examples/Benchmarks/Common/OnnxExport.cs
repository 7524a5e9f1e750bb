using System.Text;
using System.Text.Json;

namespace Benchmarks.Common;

/// <summary>
/// With <c>--onnx-out DIR</c>, the network scenarios write every variant's ONNX graph (and the test rows they feed
/// it) to DIR/&lt;scenario&gt;/, so that examples/GpuBenchmarks can time the same files on ONNX Runtime's CUDA
/// provider, on a machine with a GPU, without this app (which uses the CPU build of ONNX Runtime).
/// </summary>
public static class OnnxExport
{
    /// <summary>Where to write; null (the default) writes nothing.</summary>
    public static string? Folder { get; set; }

    /// <summary>Writes one variant's graph as DIR/&lt;scenario&gt;/&lt;order&gt;-&lt;variant&gt;.onnx (the order keeps FP32 first).</summary>
    public static void Model(string scenario, int order, string variant, byte[] onnx)
    {
        if (Folder == null) return;
        var dir = Directory.CreateDirectory(Path.Combine(Folder, Slug(scenario)));
        File.WriteAllBytes(Path.Combine(dir.FullName, $"{order:D2}-{Slug(variant)}.onnx"), onnx);
    }

    /// <summary>Writes the rows fed to the graphs' first input: inputs.f32 (row-major float32) and inputs.json (rows, width).</summary>
    public static void Inputs(string scenario, float[][] rows)
    {
        if (Folder == null || rows.Length == 0) return;
        var dir = Directory.CreateDirectory(Path.Combine(Folder, Slug(scenario)));
        int width = rows[0].Length;
        using (var stream = File.Create(Path.Combine(dir.FullName, "inputs.f32")))
        using (var writer = new BinaryWriter(stream))
            foreach (var row in rows)
                foreach (var v in row) writer.Write(v);
        File.WriteAllText(Path.Combine(dir.FullName, "inputs.json"), JsonSerializer.Serialize(new { rows = rows.Length, width }));
    }

    private static string Slug(string name)
    {
        var sb = new StringBuilder();
        foreach (var c in name.ToLowerInvariant())
            if (char.IsAsciiLetterOrDigit(c)) sb.Append(c);
            else if (sb.Length > 0 && sb[^1] != '-') sb.Append('-');
        return sb.ToString().Trim('-');
    }
}
