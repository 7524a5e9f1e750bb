using Microsoft.ML.Compression.Linear;
using Microsoft.ML.Compression.Native;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pruning;
using Microsoft.ML.Compression.Quantization;
using Microsoft.ML.Compression.Trees;
using Microsoft.ML.Data;

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
    /// <summary>A predictor's zip with its tree ensembles or linear models, each read once.</summary>
    private sealed class Streams
    {
        public required SavedModelZip Zip { get; init; }
        public required List<(string Name, ModelFile File, NativeTreeEnsemble Ensemble)> Trees { get; init; }
        public required List<(string Name, ModelFile File, NativeLinearModel Model)> Linear { get; init; }
        public required GraphEditContext Context { get; init; }
        public required Func<float[][]> Sample { get; init; }
    }

    /// <summary>
    /// The stage's edit of the native model when <paramref name="form"/> asks for it and the predictor has a native
    /// writer (<paramref name="notNative"/> is null: the options allow it); otherwise <paramref name="onnx"/>, with the
    /// report line saying why the result is an ONNX graph.
    /// </summary>
    private static ModelState NativeOrOnnx(MLContext ml, ModelForm form, ModelState input, IDataView data, int maxRows,
        string? notNative, Func<Streams, string> trees, Func<Streams, string> linear,
        OnnxStage onnx, out string description)
    {
        string? why = null;
        if (form == ModelForm.Native && input is NativeState { Parts: { } parts } native)
        {
            Streams? streams = null;
            why = notNative ?? Open(ml, parts, data, maxRows, out streams);
            if (streams != null)
            {
                description = streams.Trees.Count > 0 ? trees(streams) : linear(streams);
                description += " The model stays a native ML.NET model (loads with mlContext.Model.Load, no ONNX Runtime needed).";
                return Load(ml, native, streams);
            }
        }
        var result = onnx(input, data, out description);
        if (why != null) description += $" The result is an ONNX graph run by ONNX Runtime because {why}.";
        return result;
    }

    public delegate ModelState OnnxStage(ModelState input, IDataView data, out string description);

    public static ModelState Prune(MLContext ml, PruningOptions options, ModelState input, IDataView data, OnnxStage onnx, out string description)
        => NativeOrOnnx(ml, options.Form, input, data, options.MaxCalibrationRows,
            options.Text.PruneFeaturizerVocabulary ? "PruneFeaturizerVocabulary rewrites the featurizer as an ONNX graph"
                : options.Network.Granularity == PruningGranularity.Structured ? "structured pruning removes whole outputs of a network layer" : null,
            s => PruneTrees(s, options), s => PruneLinear(s, options), onnx, out description);

    public static ModelState Quantize(MLContext ml, QuantizationOptions options, ModelState input, IDataView data, OnnxStage onnx, out string description)
    {
        var result = NativeOrOnnx(ml, options.Form, input, data, options.Network.MaxCalibrationRows, null,
            s => QuantizeTrees(s, options.Precision), s => QuantizeLinear(s, options), onnx, out description);
        if (result is NativeState && options.Network.Mode != QuantizationMode.WeightOnly)
            description += $" {options.Network.Mode} mode quantizes a network's activations; a tree ensemble or linear model has none, so its weights were quantized weight-only.";
        return result;
    }

    /// <summary>
    /// The tree count of each ensemble of a native tree model (one per class for one-versus-all), or null when the
    /// state is not a native ML.NET tree ensemble.
    /// </summary>
    public static IReadOnlyList<int>? TreeCounts(MLContext ml, ModelState state)
        => EnsembleSizes(ml, state)?.Select(e => e.Trees).ToList();

    /// <summary>
    /// The trees, leaves and per-row cost of each ensemble of a native tree model (one per class for one-versus-all), read from its
    /// saved form, or null when the state is not a native ML.NET tree ensemble.
    /// </summary>
    public static IReadOnlyList<EnsembleSize>? EnsembleSizes(MLContext ml, ModelState state)
    {
        if (state is not NativeState { Parts: { } parts }) return null;
        var zip = SavedModelZip.Save(ml, parts.Predictor, null);
        var sizes = zip.ModelFiles().Where(f => NativeTreeFormat.Of(f.File) != null)
            .Select(f => EnsembleSize.Of(NativeTreeEnsemble.Read(f.File, NativeTreeFormat.Of(f.File)!, $"'{f.Name}'"))).ToList();
        return sizes.Count > 0 ? sizes : null;
    }

    /// <summary>
    /// The Prune stage's tree selection on a native tree model, keeping at most <paramref name="budget"/> trees in all:
    /// the largest sparsity whose per-ensemble rounding (at least one tree each) fits the budget.
    /// </summary>
    public static ModelState PruneToTreeBudget(MLContext ml, ModelState input, IDataView data, IReadOnlyList<int> counts, int budget, out string description)
    {
        static int Kept(IReadOnlyList<int> counts, double sparsity) => counts.Sum(n => Math.Max(1, n - (int)Math.Floor(sparsity * n)));
        double low = 0, high = 1;
        for (int step = 0; step < 50; step++)
        {
            double mid = (low + high) / 2;
            if (Kept(counts, mid) <= budget) high = mid; else low = mid;
        }
        var options = new PruningOptions { TargetSparsity = Math.Min(high, 0.999999) /* TargetSparsity < 1; every ensemble keeps a tree anyway */ };
        return Prune(ml, options, input, data,
            (ModelState _, IDataView _, out string _) => throw new InvalidOperationException("A native tree ensemble is pruned natively."), out description);
    }

    /// <returns>Why the predictor has no native writer, or null with its streams.</returns>
    private static string? Open(MLContext ml, MlNetModelParts parts, IDataView data, int maxRows, out Streams? streams)
    {
        streams = null;
        var zip = SavedModelZip.Save(ml, parts.Predictor, null);
        var files = zip.ModelFiles().ToList();
        string name = PredictorExporter.DescribePredictor(parts.Predictor);
        var trees = files.Where(f => NativeTreeFormat.Of(f.File) != null)
            .Select(f => (f.Name, f.File, Ensemble: NativeTreeEnsemble.Read(f.File, NativeTreeFormat.Of(f.File)!, $"'{f.Name}'"))).ToList();
        var linear = files.Where(f => NativeLinearModel.IsLinear(f.File)).Select(f => (f.Name, f.File, Model: NativeLinearModel.Read(f.File, $"'{f.Name}'"))).ToList();
        if (trees.Count == 0 && linear.Count == 0) return $"the native form is written for ML.NET tree ensembles and linear models, not {name}";
        if (trees.Count > 0 && linear.Count > 0) return $"{name} mixes trees and linear models";
        if (trees.Any(t => t.Ensemble.HasCategoricalSplits))
            // ML.NET's ONNX export cannot express them either (ONNX Runtime rejects its feature id -1): no form to fall back to.
            throw new UnsupportedModelException(
                $"{name} has categorical splits (a split on a set of one-hot slots), which this library cannot compress yet. " +
                "Train the ensemble without them (e.g. LightGbmBinaryTrainer.Options.UseCategoricalSplit = false, or FastTree's CategoricalSplit = false) and compress that model.");

        var featurized = parts.TransformPrefix(data);
        float[][]? rows = null;
        streams = new Streams
        {
            Zip = zip, Trees = trees, Linear = linear,
            Context = new GraphEditContext { ML = ml, GraphInputData = featurized, GraphInputs = new[] { parts.FeatureColumn }, FeatureInput = parts.FeatureColumn },
            Sample = () =>
            {
                rows ??= FeatureSample.Read(featurized, parts.FeatureColumn, maxRows);
                return rows.Length > 0 ? rows : throw new DataMismatchException("Compressing the model needs rows of data, and the data view is empty.");
            },
        };
        return null;
    }

    /// <summary>The edited zip loaded by ML.NET, between the model's own featurization and post-processing.</summary>
    private static NativeState Load(MLContext ml, NativeState input, Streams streams)
    {
        var parts = input.Parts!;
        ITransformer predictor;
        try
        {
            predictor = streams.Zip.Load(ml, out _);
        }
        catch (Exception e) when (e is not CompressionException)
        {
            // The writer's own fault, never the user's: say so rather than return a model ML.NET cannot read.
            throw new InvalidModelException($"ML.NET could not load the compressed {PredictorExporter.DescribePredictor(parts.Predictor)} ({e.Message}). Please report this; ModelForm.Onnx is not affected.", e);
        }
        var chain = new TransformerChain<ITransformer>(parts.Prefix.Append(predictor).Concat(parts.Suffix).ToArray());
        return NativeState.Of(chain, input.Task, "model");
    }

    /// <summary>Runs <paramref name="edit"/> on the trees in the ONNX-ML node form it edits, then writes them back; returns its description.</summary>
    private static T EditTrees<T>(Streams s, Func<List<global::Onnx.NodeProto>, T> edit)
    {
        var nodes = s.Trees.Select((t, i) => NativeTreeNodes.ToNode(t.Ensemble, "Features", $"Score{i}", $"Ensemble{i}")).ToList();
        var result = edit(nodes);
        for (int i = 0; i < nodes.Count; i++)
        {
            var (name, file, ensemble) = s.Trees[i];
            s.Zip[name] = file.WithModelBlock(NativeTreeNodes.FromNode(ensemble, nodes[i]).Write());
        }
        return result;
    }

    private static string PruneTrees(Streams s, PruningOptions options)
        => EditTrees(s, nodes => TreeEnsemblePruner.Prune(nodes, options, s.Sample()));

    private static string QuantizeTrees(Streams s, Precision precision)
    {
        var (worst, leaves, values) = EditTrees(s, nodes =>
        {
            var (w, n) = GraphQuantizer.RoundTreeLeaves(nodes, precision);
            return (w, n, nodes.SelectMany(node => new TreeEnsembleNode(node).LeafValues).ToList());
        });
        return $"tree ensemble: {leaves} leaf values snapped to {GraphQuantizer.TreeGrid(precision)}, split thresholds kept exact (largest leaf error {worst:G3}). " +
               $"ML.NET stores leaves as float64, so the file keeps float64 storage on the grid: {values.Distinct().Count()} distinct leaf values " +
               $"({Entropy(values):F1} bits of entropy each), which the zip's compression stores in less space; scoring speed is unchanged.";
    }

    /// <summary>
    /// Coefficient pruning runs the network pruner on the model as one linear layer (Features × W + b), so the
    /// saliency (|w| × the feature's spread), the global threshold and the least-squares refit of the kept weights
    /// with bias correction are exactly the ONNX form's.
    /// </summary>
    private static string PruneLinear(Streams s, PruningOptions options)
    {
        var descriptions = new List<string>();
        foreach (var (name, file, model) in s.Linear)
        {
            var graph = LinearLayer.ToGraph(model, s.Context.FeatureInput!);
            descriptions.Add(GraphPruner.Prune(graph, options, s.Context));
            var (weights, biases) = LinearLayer.FromGraph(graph, model);
            if (weights.Any(row => row.Any(v => !float.IsFinite(v))) || biases.Any(v => !float.IsFinite(v)))
                throw new DataMismatchException(
                    $"Refitting the pruned weights of {name} on the data gave non-finite values: the model's features have NaN or infinite values in the rows given to Fit. " +
                    "Replace them (mlContext.Transforms.ReplaceMissingValues) or filter those rows (mlContext.Data.FilterRowsByMissingValues), or set PruningOptions.Reconstruct = false.");
            Replace(s.Zip, name, file, model.With(weights, biases));
        }
        return string.Join(" ", descriptions.Distinct());
    }

    private static string QuantizeLinear(Streams s, QuantizationOptions options)
    {
        double worst = 0;
        int distinct = 0;
        foreach (var (name, file, model) in s.Linear)
        {
            var (weights, error) = LinearLayer.Round(model.Weights, options);
            worst = Math.Max(worst, error);
            distinct = Math.Max(distinct, weights.Max(row => row.Distinct().Count()));
            Replace(s.Zip, name, file, model.With(weights, model.Biases));
        }
        string grid = options.Precision switch
        {
            Precision.Float16 => "FP16",
            Precision.Int4 => $"a symmetric INT4 grid in blocks of {options.Network.BlockSize} features per class",
            _ => $"a symmetric INT8 grid, {(options.PerChannel ? "one scale per class" : "one scale for the model")}",
        };
        return $"linear model: weights snapped to {grid}, biases exact (largest weight error {worst:G3}). ML.NET stores weights as float32, " +
               $"so the file keeps float32 storage on the grid (at most {distinct} distinct values per class), which the zip's compression stores in less space; scoring speed is unchanged.";
    }

    /// <summary>
    /// Writes an edited linear model. Its standard errors and p-values (ML.NET's optional "ModelStats" sub-model)
    /// describe the weights as trained and would be wrong now, so they go (ML.NET loads a linear model without them).
    /// </summary>
    private static void Replace(SavedModelZip zip, string name, ModelFile file, NativeLinearModel model)
    {
        zip[name] = file.WithModelBlock(model.Write());
        zip.RemoveFolder(name[..^"Model.key".Length] + "ModelStats");
    }

    private static double Entropy(IReadOnlyCollection<float> values)
    {
        double n = values.Count, h = 0;
        foreach (var g in values.GroupBy(v => v)) { double p = g.Count() / n; h -= p * Math.Log2(p); }
        return h;
    }
}
