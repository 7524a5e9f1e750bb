using Google.Protobuf;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Pipeline;

/// <summary>Measures one model state: counts, sizes and the task metric, with ML.NET's own evaluators.</summary>
internal static class ReportBuilder
{
    public static StageReport Measure(MLContext ml, ModelState state, IDataView data, IDataView? evaluation, string stage, string description)
    {
        ModelStatistics? stats = null;
        if (state.Graph != null) stats = ModelStatistics.Of(state.Graph);
        else if (state is NativeState native)
        {
            try { stats = ModelStatistics.Of(native.Export(ml, data).Graph); }
            catch (CompressionException e) when (e is not DataMismatchException) { stats = null; } // a predictor ONNX cannot export: sizes still come from the zip
        }

        if (TooLargeForMlNet(state) && state.Distillation == null && evaluation == null)
        {
            // ML.NET cannot run or save a graph of 2 GB or more (e.g. the original of a model kept in external data):
            // a network's row has no task metric to score anyway, so it reports the counts, and as its saved size the
            // bytes of the graph with its weights.
            return new StageReport
            {
                Stage = stage, Description = description, ParameterCount = stats?.ParameterCount, NonZeroCount = stats?.NonZeroCount,
                BitsPerWeight = stats?.BitsPerWeight, OnnxBytes = stats?.OnnxBytes, ZipBytes = stats?.OnnxBytes ?? 0, TensorErrors = state.TensorErrors,
            };
        }
        // A large network read for its counts and saved size only (no label, no evaluation data) is not run at all:
        // a stand-in with its columns takes the place of ML.NET's transformer, which would hold a session of the
        // whole graph, and the saved size is computed with the graph in the stand-in's place.
        var twin = SizeOnly(state, data, evaluation) ? ((NetworkState)state).BuildSchemaTwin(ml, data) : null;
        var transformers = twin ?? state.BuildTransformers(ml, data);
        var chain = new TransformerChain<ITransformer>(transformers.ToArray());
        // Scored the way the resulting CompressedModel.Transform scores (a batch of rows per ONNX Runtime call), so the
        // report's metrics are exactly what users measure on the model; the saved size still comes from the chain.
        var batched = state.Graph != null ? new CompressedModel(chain, Create(state.Task, new List<StageReport>()), state.Graph) : null;
        ITransformer scorer = (ITransformer?)batched ?? chain;
        var distilled = state.Distillation;
        var baseline = distilled?.Baseline;
        FidelityResult? fit = null, eval = null;
        long? teacherZipBytes = null;
        if (distilled != null)
        {
            var teacher = new TransformerChain<ITransformer>(distilled.Teacher.BuildTransformers(ml, data).ToArray());
            try
            {
                // A scoring-only teacher (e.g. an unregistered CustomMapping) may not save: its size is then not compared.
                try { teacherZipBytes = ZipBytes(ml, teacher, data); }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException or NotSupportedException) { teacherZipBytes = null; }
                fit = Compare(state.Task, teacher, scorer, data, distilled.LabelColumn);
                if (evaluation != null) eval = Fidelity.Measure(state.Task, ScoreEvaluation(teacher, evaluation, distilled.LabelColumn), ScoreEvaluation(scorer, evaluation, distilled.LabelColumn));
            }
            finally
            {
                if (distilled.Teacher is not NativeState) teacher.Dispose();
            }
        }
        try
        {
            long zipBytes = twin != null ? ZipBytesWithGraph(ml, chain, data, state.Graph!) : ZipBytes(ml, chain, data);
            return new StageReport
            {
                Stage = stage,
                Description = description,
                ParameterCount = stats?.ParameterCount,
                NonZeroCount = stats?.NonZeroCount,
                BitsPerWeight = stats?.BitsPerWeight,
                OnnxBytes = stats?.OnnxBytes,
                ZipBytes = zipBytes,
                // A network is scored only when the data has a label for its accuracy: otherwise a model-sized ONNX
                // Runtime session would run for nothing (large networks' memory).
                Metric = Unlabeled(state, data) ? null : Metric(ml, state.Task, Score(scorer, data), networkOutput: (state as NetworkState)?.Outputs.FirstOrDefault()),
                EvaluationMetric = evaluation == null || Unlabeled(state, evaluation) ? null : Metric(ml, state.Task, ScoreEvaluation(scorer, evaluation), networkOutput: (state as NetworkState)?.Outputs.FirstOrDefault()),
                Agreement = fit?.Agreement,
                ScoreMse = fit?.ScoreMse,
                KlDivergence = fit?.KlDivergence,
                EvaluationAgreement = eval?.Agreement,
                EvaluationScoreMse = eval?.ScoreMse,
                EvaluationKlDivergence = eval?.KlDivergence,
                BaselineMetric = baseline == null ? null : Metric(ml, state.Task, Score(baseline, data)),
                BaselineEvaluationMetric = baseline == null || evaluation == null ? null : Metric(ml, state.Task, ScoreEvaluation(baseline, evaluation)),
                TensorErrors = state.TensorErrors,
                Layers = state.Layers,
                LayerPrecisions = state.LayerPrecisions,
                Selection = distilled?.Selection,
                TeacherZipBytes = teacherZipBytes,
            };
        }
        finally
        {
            // The ONNX sessions of intermediate models (the batched model disposes its chain too).
            if (batched != null) batched.Dispose();
            else if (state is not NativeState) chain.Dispose();
        }
    }

    /// <summary>
    /// Sets every row's <see cref="StageReport.RowsPerSecond"/>: the model of each stage scored as the report scores
    /// it, side by side once all stages ran (the process is warm by then, so an early row is not read while the JIT is
    /// still compiling; and the same cached rows go through every model in turn).
    /// </summary>
    public static void MeasureThroughput(MLContext ml, IReadOnlyList<ModelState> states, IReadOnlyList<StageReport> rows, IDataView data)
    {
        // Large graphs are read one model at a time: side by side, every stage's ONNX Runtime sessions would be
        // held at once (a float network and its quantized form, each with weights unpacked and packed).
        if (states.Any(s => s.Graph != null && OnnxModelIO.SerializedBytes(s.Graph) >= SideBySideBytes))
        {
            for (int i = 0; i < states.Count && i < rows.Count; i++)
                if (!TooLargeForMlNet(states[i]))
                {
                    MeasureTogether(ml, new[] { states[i] }, new[] { rows[i] }, data);
                    LargeGraphMemory.Release(large: true); // one model's sessions and arrays, before the next model's
                }
            return;
        }
        MeasureTogether(ml, states, rows, data);
    }

    /// <summary>Graphs from this size on have their rows/s read one model at a time (64 MB).</summary>
    internal const long SideBySideBytes = 64L << 20;

    /// <summary>Whether the state is a graph ML.NET's OnnxTransformer cannot hold (2 GB or more).</summary>
    private static bool TooLargeForMlNet(ModelState state)
        => state.Graph != null && OnnxModelIO.SerializedBytes(state.Graph) >= ExternalData.MaxModelBytes;

    private static void MeasureTogether(MLContext ml, IReadOnlyList<ModelState> states, IReadOnlyList<StageReport> rows, IDataView data)
        => Time(ml, scorers => { foreach (var state in states) scorers.Add(Scorer(ml, state, data)); }, rows, data);

    /// <summary>Sets <paramref name="row"/>'s rows/s from <paramref name="scorer"/>, which is disposed after.</summary>
    public static void MeasureThroughput(MLContext ml, CompressedModel scorer, StageReport row, IDataView data)
        => Time(ml, scorers => scorers.Add((scorer, scorer)), new[] { row }, data);

    /// <summary>Times the scorers that <paramref name="build"/> adds, side by side, and disposes them.</summary>
    private static void Time(MLContext ml, Action<List<(ITransformer Scorer, IDisposable? Owner)>> build, IReadOnlyList<StageReport> rows, IDataView data)
    {
        var scorers = new List<(ITransformer Scorer, IDisposable? Owner)>();
        try
        {
            build(scorers);
            var models = scorers.Select(s => (Func<IDataView, IDataView>)(rows => Score(s.Scorer, rows))).ToList();
            var rates = Throughput.SideBySide(ml, models, data).ToArray();
            // A stage read as slower than the one before is read again with it, best of both readings: the report says
            // "slower than the model it came from" only when a second reading agrees (a tree quantization, which
            // changes no structure, once read 0.67× from a stray slow pass).
            for (int i = 1; i < rates.Length; i++)
                if (rates[i] is double now && rates[i - 1] is double before && now < ReportFormatter.SlowerFraction * before)
                {
                    var again = Throughput.SideBySide(ml, new[] { models[i - 1], models[i] }, data);
                    rates[i - 1] = Math.Max(before, again[0] ?? 0);
                    rates[i] = Math.Max(now, again[1] ?? 0);
                }
            for (int i = 0; i < rows.Count && i < rates.Length; i++) rows[i].RowsPerSecond = rates[i];
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A reading for the report never fails the stage: the rows keep no rows/s. (ML.NET's OnnxTransformer cannot
            // run some graphs the batch scorer declines, e.g. a source network with a free sequence dimension; such a
            // refusal is a typed DataMismatchException by now.)
        }
        finally
        {
            foreach (var (_, owner) in scorers) owner?.Dispose();
        }
    }

    /// <summary>The state's model scored the way the resulting CompressedModel scores it, and what to dispose after (null for the user's own native model).</summary>
    private static (ITransformer Scorer, IDisposable? Owner) Scorer(MLContext ml, ModelState state, IDataView data)
    {
        // A large network is timed through its batch scorer alone: the stand-in keeps ML.NET's transformer (a second
        // session of the whole graph) out of memory, and is used only when the batch scorer takes the graph.
        if (state is NetworkState network && LargeGraphMemory.IsLarge(network.Model) && network.BuildSchemaTwin(ml, data) is { } twin)
        {
            var scored = new CompressedModel(new TransformerChain<ITransformer>(twin.ToArray()), Create(state.Task, new List<StageReport>()), network.Model);
            if (scored.ScoresInBatches(data.Schema)) return (scored, scored);
            scored.Dispose();
        }
        var chain = new TransformerChain<ITransformer>(state.BuildTransformers(ml, data).ToArray());
        if (state.Graph != null)
        {
            var batched = new CompressedModel(chain, Create(state.Task, new List<StageReport>()), state.Graph);
            return (batched, batched);
        }
        return (chain, state is NativeState ? null : chain);
    }

    /// <summary>The bytes of the model saved with <c>mlContext.Model.Save</c>.</summary>
    internal static long ZipBytes(MLContext ml, ITransformer model, IDataView data)
    {
        using var zip = new CountingStream();
        ml.Model.Save(model, data.Schema, zip);
        return zip.Length;
    }

    /// <summary>Whether <see cref="Measure"/> reads only counts and the saved size of the state: a large network without labels, evaluation data or a teacher.</summary>
    private static bool SizeOnly(ModelState state, IDataView data, IDataView? evaluation)
        => state is NetworkState network && LargeGraphMemory.IsLarge(network.Model) && state.Distillation == null && evaluation == null && Unlabeled(state, data);

    /// <summary>
    /// <see cref="ZipBytes"/> of <paramref name="chain"/> as if its stand-in graph were <paramref name="graph"/>: ML.NET
    /// stores a graph as one deflated zip entry (a length-prefixed byte array, compressed at the optimal level), so the
    /// saved size is the stand-in chain's with that entry's compressed length replaced by the graph's, deflated here
    /// the same way as a stream (no copy of the graph is held).
    /// </summary>
    internal static long ZipBytesWithGraph(MLContext ml, ITransformer chain, IDataView data, global::Onnx.ModelProto graph)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(chain, data.Schema, zip);
        zip.Position = 0;
        using var archive = new System.IO.Compression.ZipArchive(zip, System.IO.Compression.ZipArchiveMode.Read, leaveOpen: true);
        foreach (var entry in archive.Entries.Where(e => e.Name == "OnnxModel" && e.Length < LargeGraphMemory.LargeBytes))
        {
            var content = new byte[entry.Length];
            using (var s = entry.Open()) s.ReadExactly(content);
            if (SavedOnnxModels.Parse(content, out int prefix) is not { Graph.Name: Scoring.OwnedOnnxTransformer.StandInName }) continue;
            using var deflated = new CountingStream();
            using (var deflate = new System.IO.Compression.DeflateStream(deflated, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
                SavedOnnxModels.WriteEntry(deflate, graph, prefix);
            return zip.Length - entry.CompressedLength + deflated.Length;
        }
        throw new NotSupportedException("ML.NET saved the stand-in's OnnxTransformer in a form this library does not know (no OnnxModel entry of the stand-in graph).");
    }

    /// <summary>The model's predictions; label conversions are skipped on data without the label column.</summary>
    private static IDataView Score(ITransformer model, IDataView data, string label = "Label")
        => LabelFree.Transform(MlNetModelParts.Flatten(model), data, label);

    /// <summary>
    /// <see cref="Score"/> on the evaluation data: ML.NET binds a transformer to its input's schema when Transform is
    /// called, so evaluation data without the model's columns fails here, before any row is read or stage run.
    /// </summary>
    private static IDataView ScoreEvaluation(ITransformer model, IDataView evaluation, string label = "Label")
    {
        try { return Score(model, evaluation, label); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException && e is not CompressionException || e is DataMismatchException)
        {
            throw new DataMismatchException($"The evaluation data given to WithEvaluationData does not fit the model ({e.Message}). Give it the columns of the training data (its label may be missing).", e);
        }
    }

    private static FidelityResult Compare(ModelTask task, ITransformer teacher, ITransformer student, IDataView data, string label)
        => Fidelity.Measure(task, Score(teacher, data, label), Score(student, data, label));

    public static CompressionReport Create(ModelTask task, List<StageReport> rows) => new()
    {
        Task = task,
        MetricName = MetricName(task),
        HigherIsBetter = task != ModelTask.Regression,
        Stages = rows,
    };

    public static string MetricName(ModelTask task) => task switch
    {
        ModelTask.BinaryClassification => "AUC",
        ModelTask.MulticlassClassification => "MicroAccuracy",
        ModelTask.Regression => "RMSE",
        ModelTask.Network => "accuracy",
        _ => "",
    };

    /// <summary>The task metric, or null when the scored data has no label of the type the evaluator needs.</summary>
    private static bool Unlabeled(ModelState state, IDataView data) => state.Task == ModelTask.Network && data.Schema.GetColumnOrNull("Label") == null;

    public static double? Metric(MLContext ml, ModelTask task, IDataView scored, string labelColumn = "Label", string? networkOutput = null)
    {
        try { return task == ModelTask.Network ? NetworkAccuracy(scored, labelColumn, networkOutput) : TaskMetric(ml, task, scored, labelColumn); }
        catch (ArgumentOutOfRangeException) { return null; } // e.g. AUC of data with one class only
    }

    /// <summary>
    /// A network's accuracy when the data has a class label: the share of rows whose largest value of the network's
    /// first output is at the label's index (a key's value − 1, an integer-valued number, or a Boolean as 0/1). Null
    /// without a label, for an output that is not a float vector, or when a label does not index into the output
    /// (the output is not a class vector, e.g. an encoder's hidden states).
    /// </summary>
    private static double? NetworkAccuracy(IDataView scored, string labelColumn, string? output)
    {
        var label = scored.Schema.GetColumnOrNull(labelColumn);
        var scores = output == null ? null : scored.Schema.GetColumnOrNull(output);
        if (label == null || scores == null || scores.Value.Type is not VectorDataViewType { ItemType: var item, Size: > 1 and var width } || item != NumberDataViewType.Single)
            return null;
        var labelType = label.Value.Type;
        Func<DataViewRow, ValueGetter<double>?> labelGetter = labelType switch
        {
            KeyDataViewType => row => { var g = row.GetGetter<uint>(label.Value); uint k = 0; return (ref double v) => { g(ref k); v = k == 0 ? double.NaN : k - 1.0; }; },
            BooleanDataViewType => row => { var g = row.GetGetter<bool>(label.Value); bool b = false; return (ref double v) => { g(ref b); v = b ? 1 : 0; }; },
            _ when labelType == NumberDataViewType.Single => row => { var g = row.GetGetter<float>(label.Value); float f = 0; return (ref double v) => { g(ref f); v = f; }; },
            _ when labelType == NumberDataViewType.Double => row => { var g = row.GetGetter<double>(label.Value); return (ref double v) => g(ref v); },
            _ when labelType == NumberDataViewType.Int32 => row => { var g = row.GetGetter<int>(label.Value); int i = 0; return (ref double v) => { g(ref i); v = i; }; },
            _ when labelType == NumberDataViewType.Int64 => row => { var g = row.GetGetter<long>(label.Value); long l = 0; return (ref double v) => { g(ref l); v = l; }; },
            _ => _ => null,
        };
        // The accuracy is the first time the network runs on every row: rows the graph refuses (an input shape that
        // does not match its column) surface here, as ML.NET's InvalidOperationException around ONNX Runtime's error.
        try { return Accuracy(scored, label.Value, scores.Value, width, labelGetter); }
        catch (Exception e) when (ScoringErrors.IsRefusedRows(e)) { throw ScoringErrors.CannotScore("The network", e); }
    }

    private static double? Accuracy(IDataView scored, DataViewSchema.Column label, DataViewSchema.Column score, int width, Func<DataViewRow, ValueGetter<double>?> labelGetter)
    {
        long rows = 0, right = 0;
        using var cursor = scored.GetRowCursor(new[] { label, score });
        var getLabel = labelGetter(cursor);
        if (getLabel == null) return null;
        var getScores = cursor.GetGetter<VBuffer<float>>(score);
        var buffer = default(VBuffer<float>);
        double y = 0;
        while (cursor.MoveNext())
        {
            getLabel(ref y);
            if (double.IsNaN(y)) continue; // a missing key label is no row to score
            if (y < 0 || y >= width || y != Math.Floor(y)) return null;
            getScores(ref buffer);
            var values = buffer.DenseValues().ToArray();
            int best = 0;
            for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
            rows++;
            if (best == (int)y) right++;
        }
        return rows == 0 ? null : right / (double)rows;
    }

    private static double? TaskMetric(MLContext ml, ModelTask task, IDataView scored, string labelColumn)
    {
        var label = scored.Schema.GetColumnOrNull(labelColumn);
        if (label == null) return null;
        var type = label.Value.Type;
        switch (task)
        {
            case ModelTask.BinaryClassification when type is BooleanDataViewType:
                return scored.Schema.GetColumnOrNull("Probability") != null
                    ? ml.BinaryClassification.Evaluate(scored, labelColumn).AreaUnderRocCurve
                    : ml.BinaryClassification.EvaluateNonCalibrated(scored, labelColumn).AreaUnderRocCurve;
            case ModelTask.MulticlassClassification when type is KeyDataViewType:
                return ml.MulticlassClassification.Evaluate(scored, labelColumn).MicroAccuracy;
            case ModelTask.Regression when type == NumberDataViewType.Single:
                return ml.Regression.Evaluate(scored, labelColumn).RootMeanSquaredError;
            default:
                return null;
        }
    }
}
