using Google.Protobuf;
using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Pruning.Vocabulary;

/// <summary>What cutting the vocabulary removed: n-grams of the TfIdfVectorizer pools and keys of the token encoders.</summary>
internal sealed record VocabularyCut(long NgramsBefore, long NgramsAfter, long KeysBefore, long KeysAfter, int Normalizers);

/// <summary>
/// Removes feature slots from an exported featurization: the n-grams of FeaturizeText's TfIdfVectorizer pools whose
/// slots are dropped go (the kept ones are renumbered to a compact range, in their order), the FeatureVectorizer that
/// concatenates the word and character blocks gets the new block widths, and the token encoders (LabelEncoder)
/// keep only the tokens that still occur in a kept n-gram. Normalizers on the way stay: they now normalize over the
/// kept slots only, which is why the caller refits the predictor on the new features.
/// </summary>
internal static class VocabularyPruner
{
    /// <param name="model">The featurization, edited in place.</param>
    /// <param name="featureValue">The graph value of the feature vector.</param>
    /// <param name="keep">One flag per feature slot. A block (word or character n-grams) left with no slot keeps its first, so the graph stays valid: such slots are set to true here.</param>
    public static VocabularyCut Prune(ModelProto model, string featureValue, bool[] keep)
    {
        var g = model.Graph;
        var producer = OnnxGraphEditor.Producers(g);
        var consumers = g.Node.SelectMany(n => n.Input).GroupBy(v => v).ToDictionary(x => x.Key, x => x.Count());
        long ngramsBefore = 0, ngramsAfter = 0, keysBefore = 0, keysAfter = 0;
        int normalizers = 0, vectorizers = 0;
        // FeatureVectorizer widths are known once the blocks below them are cut: fixed after the walk.
        var deferred = new List<(NodeProto Node, int Offset)>();
        var pending = new Stack<(string Value, int Offset, int Length)>();
        pending.Push((featureValue, 0, keep.Length));
        while (pending.Count > 0)
        {
            var (value, offset, length) = pending.Pop();
            if (!producer.TryGetValue(value, out var node))
                throw new UnsupportedModelException($"Feature slots come straight from the input '{value}' of the featurization, not from n-gram counts; only FeaturizeText-style n-gram features can lose vocabulary.");
            if (value != featureValue && consumers.GetValueOrDefault(value) > 1)
                throw new UnsupportedModelException($"The featurization reuses the value '{value}' on the way to the features; its slots cannot be removed for one use only.");
            switch (node.OpType)
            {
                case "Cast" or "Identity":
                    pending.Push((node.Input[0], offset, length));
                    break;
                case "Normalizer":
                    normalizers++;
                    pending.Push((node.Input[0], offset, length));
                    break;
                case "FeatureVectorizer":
                {
                    var dims = OnnxGraphEditor.Attribute(node, "inputdimensions")
                        ?? throw new UnsupportedModelException($"FeatureVectorizer '{node.Name}' has no inputdimensions.");
                    if (dims.Ints.Sum() != length || dims.Ints.Count != node.Input.Count)
                        throw new UnsupportedModelException($"FeatureVectorizer '{node.Name}' concatenates {dims.Ints.Sum()} slots, but {length} were expected.");
                    int at = offset;
                    for (int i = 0; i < dims.Ints.Count; i++)
                    {
                        int width = (int)dims.Ints[i];
                        pending.Push((node.Input[i], at, width));
                        at += width;
                    }
                    deferred.Add((node, offset));
                    break;
                }
                case "TfIdfVectorizer":
                {
                    vectorizers++;
                    var (before, after, tokens) = CompactPool(node, keep, offset, length);
                    ngramsBefore += before;
                    ngramsAfter += after;
                    var (kb, ka) = FilterEncoder(g, producer, consumers, node.Input[0], tokens);
                    keysBefore += kb;
                    keysAfter += ka;
                    break;
                }
                default:
                    throw new UnsupportedModelException(
                        $"The features are computed by an ONNX {node.OpType} node ('{node.Name}'), whose slots cannot be removed. PruneFeaturizerVocabulary supports FeaturizeText's n-gram counts (TfIdfVectorizer), their normalization and concatenation.");
            }
        }
        foreach (var (node, offset) in deferred)
        {
            var dims = OnnxGraphEditor.Attribute(node, "inputdimensions")!;
            int at = offset;
            for (int i = 0; i < dims.Ints.Count; i++)
            {
                int width = (int)dims.Ints[i];
                dims.Ints[i] = keep.Skip(at).Take(width).Count(k => k);
                at += width;
            }
        }
        if (vectorizers == 0)
            throw new UnsupportedModelException("The featurization has no n-gram counts (TfIdfVectorizer), so it has no vocabulary to prune.");
        return new VocabularyCut(ngramsBefore, ngramsAfter, keysBefore, keysAfter, normalizers);
    }

