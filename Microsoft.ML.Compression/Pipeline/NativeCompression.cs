using Microsoft.ML.Compression.Linear;
using Microsoft.ML.Compression.Native;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pruning;
using Microsoft.ML.Compression.Quantization;
using Microsoft.ML.Compression.Trees;
using Microsoft.ML.Data;
using Onnx;

namespace Microsoft.ML.Compression.Pipeline;

/// <summary>
/// Prune and Quantize for ML.NET tree ensembles and linear models that keep them ML.NET models. The predictor is
/// saved with <c>mlContext.Model.Save</c>; each tree ensemble or linear model stream in that zip is read, edited
/// by the same algorithms as the ONNX form (lasso tree selection, leaf pruning, the INT8 leaf grid; coefficient
/// pruning with refit, the weight grids), written back in ML.NET's own format, and the zip is loaded with
/// <c>mlContext.Model.Load</c>. The featurization before the predictor and the transforms after it (e.g.
/// MapKeyToValue) are the user's own transformers, unchanged. An app that references only Microsoft.ML (and
/// FastTree/LightGbm) loads and runs the result.
/// </summary>
internal static class NativeCompression
{
    /// <summary>An edit of one native model: the streams of the predictor's zip it changes, and what it did.</summary>
    private delegate string Edit(SavedModelZip zip, IReadOnlyList<(string Name, ModelFile File)> streams, Func<float[][]> sample, GraphEditContext context);

    /// <summary>The predictor's native streams, or why it has none this library can write.</summary>
    private static (SavedModelZip? Zip, List<(string, ModelFile)> Trees, List<(string, ModelFile)> Linear, string? Why) Streams(MLContext ml, MlNetModelParts parts)
    {
        var zip = SavedModelZip.Save(ml, parts.Predictor, null);
        var files = zip.ModelFiles().ToList();
        var trees = files.Where(f => NativeTreeFormat.Of(f.File) != null).ToList();
        var linear = files.Where(f => NativeLinearModel.IsLinear(f.File)).ToList();
        string name = PredictorExporter.DescribePredictor(parts.Predictor);
        if (trees.Count == 0 && linear.Count == 0)
            return (null, trees, linear, $"the native form is written for ML.NET tree ensembles and linear models, not {name}");
        if (trees.Count > 0 && linear.Count > 0)
            return (null, trees, linear, $"{name} mixes trees and linear models");
        foreach (var (entry, file) in trees)
            if (NativeTreeEnsemble.Read(file, NativeTreeFormat.Of(file)!, $"'{entry}'").HasCategoricalSplits)
                // ML.NET's ONNX export cannot express them either (ONNX Runtime rejects its feature id -1): no form to fall back to.
                throw new UnsupportedModelException(
                    $"{name} has categorical splits (a split on a set of one-hot slots), which this library cannot compress yet. " +
                    "Train the ensemble without them (e.g. LightGbmBinaryTrainer.Options.UseCategoricalSplit = false, or FastTree's CategoricalSplit = false) and compress that model.");
        return (zip, trees, linear, null);
    }

    public static NativeState? TryPrune(MLContext ml, NativeState input, IDataView data, PruningOptions options, out string description, out string? why)
    {
        if (options.PruneFeaturizerVocabulary) { description = ""; why = "PruneFeaturizerVocabulary rewrites the featurizer as an ONNX graph"; return null; }
        if (options.Granularity == PruningGranularity.Structured) { description = ""; why = "structured pruning removes whole outputs of a network layer"; return null; }
        return Apply(ml, input, data, options.MaxCalibrationRows, out description, out why,
            trees: (zip, streams, sample, _) => PruneTrees(zip, streams, sample(), options),
            linear: (zip, streams, _, context) => PruneLinear(zip, streams, options, context));
    }

