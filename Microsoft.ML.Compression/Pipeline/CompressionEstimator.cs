using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Compression.Reporting;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression;

/// <summary>
/// A chain of compression stages fitted as one estimator. <see cref="Fit"/> runs the stages in order on one
/// model and returns a single <see cref="CompressedModel"/>: raw input columns in, predictions out, holding only
/// the final model.
/// </summary>
/// <example>
/// <code>
/// var compress = ml.Compression()
///     .Distill(teacher, ml.Transforms.Concatenate("Features", cols).Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20)))
///     .Append(ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 }))
///     .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }));
/// var compressed = compress.Fit(train);
/// </code>
/// </example>
public sealed class CompressionEstimator : IEstimator<CompressedModel>
{
    private readonly MLContext _ml;
    private readonly IReadOnlyList<CompressionStageEstimator> _stages;
    private readonly IDataView? _evaluationData;
    private readonly IProgress<CompressionProgress>? _progress;

    internal CompressionEstimator(MLContext ml, IReadOnlyList<CompressionStageEstimator> stages, IDataView? evaluationData,
        IProgress<CompressionProgress>? progress = null)
    {
        _ml = ml;
        _stages = stages;
        _evaluationData = evaluationData;
        _progress = progress;
        for (int i = 1; i < stages.Count; i++)
            if (stages[i].Source != null)
                throw new ArgumentException(
                    $"Stage {i + 1} ({stages[i].StageName}) was given its own model, but in a chain every stage after the first acts on the model of the stage before it. Create it without a model, e.g. ml.Compression().{stages[i].StageName}(options).");
    }

    /// <summary>The stages, in the order they run.</summary>
    /// <example>
    /// <code>
    /// var chain = ml.Compression().Prune(teacher).Append(ml.Compression().Quantize());
    /// Console.WriteLine(string.Join(" → ", chain.Stages.Select(s =&gt; s.StageName))); // Prune → Quantize
    /// </code>
    /// </example>
    public IReadOnlyList<CompressionStageEstimator> Stages => _stages;

    /// <summary>Adds a stage that acts on the model produced by the stages so far.</summary>
    /// <example><code>chain = chain.Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Float16 }));</code></example>
    public CompressionEstimator Append(CompressionStageEstimator next)
    {
        if (next == null) throw new ArgumentNullException(nameof(next));
        return new CompressionEstimator(_ml, _stages.Append(next).ToList(), _evaluationData, _progress);
    }

    /// <summary>Also reports every stage's metric on <paramref name="evaluationData"/> (held-out data, same columns as the fit data).</summary>
    /// <example><code>var compressed = chain.WithEvaluationData(test).Fit(train); Console.WriteLine(compressed.Report.Final.EvaluationMetric);</code></example>
    public CompressionEstimator WithEvaluationData(IDataView evaluationData)
        => new(_ml, _stages, evaluationData ?? throw new ArgumentNullException(nameof(evaluationData)), _progress);

    /// <summary>
    /// Reports progress to <paramref name="progress"/> during <see cref="Fit"/>: one <see cref="CompressionProgress"/>
    /// when each stage starts and one when it ends (after its result was measured), in order, on the thread that
    /// calls <see cref="Fit"/>. The same messages also go to ML.NET's log (<c>mlContext.Log</c>).
    /// Note that <see cref="Progress{T}"/> posts its callbacks asynchronously (to the captured synchronization
    /// context or the thread pool); implement <see cref="IProgress{T}"/> yourself for callbacks that run in line.
    /// </summary>
    /// <param name="progress">Receives the notices; replaces any given before.</param>
    /// <example>
    /// <code>
    /// var compressed = ml.Compression()
    ///     .Distill(teacher, student)
    ///     .Append(ml.Compression().Quantize())
    ///     .WithProgress(new Progress&lt;CompressionProgress&gt;(p => Console.WriteLine(p)))
    ///     .Fit(train);
    /// </code>
    /// </example>
    public CompressionEstimator WithProgress(IProgress<CompressionProgress> progress)
        => new(_ml, _stages, _evaluationData, progress ?? throw new ArgumentNullException(nameof(progress)));

    /// <summary>Runs every stage on <paramref name="input"/> and returns the compressed model with its report.</summary>
    /// <example><code>CompressedModel compressed = chain.Fit(train);</code></example>
    /// <exception cref="CompressionException">The model or data cannot be compressed; the message says what to do. ONNX Runtime's own errors are its inner exception.</exception>
    public CompressedModel Fit(IDataView input)
    {
        try { return FitStages(input); }
        catch (Exception e) when (e is not CompressionException && OnnxRuntimeError(e) is { } ort)
        {
            throw new UnsupportedModelException(
                $"ONNX Runtime failed while the model was scored during compression ({ort.Message.Split('\n')[0].Trim()}). Check that the data's columns have the sizes and types " +
                "the graph's inputs declare; if they do, the graph uses something this library cannot compress: exclude those nodes (QuantizationOptions.ExcludedNodes) or try another stage.", e);
        }
    }

