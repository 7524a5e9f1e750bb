using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;
using Onnx;

namespace Microsoft.ML.Compression.Pruning.Vocabulary;

/// <summary>
/// <see cref="TextPruningOptions.PruneFeaturizerVocabulary"/>: after a linear predictor's coefficients were pruned, the
/// n-grams whose coefficients are all zero are removed from the featurization itself. The featurization is
/// exported with <c>mlContext.Model.ConvertToOnnx</c>, its vocabulary cut (<see cref="VocabularyPruner"/>), and it
/// runs from then on as an OnnxTransformer; its per-block normalization now spans the kept n-grams only, so the
/// kept coefficients are refitted (<see cref="SparseRefit"/>) to reproduce the original model's scores on the data.
/// </summary>
internal static class FeaturizerPruning
{
    /// <param name="ml">The context.</param>
    /// <param name="original">The model before this pruning stage (its scores are the refit's target).</param>
    /// <param name="pruned">The model with its predictor pruned.</param>
    /// <param name="data">The fit data (raw columns).</param>
    /// <param name="options">Validated options: <see cref="PruningOptions.Reconstruct"/> and <see cref="PruningOptions.MaxCalibrationRows"/> apply to the refit.</param>
    public static (PredictorState State, string Description) Apply(MLContext ml, PredictorState original, PredictorState pruned, IDataView data, PruningOptions options)
    {
        var parts = pruned.Parts;
        var column = parts.FeatureColumn;
        int width = pruned.Predictor.FeatureCount;
        if (parts.Prefix.Any(t => t is Transforms.Onnx.OnnxTransformer))
            throw new UnsupportedModelException("The featurization already runs as ONNX (its vocabulary was pruned by an earlier stage, or it holds an OnnxTransformer); PruneFeaturizerVocabulary applies once, to ML.NET featurizers such as FeaturizeText.");
        var exported = FeaturizerExport.Export(ml, parts.Prefix, data, column, width);

        var graph = pruned.Graph.Clone();
        var (weight, outputs) = LinearWeight(graph, column, width);
        var coefficients = OnnxTensors.ReadFloats(weight);
        var keep = new bool[width];
        for (int j = 0; j < width; j++)
            for (int o = 0; o < outputs && !keep[j]; o++) keep[j] = coefficients[j * outputs + o] != 0f;
        var (prefix, kept, cut) = CutVocabulary(ml, exported, keep, data, column);
        var newParts = new MlNetModelParts { Prefix = prefix, Predictor = parts.Predictor, Suffix = parts.Suffix, Task = parts.Task, FeatureColumn = column };

        var start = new float[kept.Length * outputs];
        for (int p = 0; p < kept.Length; p++)
            for (int o = 0; o < outputs; o++) start[p * outputs + o] = coefficients[kept[p] * outputs + o];
        var bias = GraphPruner.BiasOf(graph.Graph, Consumer(graph, weight.Name), outputs);
        var biasValues = bias != null ? OnnxTensors.ReadFloats(bias) : new float[outputs];
        string refit = "";
        if (options.Reconstruct)
        {
            var newRows = SparseRows(newParts.TransformPrefix(data), column, options.MaxCalibrationRows);
            var targets = OriginalScores(original, data, newRows.Count, options.MaxCalibrationRows);
            if (bias == null)
                throw new UnsupportedModelException("The linear predictor's graph has no bias to refit; PruneFeaturizerVocabulary needs the MatMul + Add form ML.NET's linear models export to.");
            (start, biasValues) = SparseRefit.Fit(newRows, kept.Length, targets, start, outputs);
            refit = $"; the kept coefficients were refitted by least squares to the original model's scores on {newRows.Count} rows, as the normalization now spans the kept n-grams only";
        }
        graph.Graph.Initializer[graph.Graph.Initializer.IndexOf(weight)] = OnnxTensors.Float(weight.Name, start, kept.Length, outputs);
        if (bias != null) graph.Graph.Initializer[graph.Graph.Initializer.IndexOf(bias)] = OnnxTensors.Float(bias.Name, biasValues, bias.Dims.ToArray());
        var input = graph.Graph.Input.First(i => i.Name == column);
        input.Type.TensorType.Shape.Dim[^1] = new TensorShapeProto.Types.Dimension { DimValue = kept.Length };

        var predictor = new PredictorGraph
        {
            Model = graph, Task = pruned.Predictor.Task, FeatureColumn = column, FeatureCount = kept.Length,
            HasProbability = pruned.Predictor.HasProbability, ClassLabels = pruned.Predictor.ClassLabels, ClassLabelType = pruned.Predictor.ClassLabelType,
        };
        var description = $" The featurization's vocabulary was cut to the slots with a non-zero coefficient ({width} → {kept.Length} features; " +
            $"{cut.NgramsBefore} → {cut.NgramsAfter} n-grams, {cut.KeysBefore} → {cut.KeysAfter} encoder tokens); {exported.Replaced} transformer(s) of the featurization now run as one ONNX graph (OnnxTransformer)" +
            (exported.Normalizers.Count > 0 ? ", after ML.NET's NormalizeText for the case" : "") + refit + ".";
        return (new PredictorState(newParts, predictor, () => BuildPrefix(ml, exported, data, column, kept.Length)), description);
    }