    public static NativeState? TryQuantize(MLContext ml, NativeState input, IDataView data, QuantizationOptions options, out string description, out string? why)
    {
        string note = options.Mode != QuantizationMode.WeightOnly
            ? $" {options.Mode} mode quantizes a network's activations; a tree ensemble or linear model has none, so its weights were quantized weight-only." : "";
        var result = Apply(ml, input, data, options.MaxCalibrationRows, out description, out why,
            trees: (zip, streams, _, _) => QuantizeTrees(zip, streams, options.Precision),
            linear: (zip, streams, _, _) => QuantizeLinear(zip, streams, options));
        if (result != null) description += note;
        return result;
    }

    private static NativeState? Apply(MLContext ml, NativeState input, IDataView data, int maxRows, out string description, out string? why, Edit trees, Edit linear)
    {
        description = "";
        var parts = input.Parts;
        if (parts == null) { why = "the model has no ML.NET predictor"; return null; }
        var (zip, treeStreams, linearStreams, reason) = Streams(ml, parts);
        why = reason;
        if (zip == null) return null;
        var featurized = parts.TransformPrefix(data);
        var context = new GraphEditContext
        {
            ML = ml, GraphInputData = featurized, GraphInputs = new[] { parts.FeatureColumn }, FeatureInput = parts.FeatureColumn,
        };
        float[][]? rows = null;
        float[][] Sample()
        {
            rows ??= FeatureSample.Read(featurized, parts.FeatureColumn, maxRows);
            if (rows.Length == 0) throw new DataMismatchException("Compressing the model needs rows of data, and the data view is empty.");
            return rows;
        }
        description = treeStreams.Count > 0 ? trees(zip, treeStreams, Sample, context) : linear(zip, linearStreams, Sample, context);
        ITransformer predictor;
        try
        {
            predictor = zip.Load(ml, out _);
        }
        catch (Exception e) when (e is not CompressionException)
        {
            // The writer's own fault, never the user's: say so rather than return a model ML.NET cannot read.
            throw new InvalidModelException($"ML.NET could not load the compressed {PredictorExporter.DescribePredictor(parts.Predictor)} ({e.Message}). Please report this; the ONNX form is not affected.", e);
        }
        var chain = new TransformerChain<ITransformer>(parts.Prefix.Append(predictor).Concat(parts.Suffix).ToArray());
        description += " The model stays a native ML.NET model (loads with mlContext.Model.Load, no ONNX Runtime needed).";
        return NativeState.Of(chain, input.Task, "model");
    }

    private static string PruneTrees(SavedModelZip zip, IReadOnlyList<(string Name, ModelFile File)> streams, float[][] sample, PruningOptions options)
    {
        var ensembles = streams.Select(s => NativeTreeEnsemble.Read(s.File, NativeTreeFormat.Of(s.File)!, $"'{s.Name}'")).ToList();
        var nodes = ensembles.Select((e, i) => NativeTreeNodes.ToNode(e, "Features", $"Score{i}", $"Ensemble{i}")).ToList();
        string description = TreeEnsemblePruner.Prune(nodes, options, sample);
        WriteTrees(zip, streams, ensembles, nodes);
        return description;
    }

    private static string QuantizeTrees(SavedModelZip zip, IReadOnlyList<(string Name, ModelFile File)> streams, Precision precision)
    {
        var ensembles = streams.Select(s => NativeTreeEnsemble.Read(s.File, NativeTreeFormat.Of(s.File)!, $"'{s.Name}'")).ToList();
        var nodes = ensembles.Select((e, i) => NativeTreeNodes.ToNode(e, "Features", $"Score{i}", $"Ensemble{i}")).ToList();
        var (worst, leaves) = GraphQuantizer.RoundTreeLeaves(nodes, precision);
        WriteTrees(zip, streams, ensembles, nodes);
        var values = nodes.SelectMany(n => new TreeEnsembleNode(n).LeafValues).ToList();
        string grid = precision switch
        {
            Precision.Float16 => "FP16",
            Precision.Int4 => "a symmetric INT4 grid (one scale per ensemble)",
            _ => "a symmetric INT8 grid (one scale per ensemble)",
        };
        return $"tree ensemble: {leaves} leaf values snapped to {grid}, split thresholds kept exact (largest leaf error {worst:G3}). " +
               $"ML.NET stores leaves as float64, so the file keeps float64 storage on the grid: {values.Distinct().Count()} distinct leaf values " +
               $"({Entropy(values):F1} bits of entropy each), which the zip's compression stores in less space; scoring speed is unchanged.";
    }

