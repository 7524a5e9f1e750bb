using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;
using Onnx;

namespace Microsoft.ML.Compression.Pruning.Vocabulary;

/// <summary>
/// The featurization of an ML.NET pipeline (the transformers before its predictor) exported to ONNX with
/// <c>mlContext.Model.ConvertToOnnx</c>, cut down to what computes the feature column, and split from the prefix
/// transformers that stay native (label conversions and anything else the features do not depend on).
/// </summary>
internal sealed class ExportedFeaturizer
{
    /// <summary>The graph: raw (or natively case-normalized) text columns in, the feature column out, float [1, F].</summary>
    public required ModelProto Model { get; init; }
    /// <summary>The graph value that holds the feature vector.</summary>
    public required string FeatureValue { get; init; }
    /// <summary>The graph's inputs, each a data column of the same name.</summary>
    public required IReadOnlyList<string> Inputs { get; init; }
    /// <summary>Text normalizations moved out of the graph into native <c>NormalizeText</c>: (graph input, raw column, case).</summary>
    public required IReadOnlyList<(string Input, string Source, TextNormalizingEstimator.CaseMode Case)> Normalizers { get; init; }
    /// <summary>The prefix transformers that do not compute the features: they stay native, in order.</summary>
    public required IReadOnlyList<ITransformer> Kept { get; init; }
    /// <summary>How many prefix transformers the graph replaces.</summary>
    public required int Replaced { get; init; }
}

/// <summary>Exports a pipeline's featurization and isolates the part that computes the feature column.</summary>
internal static class FeaturizerExport
{
    public static ExportedFeaturizer Export(MLContext ml, IReadOnlyList<ITransformer> prefix, IDataView data, string featureColumn, int featureCount)
    {
        if (prefix.Count == 0)
            throw new UnsupportedModelException(
                $"PruneFeaturizerVocabulary needs the featurization before the predictor (e.g. FeaturizeText), but the model's predictor reads '{featureColumn}' straight from the data.");
        // On unlabeled data the label conversions cannot run (nor be exported): they stay native, and are skipped on
        // such data as everywhere else (LabelFree).
        var labelOnly = LabelConversions(prefix, data.Schema);
        var chain = new TransformerChain<ITransformer>(prefix.Where(t => !labelOnly.Contains(t)).ToArray());
        ModelProto model;
        try
        {
            using var stream = new MemoryStream();
            ml.Model.ConvertToOnnx(chain, data, stream);
            model = OnnxModelIO.Parse(stream.ToArray(), "ML.NET's ONNX export of the featurization");
        }
        catch (Exception e) when (e is not CompressionException)
        {
            throw new UnsupportedModelException(
                $"ML.NET cannot export the featurization before the predictor to ONNX ({e.GetType().Name}: {e.Message}), so its vocabulary cannot be pruned. " +
                "FeaturizeText exports only with KeepDiacritics = true (KeepNumbers and KeepPunctuations left true, no stop-word removal) and a single input text column: " +
                "featurize each text column with its own FeaturizeText and Concatenate the results. Without PruneFeaturizerVocabulary the predictor is pruned and the featurization kept as it is.", e);
        }

        var g = model.Graph;
        var columnValue = ColumnValues(g);
        if (!columnValue.TryGetValue(featureColumn, out var featureValue))
            throw new UnsupportedModelException(
                $"ML.NET's ONNX export of the featurization does not compute the feature column '{featureColumn}' (a transformer on its way cannot be exported), so its vocabulary cannot be pruned.");

        // Only what computes the features stays in the graph.
        g.Output.Clear();
        g.Output.Add(OnnxGraphEditor.TensorValue(featureValue, OnnxType.Float, 1, featureCount));
        OnnxGraphEditor.RemoveDeadNodes(g);
        // ML.NET declares the shapes of inner values with dim_value -1 (token counts vary per row); ONNX Runtime plans
        // buffers from them and fails on the next row of another length. The shapes are optional: it infers them.
        g.ValueInfo.Clear();
        var needed = new HashSet<string>(g.Node.SelectMany(n => n.Input.Concat(n.Output)));
        foreach (var input in g.Input.Where(i => !needed.Contains(i.Name)).ToList()) g.Input.Remove(input);
        if (g.Node.Count == 0)
            throw new UnsupportedModelException($"The feature column '{featureColumn}' is a column of the data itself: there is no featurization whose vocabulary could be pruned.");

        // A prefix transformer is replaced by the graph when every column it produces is the feature column or a
        // value the graph computes on the way (e.g. each text column's FeaturizeText before a Concatenate).
        var kept = new List<ITransformer>();
        var schema = data.Schema;
        int replaced = 0;
        foreach (var t in prefix)
        {
            if (labelOnly.Contains(t)) { kept.Add(t); continue; }
            var output = t.GetOutputSchema(schema);
            // Produced: a new name, or a name with one more hidden column than before (ML.NET hides an overwritten column).
            var before = schema;
            int Hidden(DataViewSchema s, string name) => s.Count(h => h.IsHidden && h.Name == name);
            var produced = output.Where(c => !c.IsHidden && (before.GetColumnOrNull(c.Name) == null || Hidden(output, c.Name) > Hidden(before, c.Name)))
                .Select(c => c.Name).ToList();
            // A column the export does not show (not exportable, or dropped later) keeps its transformer: running a
            // transformer needlessly costs time, dropping a needed one (a label conversion) would break the model.
            bool featurePath = produced.Count > 0 && produced.All(c => c == featureColumn || columnValue.TryGetValue(c, out var v) && needed.Contains(v));
            if (featurePath) replaced++; else kept.Add(t);
            schema = output;
        }
        if (replaced == 0)
            throw new UnsupportedModelException($"No transformer before the predictor produces the feature column '{featureColumn}', so there is no featurization to prune.");

        var normalizers = MoveCaseNormalizationOut(g, data.Schema);
        return new ExportedFeaturizer
        {
            Model = model, FeatureValue = featureValue, Inputs = g.Input.Select(i => i.Name).ToList(),
            Normalizers = normalizers, Kept = kept, Replaced = replaced,
        };
    }