    /// <summary>ONNX Runtime's exception inside <paramref name="e"/> (ML.NET wraps it), or null.</summary>
    private static Exception? OnnxRuntimeError(Exception e)
    {
        for (Exception? x = e; x != null; x = x.InnerException)
            if (x is Microsoft.ML.OnnxRuntime.OnnxRuntimeException) return x;
        if (e is AggregateException a)
            foreach (var inner in a.InnerExceptions)
                if (OnnxRuntimeError(inner) is { } found) return found;
        return null;
    }

    private CompressedModel FitStages(IDataView input)
    {
        if (input == null) throw new ArgumentNullException(nameof(input));
        if (!FeatureSample.HasRows(input))
            throw new DataMismatchException("The data view given to Fit has no rows. Compression needs the training (or calibration) data to measure and fit the model.");
        var first = _stages[0];
        if (first.Source == null)
            throw new ArgumentException(
                $"The first stage ({first.StageName}) has no model to act on. Give it one, e.g. ml.Compression().{first.StageName}(teacher, options), or start the chain with Distill.");

        var (state, rows, large) = RunStages(first, input);
        // The earlier stages' models (the original among them) went with RunStages' frame: for a large graph their
        // memory goes back before the result's OnnxTransformer is built, the Fit's last model-sized step.
        Onnx.LargeGraphMemory.Release(large);
        var report = ReportBuilder.Create(state.Task, rows);
        if (state.Graph != null)
        {
            // A model compressed again carries the earlier report: replace it, ONNX metadata keys are unique.
            var earlier = state.Graph.MetadataProps.Where(p => p.Key == CompressionReport.MetadataKey).ToList();
            foreach (var entry in earlier) state.Graph.MetadataProps.Remove(entry);
            state.Graph.MetadataProps.Add(new global::Onnx.StringStringEntryProto { Key = CompressionReport.MetadataKey, Value = report.ToJson() });
        }
        // A large network's ML.NET chain is built when something needs it: building it here was the Fit's peak (a
        // 512 MB network's INT8 result: ~1.15 GB), for a session that Transform does not use.
        if (state is NetworkState network && Onnx.LargeGraphMemory.IsLarge(network.Model) && CompressedModel.Deferred(_ml, network, input, report) is { } deferred)
            return deferred;
        var chain = new TransformerChain<ITransformer>(state.BuildTransformers(_ml, input).ToArray());
        return new CompressedModel(chain, report, state.Graph, state);
    }

    /// <summary>
    /// Measures the model given, runs every stage and measures its result, then reads every model's rows/s; returns
    /// the last stage's model, the report's rows, and whether the model given was large. A method of its own because
    /// a method that runs once keeps its locals alive to its end (unoptimized code, hence compiled optimized at once here,
    /// where a local's model dies when the next stage's replaces it): only here do they hold the earlier stages' models.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining | System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private (ModelState Final, List<StageReport> Rows, bool Large) RunStages(CompressionStageEstimator first, IDataView input)
    {
        var state = MeasureSource(first, input, out var sourceRow);
        var rows = new List<StageReport> { sourceRow };
        // Decided once from the model given: its compressed form may be small, but the phases that measure it still
        // leave model-sized garbage behind.
        bool large = Onnx.LargeGraphMemory.IsLarge(state.Graph);
        Onnx.LargeGraphMemory.Release(large);
        // A large original's rows/s was read with it (MeasureSource): its stage holds the last reference to it.
        var states = new List<ModelState>();
        if (!large) states.Add(state);
        for (int i = 0; i < _stages.Count; i++)
        {
            var stage = _stages[i];
            _ml.LogInfo($"Compression: running stage {stage.StageName} ({i + 1} of {_stages.Count}).");
            _progress?.Report(new CompressionProgress(stage.StageName, i, _stages.Count, false, "started"));
            state = stage.Apply(state, input, out var description);
            Onnx.LargeGraphMemory.Release(large);
            var row = ReportBuilder.Measure(_ml, state, input, _evaluationData, stage.StageName, description);
            Onnx.LargeGraphMemory.Release(large);
            rows.Add(row);
            states.Add(state);
            string done = $"done: {description}" + (row.Metric is double m ? $" {ReportBuilder.MetricName(state.Task)} (fit) {m:F4}." : "");
            _ml.LogInfo($"Compression: stage {stage.StageName} {done}");
            _progress?.Report(new CompressionProgress(stage.StageName, i, _stages.Count, true, done));
        }
        ReportBuilder.MeasureThroughput(_ml, states, large ? rows.Skip(1).ToList() : rows, input);
        if (_stages[0] is DistillationEstimator) rows[1].TeacherRowsPerSecond = rows[0].RowsPerSecond; // the student against its teacher, read side by side
        return (state, rows, large);
    }