    private static void WriteTrees(SavedModelZip zip, IReadOnlyList<(string Name, ModelFile File)> streams, List<NativeTreeEnsemble> ensembles, List<NodeProto> nodes)
    {
        for (int i = 0; i < streams.Count; i++)
        {
            var edited = NativeTreeNodes.FromNode(ensembles[i], nodes[i]);
            zip[streams[i].Name] = streams[i].File.WithModelBlock(edited.Write());
        }
    }

    /// <summary>
    /// Coefficient pruning runs the network pruner on the model as one linear layer (Features × W + b), so the
    /// saliency (|w| × the feature's spread), the global threshold and the least-squares refit of the kept weights
    /// with bias correction are exactly the ONNX form's.
    /// </summary>
    private static string PruneLinear(SavedModelZip zip, IReadOnlyList<(string Name, ModelFile File)> streams, PruningOptions options, GraphEditContext context)
    {
        var descriptions = new List<string>();
        foreach (var (name, file) in streams)
        {
            var model = NativeLinearModel.Read(file, $"'{name}'");
            var graph = LinearLayer.ToGraph(model, context.FeatureInput!);
            descriptions.Add(GraphPruner.Prune(graph, options, context));
            var (weights, biases) = LinearLayer.FromGraph(graph, model);
            if (weights.Any(row => row.Any(v => !float.IsFinite(v))) || biases.Any(v => !float.IsFinite(v)))
                throw new DataMismatchException(
                    $"Refitting the pruned weights of {name} on the data gave non-finite values: the model's features have NaN or infinite values in the rows given to Fit. " +
                    "Replace them (mlContext.Transforms.ReplaceMissingValues) or filter those rows (mlContext.Data.FilterRowsByMissingValues), or set PruningOptions.Reconstruct = false.");
            zip[name] = file.WithModelBlock(model.With(weights, biases).Write());
            RemoveStatistics(zip, name);
        }
        return string.Join(" ", descriptions.Distinct());
    }

    private static string QuantizeLinear(SavedModelZip zip, IReadOnlyList<(string Name, ModelFile File)> streams, QuantizationOptions options)
    {
        double worst = 0;
        int distinct = 0;
        foreach (var (name, file) in streams)
        {
            var model = NativeLinearModel.Read(file, $"'{name}'");
            var (weights, error) = LinearLayer.Round(model.Weights, options);
            worst = Math.Max(worst, error);
            distinct = Math.Max(distinct, weights.Max(row => row.Distinct().Count()));
            zip[name] = file.WithModelBlock(model.With(weights, model.Biases).Write());
            RemoveStatistics(zip, name);
        }
        string grid = options.Precision switch
        {
            Precision.Float16 => "FP16",
            Precision.Int4 => $"a symmetric INT4 grid in blocks of {options.BlockSize} features per class",
            _ => $"a symmetric INT8 grid, {(options.PerChannel ? "one scale per class" : "one scale for the model")}",
        };
        return $"linear model: weights snapped to {grid}, biases exact (largest weight error {worst:G3}). ML.NET stores weights as float32, " +
               $"so the file keeps float32 storage on the grid (at most {distinct} distinct values per class), which the zip's compression stores in less space; scoring speed is unchanged.";
    }

    /// <summary>
    /// Standard errors and p-values (ML.NET's optional "ModelStats" sub-model) describe the weights as trained; after
    /// an edit they would be wrong, so they go (ML.NET loads a linear model without them).
    /// </summary>
    private static void RemoveStatistics(SavedModelZip zip, string modelEntry)
        => zip.RemoveFolder(modelEntry[..^"Model.key".Length] + "ModelStats");

    private static double Entropy(IReadOnlyCollection<float> values)
    {
        double n = values.Count, h = 0;
        foreach (var g in values.GroupBy(v => v)) { double p = g.Count() / n; h -= p * Math.Log2(p); }
        return h;
    }
}