    /// <summary>
    /// Cuts the exported featurization to the slots flagged in <paramref name="keep"/> (a block left empty keeps one
    /// slot, flagged here) and builds its transformers. Returns them, the kept slots in order, and what was removed.
    /// </summary>
    internal static (List<ITransformer> Prefix, int[] Kept, VocabularyCut Cut) CutVocabulary(MLContext ml, ExportedFeaturizer exported, bool[] keep, IDataView data, string column)
    {
        var cut = VocabularyPruner.Prune(exported.Model, exported.FeatureValue, keep);
        var kept = Enumerable.Range(0, keep.Length).Where(j => keep[j]).ToArray();
        SetFeatureOutput(exported.Model.Graph, exported.FeatureValue, column, kept.Length);
        return (BuildPrefix(ml, exported, data, column, kept.Length), kept, cut);
    }

    /// <summary>The [features, outputs] MatMul weight that reads the feature column: linear models only.</summary>
    private static (TensorProto Weight, int Outputs) LinearWeight(ModelProto graph, string column, int width)
    {
        var candidates = WeightTensors.Find(graph.Graph)
            .Where(w => w.Consumer.OpType == "MatMul" && w.Consumer.Input[0] == column).ToList();
        var tensor = candidates.Count == 1 ? OnnxGraphEditor.Initializer(graph.Graph, candidates[0].Name) : null;
        if (tensor == null || tensor.Dims.Count != 2 || tensor.Dims[0] != width)
            throw new UnsupportedModelException(
                "PruneFeaturizerVocabulary needs a linear predictor (SDCA, L-BFGS, averaged perceptron, …) that reads the features through one coefficient matrix; this predictor's features are not read that way (e.g. a tree ensemble).");
        return (tensor, (int)tensor.Dims[1]);
    }

    private static NodeProto Consumer(ModelProto graph, string weight) => graph.Graph.Node.First(n => n.OpType == "MatMul" && n.Input[1] == weight);

    /// <summary>The graph's single output: the feature vector as a 1-D float tensor, named as the data column.</summary>
    private static void SetFeatureOutput(GraphProto g, string featureValue, string column, int width)
    {
        if (featureValue != column && g.Node.Any(n => n.Output.Contains(column)))
            PredictorExporter.RenameValue(g, column, OnnxGraphEditor.UniqueName(g, column + "_inner"));
        if (featureValue == column)
        {
            var inner = OnnxGraphEditor.UniqueName(g, column + "_inner");
            PredictorExporter.RenameValue(g, column, inner);
            featureValue = inner;
        }
        var shape = OnnxGraphEditor.UniqueName(g, "flat_shape");
        g.Initializer.Add(OnnxTensors.Int64(shape, new[] { -1L }, 1));
        g.Node.Add(OnnxGraphEditor.Node("Reshape", new[] { featureValue, shape }, new[] { column }, column + "_flatten"));
        g.Output.Clear();
        g.Output.Add(OnnxGraphEditor.TensorValue(column, OnnxType.Float, width));
    }

