using Microsoft.ML.Data;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Compression.Tokenization;

/// <summary>
/// A text column as the int64 id, mask and type columns of a Transformer encoder, computed as rows are read (a
/// CustomMapping over the data, never saved with a model): the calibration and scoring data of a token-id network.
/// </summary>
internal static class TokenizedText
{
    /// <summary>The mapping's input: the text column, renamed through the schema definition.</summary>
    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    /// <summary>The mapping's output; each column's name and fixed vector size come from the schema definition.</summary>
    private sealed class TokenRow
    {
        public long[] InputIds { get; set; } = Array.Empty<long>();
        public long[] AttentionMask { get; set; } = Array.Empty<long>();
        public long[] TokenTypeIds { get; set; } = Array.Empty<long>();
    }

    public static IDataView Apply(MLContext ml, IDataView data, string textColumnName, Tokenizer tokenizer, int maxTokens, TokenizedTextOptions options)
    {
        var column = data.Schema.GetColumnOrNull(textColumnName)
            ?? throw new DataMismatchException($"The data has no column '{textColumnName}' to tokenize. Name the text column the data has.", textColumnName);
        if (column.Type is not TextDataViewType)
            throw new DataMismatchException($"Column '{textColumnName}' is {column.Type}, not text. Tokenize a text column (load it as DataKind.String).", textColumnName);
        var names = new[] { options.InputIdsColumnName, options.AttentionMaskColumnName, options.TokenTypeIdsColumnName }.Where(n => n != null).ToList();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            throw new ArgumentException("The id, mask and type columns need different names.", nameof(options));

        var input = SchemaDefinition.Create(typeof(TextRow));
        input[nameof(TextRow.Text)].ColumnName = textColumnName;
        var output = SchemaDefinition.Create(typeof(TokenRow));
        var type = new VectorDataViewType(NumberDataViewType.Int64, maxTokens);
        foreach (var (member, name) in new[]
        {
            (nameof(TokenRow.InputIds), options.InputIdsColumnName), (nameof(TokenRow.AttentionMask), options.AttentionMaskColumnName),
            (nameof(TokenRow.TokenTypeIds), options.TokenTypeIdsColumnName),
        })
        {
            // A column the model does not take still has to be written by the mapping: give it a hidden name and drop it.
            var definition = output[member]; // looked up by its column name, so once, before renaming it
            definition.ColumnName = name ?? $"__tokens_{member}";
            definition.ColumnType = type;
        }

        var bert = tokenizer as BertTokenizer;
        long pad = options.PaddingId;
        bool special = options.AddSpecialTokens;
        void Map(TextRow text, TokenRow row)
        {
            var ids = bert != null
                ? bert.EncodeToIds(text.Text ?? "", maxTokens, special, out _, out _)
                : tokenizer.EncodeToIds(text.Text ?? "", maxTokens, out _, out _);
            row.InputIds = new long[maxTokens];
            row.AttentionMask = new long[maxTokens];
            row.TokenTypeIds = new long[maxTokens];
            int n = Math.Min(ids.Count, maxTokens);
            for (int i = 0; i < maxTokens; i++)
            {
                row.InputIds[i] = i < n ? ids[i] : pad;
                row.AttentionMask[i] = i < n ? 1 : 0;
            }
        }

        var mapped = ml.Transforms.CustomMapping<TextRow, TokenRow>(Map, contractName: null, input, output).Fit(data).Transform(data);
        var hidden = output.Select(c => c.ColumnName).Where(n => n.StartsWith("__tokens_", StringComparison.Ordinal)).ToArray();
        return hidden.Length == 0 ? mapped : ml.Transforms.DropColumns(hidden).Fit(mapped).Transform(mapped);
    }
}