    /// <summary>
    /// Keeps the n-grams whose output slot is kept, numbered 0..k-1 in slot order. Returns the n-gram counts before and
    /// after and the tokens the kept n-grams use (null when the pool is of strings, which needs no encoder).
    /// </summary>
    private static (long Before, long After, HashSet<long>? Tokens) CompactPool(NodeProto node, bool[] keep, int offset, int length)
    {
        var counts = OnnxGraphEditor.Attribute(node, "ngram_counts")?.Ints.ToArray() ?? throw new UnsupportedModelException($"TfIdfVectorizer '{node.Name}' has no ngram_counts.");
        var indexes = OnnxGraphEditor.Attribute(node, "ngram_indexes")?.Ints.ToArray() ?? throw new UnsupportedModelException($"TfIdfVectorizer '{node.Name}' has no ngram_indexes.");
        var weights = OnnxGraphEditor.Attribute(node, "weights");
        var intPool = OnnxGraphEditor.Attribute(node, "pool_int64s");
        var stringPool = OnnxGraphEditor.Attribute(node, "pool_strings");
        int poolLength = intPool?.Ints.Count ?? stringPool?.Strings.Count ?? 0;
        if (indexes.Length == 0 || indexes.Max() + 1 != length)
            throw new UnsupportedModelException($"TfIdfVectorizer '{node.Name}' produces {(indexes.Length == 0 ? 0 : indexes.Max() + 1)} slots, but {length} were expected.");

        // A block that would lose every slot keeps its first: an empty pool is not a valid TfIdfVectorizer.
        if (!keep.Skip(offset).Take(length).Any(k => k)) keep[offset + (int)indexes.Min()] = true;
        var newSlot = new long[length];
        for (int s = 0, next = 0; s < length; s++) newSlot[s] = keep[offset + s] ? next++ : -1;

        var newCounts = new List<long>();
        var newIndexes = new List<long>();
        var newWeights = new List<float>();
        var newInts = new List<long>();
        var newStrings = new List<ByteString>();
        int item = 0;
        for (int size = 1; size <= counts.Length; size++)
        {
            newCounts.Add(intPool != null ? newInts.Count : newStrings.Count);
            long start = counts[size - 1], end = size < counts.Length ? counts[size] : poolLength;
            for (long at = start; at + size <= end; at += size, item++)
            {
                long slot = newSlot[indexes[item]];
                if (slot < 0) continue;
                newIndexes.Add(slot);
                if (weights != null) newWeights.Add(weights.Floats[item]);
                for (int k = 0; k < size; k++)
                {
                    if (intPool != null) newInts.Add(intPool.Ints[(int)at + k]);
                    else newStrings.Add(stringPool!.Strings[(int)at + k]);
                }
            }
        }
        if (item != indexes.Length)
            throw new UnsupportedModelException($"TfIdfVectorizer '{node.Name}' has {indexes.Length} ngram_indexes for {item} n-grams in its pool.");
        Replace(node, "ngram_counts", a => a.Ints.Add(newCounts));
        Replace(node, "ngram_indexes", a => a.Ints.Add(newIndexes));
        if (weights != null) Replace(node, "weights", a => a.Floats.Add(newWeights));
        if (intPool != null) Replace(node, "pool_int64s", a => a.Ints.Add(newInts));
        else Replace(node, "pool_strings", a => a.Strings.Add(newStrings));
        return (indexes.Length, newIndexes.Count, intPool != null ? new HashSet<long>(newInts) : null);
    }