    /// <summary>The transformers that need a "Label" column the data lacks (label conversions of unlabeled data).</summary>
    private static HashSet<ITransformer> LabelConversions(IReadOnlyList<ITransformer> prefix, DataViewSchema schema)
    {
        var result = new HashSet<ITransformer>();
        if (schema.GetColumnOrNull("Label") != null) return result;
        foreach (var t in prefix)
        {
            try { schema = t.GetOutputSchema(schema); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException && e.Message.Contains("'Label'", StringComparison.Ordinal))
            {
                result.Add(t);
            }
        }
        return result;
    }

    /// <summary>
    /// Each column of the exported data as the graph value that holds it: ML.NET names an output "c.output" and
    /// reaches it through Identity nodes from the value that computes column c.
    /// </summary>
    private static Dictionary<string, string> ColumnValues(GraphProto g)
    {
        var producer = OnnxGraphEditor.Producers(g);
        var result = new Dictionary<string, string>();
        foreach (var output in g.Output)
        {
            if (!output.Name.EndsWith(".output", StringComparison.Ordinal)) continue;
            var value = output.Name;
            while (producer.TryGetValue(value, out var n) && n.OpType == "Identity") value = n.Input[0];
            result[output.Name[..^".output".Length]] = value;
        }
        return result;
    }

    /// <summary>
    /// ML.NET exports NormalizeText (case only) as Squeeze → StringNormalizer → Unsqueeze. ONNX Runtime's
    /// StringNormalizer needs the en_US.UTF-8 system locale on Linux (the model fails to load without it) and
    /// lower-cases by that locale's rules; ML.NET's own NormalizeText lower-cases culture-invariantly, as the original
    /// pipeline did. So the normalization runs natively and the graph reads its result.
    /// </summary>
    private static List<(string, string, TextNormalizingEstimator.CaseMode)> MoveCaseNormalizationOut(GraphProto g, DataViewSchema dataSchema)
    {
        var result = new List<(string, string, TextNormalizingEstimator.CaseMode)>();
        foreach (var normalizer in g.Node.Where(n => n.OpType == "StringNormalizer").ToList())
        {
            if (OnnxGraphEditor.Attribute(normalizer, "stopwords") is { Strings.Count: > 0 })
                throw new UnsupportedModelException("The featurization removes stop words (an ONNX StringNormalizer with stop words); pruning its vocabulary is not supported. Remove the stop-word step or leave PruneFeaturizerVocabulary off.");
            var squeeze = g.Node.FirstOrDefault(n => n.Output.Contains(normalizer.Input[0]));
            var unsqueeze = g.Node.Where(n => n.Input.Contains(normalizer.Output[0])).ToList();
            var source = squeeze?.Input[0];
            // ML.NET reaches a column it has seen before through Identity nodes ("body" → "body0").
            while (source != null && g.Node.FirstOrDefault(n => n.Output.Contains(source)) is { OpType: "Identity" } identity) source = identity.Input[0];
            if (squeeze is not { OpType: "Squeeze" } || unsqueeze is not [{ OpType: "Unsqueeze" }] || source == null
                || !g.Input.Any(i => i.Name == source) || dataSchema.GetColumnOrNull(source)?.Type is not TextDataViewType
                || g.Node.Count(n => n.Input.Contains(squeeze.Output[0])) != 1 || g.Node.Count(n => n.Input.Contains(normalizer.Output[0])) != 1)
                throw new UnsupportedModelException(
                    $"The featurization's text normalization (ONNX StringNormalizer '{normalizer.Name}') does not read a text column of the data directly; pruning its vocabulary is not supported.");
            var action = OnnxGraphEditor.Attribute(normalizer, "case_change_action")?.S.ToStringUtf8() ?? "NONE";
            var caseMode = action switch
            {
                "LOWER" => TextNormalizingEstimator.CaseMode.Lower,
                "UPPER" => TextNormalizingEstimator.CaseMode.Upper,
                _ => TextNormalizingEstimator.CaseMode.None,
            };
            // A fresh name: it becomes a (temporary) column of the data.
            var normalized = source + "_CaseNormalized";
            for (int i = 1; dataSchema.GetColumnOrNull(normalized) != null || OnnxGraphEditor.UniqueName(g, normalized) != normalized; i++)
                normalized = $"{source}_CaseNormalized{i}";
            PredictorExporter.RenameValue(g, unsqueeze[0].Output[0], normalized);
            var type = g.Input.First(i => i.Name == source).Type.Clone();
            g.Node.Remove(squeeze);
            g.Node.Remove(normalizer);
            g.Node.Remove(unsqueeze[0]);
            g.Input.Add(new ValueInfoProto { Name = normalized, Type = type });
            result.Add((normalized, source, caseMode));
        }
        OnnxGraphEditor.RemoveDeadNodes(g);
        var used = new HashSet<string>(g.Node.SelectMany(n => n.Input));
        foreach (var input in g.Input.Where(i => !used.Contains(i.Name)).ToList()) g.Input.Remove(input);
        return result;
    }
}