    /// <summary>Native case normalization, the ONNX featurization, then the prefix transformers that stay native.</summary>
    private static List<ITransformer> BuildPrefix(MLContext ml, ExportedFeaturizer exported, IDataView data, string column, int width)
    {
        var result = new List<ITransformer>();
        var view = data;
        void Add(ITransformer t) { result.Add(t); view = t.Transform(view); }
        foreach (var (input, source, caseMode) in exported.Normalizers)
            Add(ml.Transforms.Text.NormalizeText(input, source, caseMode, keepDiacritics: true, keepPunctuations: true, keepNumbers: true).Fit(view));
        Add(OwnedOnnxTransformer.Create(ml, new[] { column }, exported.Inputs.ToArray(), exported.Model, view));
        if (exported.Normalizers.Count > 0)
            Add(ml.Transforms.DropColumns(exported.Normalizers.Select(n => n.Input).ToArray()).Fit(view));
        var schema = view.Schema;
        foreach (var t in exported.Kept)
        {
            try { schema = t.GetOutputSchema(schema); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException && schema.GetColumnOrNull("Label") == null && e.Message.Contains("'Label'", StringComparison.Ordinal))
            {
                // A label conversion, checked on unlabeled data: it runs (or is skipped) as in the original model.
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                throw new UnsupportedModelException(
                    $"The transformer {t.GetType().Name} before the predictor does not compute the features but reads a column of the featurization ({e.Message}); its vocabulary cannot be pruned.", e);
            }
            result.Add(t);
        }
        if (schema.GetColumnOrNull(column)?.Type is not VectorDataViewType { Size: var size } || size != width)
            throw new UnsupportedModelException($"After the pruned featurization the column '{column}' is not a vector of {width} floats; a transformer after the featurization changes it.");
        return result;
    }

    /// <summary>The first rows of a float vector column, kept sparse.</summary>
    internal static List<SparseRow> SparseRows(IDataView data, string column, int maxRows)
    {
        var col = data.Schema[column];
        var rows = new List<SparseRow>();
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> buffer = default;
        while (rows.Count < maxRows && cursor.MoveNext())
        {
            getter(ref buffer);
            var indices = new List<int>();
            var values = new List<float>();
            foreach (var (index, value) in buffer.Items())
                if (value != 0) { indices.Add(index); values.Add(value); }
            rows.Add(new SparseRow(indices.ToArray(), values.ToArray()));
        }
        return rows;
    }

    /// <summary>The original model's linear outputs (before any sigmoid or softmax) on the first <paramref name="count"/> rows.</summary>
    private static double[][] OriginalScores(PredictorState original, IDataView data, int count, int maxRows)
    {
        var graph = original.Graph.Clone();
        if (LinearOpRewriter.HasLinearOps(graph.Graph)) LinearOpRewriter.Rewrite(graph);
        var (weight, outputs) = LinearWeight(graph, original.Parts.FeatureColumn, original.Predictor.FeatureCount);
        var w = OnnxTensors.ReadFloats(weight);
        var bias = GraphPruner.BiasOf(graph.Graph, Consumer(graph, weight.Name), outputs);
        var b = bias != null ? OnnxTensors.ReadFloats(bias) : new float[outputs];
        var rows = SparseRows(original.Parts.TransformPrefix(data), original.Parts.FeatureColumn, Math.Min(count, maxRows));
        if (rows.Count != count)
            throw new DataMismatchException($"The original and the pruned featurization gave {rows.Count} and {count} rows of the same data.");
        return rows.Select(r =>
        {
            var s = new double[outputs];
            for (int o = 0; o < outputs; o++)
            {
                double sum = b[o];
                for (int k = 0; k < r.Indices.Length; k++) sum += r.Values[k] * w[r.Indices[k] * outputs + o];
                s[o] = sum;
            }
            return s;
        }).ToArray();
    }
}