    /// <summary>
    /// The model given, checked by every stage and measured for the report's first row; a large graph's rows/s is read
    /// here too (large graphs are read one model at a time anyway), so that no later step keeps the original for it.
    /// </summary>
    /// <remarks>Compiled optimized at once, as <see cref="RunStages"/>: <see cref="MeasureFromFile"/> lets the original go, which unoptimized code would keep alive in a temporary to the method's end.</remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining | System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private ModelState MeasureSource(CompressionStageEstimator first, IDataView input, out StageReport row)
    {
        var state = first.PrepareSource(first.Source!.Create(_ml), input);
        foreach (var stage in _stages) stage.CheckBeforeFit(state); // e.g. a student of another task: fail before the teacher is measured
        var sourceDescription = state is Distillation.NetworkTeacherState network ? $"{first.Source.Description}: {network.Description}" : first.Source.Description;
        row = ReportBuilder.Measure(_ml, state, input, _evaluationData, first is DistillationEstimator ? "Teacher" : "Original", sourceDescription);
        if (Onnx.LargeGraphMemory.IsLarge(state.Graph))
        {
            if (first.Source.GraphPath is { } path && first is not DistillationEstimator && state is NetworkState)
            {
                if (MeasureFromFile(ref state, path, input, row))
                    return first.Source.Create(_ml); // read again, now that no ONNX Runtime session of it is held
                // Let go for a session that could not score in batches (e.g. a sequence dimension in an output): read
                // it again and measure it row by row, as a small graph.
                state ??= first.PrepareSource(first.Source.Create(_ml), input);
            }
            Onnx.LargeGraphMemory.Release(large: true);
            ReportBuilder.MeasureThroughput(_ml, new[] { state }, new[] { row }, input);
        }
        return state;
    }

    /// <summary>
    /// Reads the rows/s of a large original given as a file with ONNX Runtime loading that file, once
    /// <paramref name="state"/> (the graph parsed from it) is let go: a float session next to the managed copy held the
    /// model twice (a 512 MB network: 1.18 GB, the Fit's peak). Returns false when the graph's outputs have no
    /// stand-in (<paramref name="state"/> unchanged) or when the file's session cannot score in batches
    /// (<paramref name="state"/> then null: it was let go before the session was made); the caller then reads the
    /// state again.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining | System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private bool MeasureFromFile(ref ModelState state, string path, IDataView input, StageReport row)
    {
        var network = (NetworkState)state;
        if (network.BuildSchemaTwin(_ml, input) is not { } twin) return false;
        var scorer = new CompressedModel(new TransformerChain<ITransformer>(twin.ToArray()), ReportBuilder.Create(network.Task, new List<StageReport>()),
            Onnx.OnnxModelIO.WithoutWeights(network.Model), graphPath: path);
        network = null;
        state = null!; // the caller's reference: its copy of the weights goes before the session loads the file's
        Onnx.LargeGraphMemory.Release(large: true);
        if (!scorer.ScoresInBatches(input.Schema))
        {
            scorer.Dispose();
            return false;
        }
        ReportBuilder.MeasureThroughput(_ml, scorer, row, input);
        Onnx.LargeGraphMemory.Release(large: true);
        return true;
    }

    /// <summary>
    /// The schema shape after the chain: the input columns plus the columns the compressed model writes (a
    /// compression stage keeps the columns of the model it acts on; a chain that distills writes the student's).
    /// </summary>
    /// <example><code>var shape = chain.GetOutputSchema(inputShape); // lists Score, PredictedLabel, Probability, …</code></example>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (inputSchema == null) throw new ArgumentNullException(nameof(inputSchema));
        var distill = _stages.OfType<DistillationEstimator>().LastOrDefault();
        if (distill != null) return distill.StudentOutputSchema(inputSchema) ?? inputSchema;
        var first = _stages[0];
        if (first.Source == null)
            throw new ArgumentException(
                $"The first stage ({first.StageName}) has no model to act on. Give it one, e.g. ml.Compression().{first.StageName}(teacher, options), or start the chain with Distill.");
        return OutputShape.Of(_ml, first.Source.Create(_ml), inputSchema);
    }
}
