namespace Microsoft.ML.Compression;

/// <summary>
/// Column names and padding of <see cref="CompressionCatalog.TokenizeText"/>: the inputs a Transformer encoder exported
/// from Hugging Face expects (<c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>, all int64).
/// </summary>
/// <example>
/// <code>
/// var options = new TokenizedTextOptions { TokenTypeIdsColumnName = null }; // a model without token_type_ids
/// var tokens = ml.Compression().TokenizeText(data, "Text", tokenizer, maxTokens: 128, options);
/// </code>
/// </example>
public sealed class TokenizedTextOptions
{
    /// <summary>The token ids column (int64 vector of <c>maxTokens</c>); the graph input's name.</summary>
    /// <example><code>new TokenizedTextOptions { InputIdsColumnName = "ids" }</code></example>
    public string InputIdsColumnName { get; set; } = "input_ids";

    /// <summary>The attention mask column (1 for a token, 0 for padding), or null for a model without one.</summary>
    /// <example><code>new TokenizedTextOptions { AttentionMaskColumnName = null }</code></example>
    public string? AttentionMaskColumnName { get; set; } = "attention_mask";

    /// <summary>The token type (segment) ids column, all 0 for one text, or null for a model without one.</summary>
    /// <example><code>new TokenizedTextOptions { TokenTypeIdsColumnName = null } // e.g. DistilBERT, RoBERTa</code></example>
    public string? TokenTypeIdsColumnName { get; set; } = "token_type_ids";

    /// <summary>The id that fills the positions after the text (0 is [PAD] in BERT vocabularies; RoBERTa's is 1).</summary>
    /// <example><code>new TokenizedTextOptions { PaddingId = 1 } // RoBERTa</code></example>
    public long PaddingId { get; set; }

    /// <summary>Whether a BERT tokenizer adds [CLS] and [SEP] (other tokenizers add what their own options say).</summary>
    /// <example><code>new TokenizedTextOptions { AddSpecialTokens = false }</code></example>
    public bool AddSpecialTokens { get; set; } = true;
}
