using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// <c>ml.Compression().TokenizeText</c>: a text column as the int64 id, mask and type columns of a Transformer encoder,
/// exactly as its tokenizer numbers the words, padded to the sequence length; and, end to end, raw e-mails tokenized
/// this way calibrate and are scored by the token-id Transformer fixture.
/// </summary>
[TestClass]
public sealed class TokenizeTextTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
        public float Label { get; set; }
    }

    private static BertTokenizer TinyBert()
    {
        var vocab = string.Join("\n", "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "free", "money");
        return BertTokenizer.Create(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(vocab)), new BertOptions { LowerCaseBeforeTokenization = true });
    }

    private static long[][] Column(IDataView data, string name) => data.GetColumn<VBuffer<long>>(name).Select(v => v.DenseValues().ToArray()).ToArray();

    [TestMethod]
    public void BertIdsArePaddedAndMaskedToTheSequenceLength()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "Hello worlds" }, new TextRow { Text = "free money free money free money" }, new TextRow { Text = "" } });
        var tokens = _ml.Compression().TokenizeText(data, "Text", TinyBert(), maxTokens: 6);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Int64, 6), tokens.Schema["input_ids"].Type);
        var ids = Column(tokens, "input_ids");
        var mask = Column(tokens, "attention_mask");
        CollectionAssert.AreEqual(new long[] { 2, 5, 6, 7, 3, 0 }, ids[0], "[CLS] hello world ##s [SEP] [PAD]");
        CollectionAssert.AreEqual(new long[] { 1, 1, 1, 1, 1, 0 }, mask[0]);
        Assert.AreEqual(2, ids[1][0], "a long text keeps [CLS] first");
        CollectionAssert.AreEqual(new long[] { 1, 1, 1, 1, 1, 1 }, mask[1], "and is cut to the sequence length");
        CollectionAssert.AreEqual(new long[] { 2, 3, 0, 0, 0, 0 }, ids[2], "an empty text is [CLS] [SEP]");
        Assert.IsTrue(Column(tokens, "token_type_ids").All(r => r.All(t => t == 0)));
        Assert.AreEqual("Hello worlds", tokens.GetColumn<string>("Text").First(), "the text column stays");
    }

    [TestMethod]
    public void ColumnsFollowTheOptionsAndBadInputIsTyped()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "hello" } });
        var tokens = _ml.Compression().TokenizeText(data, "Text", TinyBert(), 4,
            new TokenizedTextOptions { InputIdsColumnName = "ids", AttentionMaskColumnName = null, TokenTypeIdsColumnName = null, PaddingId = 9 });
        CollectionAssert.AreEqual(new long[] { 2, 5, 3, 9 }, Column(tokens, "ids")[0]);
        Assert.IsNull(tokens.Schema.GetColumnOrNull("attention_mask"));
        Assert.IsFalse(tokens.Schema.Any(c => c.Name.StartsWith("__", StringComparison.Ordinal)), "no hidden column is left");
        var missing = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().TokenizeText(data, "Body", TinyBert(), 4));
        Assert.AreEqual("Body", missing.ColumnName);
        Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().TokenizeText(data, "Label", TinyBert(), 4));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().TokenizeText(data, "Text", TinyBert(), 0));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void RawEmailsTokenizedThisWayCalibrateAndScoreTheTokenIdTransformer()
    {
        // The fixture's own tokenizer (tools/train_transformer.py): lower-cased [A-Za-z0-9]+ words looked up in its
        // vocabulary, <unk> otherwise, no special tokens, <pad> = 0, 128 positions.
        var tokenizer = WordPieceTokenizer.Create(TestData.Path(Path.Combine("models", "spam_transformer_vocab.txt")), new WordPieceOptions
        {
            UnknownToken = "<unk>", Normalizer = new LowerCaseNormalizer(), PreTokenizer = new RegexPreTokenizer(new Regex("[A-Za-z0-9]+"), null),
        });
        var rows = _ml.Data.CreateEnumerable<MailRow>(_ml.Data.LoadFromTextFile<MailRow>(TestData.Path("spamassassin_3000.csv"), separatorChar: ',', hasHeader: true, allowQuoting: true), reuseRowObject: false)
            .Take(300).Select(m => new TextRow { Text = m.Subject + " " + m.Body, Label = m.Label == "spam" ? 1 : 0 }).ToList();
        var data = _ml.Data.LoadFromEnumerable(rows);
        var tokens = _ml.Data.Cache(_ml.Compression().TokenizeText(data, "Text", tokenizer, 128, new TokenizedTextOptions { TokenTypeIdsColumnName = null }));
        var model = TestData.Network("spam_token_transformer");
        var fp32 = _ml.Transforms.ApplyOnnxModel(model).Fit(tokens);
        using var int8 = _ml.Compression().Quantize(model, new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(tokens);
        double fp32Accuracy = TestData.LogitAccuracy(fp32, tokens), int8Accuracy = TestData.LogitAccuracy(int8, tokens);
        Console.WriteLine($"FP32 {fp32Accuracy:F4}, static INT8 {int8Accuracy:F4} on {rows.Count} raw e-mails");
        Assert.IsTrue(fp32Accuracy > 0.9, $"the fixture reads the helper's ids as its own tokenizer's: accuracy {fp32Accuracy}");
        Assert.AreEqual(fp32Accuracy, int8Accuracy, 0.02);
    }

    private sealed class MailRow
    {
        [LoadColumn(0)] public string Label { get; set; } = "";
        [LoadColumn(1)] public string Subject { get; set; } = "";
        [LoadColumn(2)] public string Body { get; set; } = "";
    }
}