    private static void Replace(NodeProto node, string name, Action<AttributeProto> fill)
    {
        var old = OnnxGraphEditor.Attribute(node, name)!;
        var fresh = new AttributeProto { Name = name, Type = old.Type };
        fill(fresh);
        node.Attribute[node.Attribute.IndexOf(old)] = fresh;
    }

    /// <summary>
    /// The string → id LabelEncoder that feeds a TfIdfVectorizer (through casts and reshapes) keeps only the tokens
    /// used by kept n-grams: any other token maps to the default id, which matches no kept n-gram, exactly as before.
    /// Also repairs ML.NET's export of the character encoder, which writes every UTF-16 surrogate as the string
    /// "\uFFFD" (2,048 duplicate keys, so a real U+FFFD got a surrogate's id: 36 of 1,500 SpamAssassin bodies had
    /// different character n-grams in ONNX Runtime than in ML.NET until this was repaired, none after).
    /// </summary>
    private static (long Before, long After) FilterEncoder(GraphProto g, Dictionary<string, NodeProto> producer, Dictionary<string, int> consumers, string value, HashSet<long>? tokens)
    {
        if (tokens == null) return (0, 0);
        var casts = new List<NodeProto>();
        NodeProto? encoder = null;
        while (producer.TryGetValue(value, out var n) && consumers.GetValueOrDefault(value) == 1)
        {
            if (n.OpType == "LabelEncoder") { encoder = n; break; }
            if (n.OpType == "Cast") casts.Add(n);
            else if (n.OpType is not ("Squeeze" or "Unsqueeze" or "Reshape" or "Identity")) break;
            value = n.Input[0];
        }
        var keys = encoder == null ? null : OnnxGraphEditor.Attribute(encoder, "keys_strings");
        var values = encoder == null ? null : OnnxGraphEditor.Attribute(encoder, "values_int64s");
        if (keys == null || values == null || keys.Strings.Count != values.Ints.Count) return (0, 0);

        // The id an unknown token gets, after the casts on the way: it must match no kept n-gram.
        long unknown = OnnxGraphEditor.Attribute(encoder!, "default_int64")?.I ?? -1;
        for (int i = casts.Count - 1; i >= 0; i--)
            unknown = (OnnxGraphEditor.Attribute(casts[i], "to")?.I ?? 0) switch { 4 => unknown & 0xFFFF, 12 => unknown & 0xFFFFFFFF, 6 => (int)unknown, _ => unknown };
        if (tokens.Contains(unknown)) return (keys.Strings.Count, keys.Strings.Count);

        var keptKeys = new List<ByteString>();
        var keptValues = new List<long>();
        var seen = new HashSet<string>();
        for (int i = 0; i < keys.Strings.Count; i++)
        {
            long id = values.Ints[i];
            if (!tokens.Contains(id)) continue;
            var key = keys.Strings[i];
            var text = key.ToStringUtf8();
            // A lone surrogate cannot be UTF-8: ML.NET wrote it as U+FFFD, but ONNX Runtime never sees one in its
            // input (the string is UTF-8 by then), so the entry can only steal the real U+FFFD's id.
            if (text == "\uFFFD" && id is >= 0xD800 and <= 0xDFFF) continue;
            if (!seen.Add(text)) continue;
            keptKeys.Add(key);
            keptValues.Add(id);
        }
        int before = keys.Strings.Count;
        if (keptKeys.Count == 0) return (before, before); // an encoder without keys is not valid: leave it whole
        Replace(encoder!, "keys_strings", a => a.Strings.Add(keptKeys));
        Replace(encoder!, "values_int64s", a => a.Ints.Add(keptValues));
        return (before, keptKeys.Count);
    }
}
