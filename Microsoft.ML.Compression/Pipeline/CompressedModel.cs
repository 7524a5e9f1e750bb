using Microsoft.ML.Compression.MlNet;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Compression;

/// <summary>
/// The result of fitting a compression chain: one transformer that takes the raw input columns and produces the
/// predictions, made only of standard ML.NET transformers (the compressed model runs through ONNX Runtime via
/// OnnxTransformer), plus the <see cref="Report"/> of what each stage did. Saved with <c>mlContext.Model.Save</c>
/// it loads back with <c>mlContext.Model.Load</c> as a plain <see cref="TransformerChain{TLastTransformer}"/>.
/// </summary>
/// <example>
/// <code>
/// CompressedModel compressed = chain.Fit(train);
/// var metrics = ml.BinaryClassification.Evaluate(compressed.Transform(test));
/// Console.WriteLine(compressed.Report);
/// ml.Model.Save(compressed, train.Schema, "compressed.zip");
/// </code>
/// </example>
public sealed class CompressedModel : ITransformer, IDisposable
{
    // The chain of standard transformers (saved, and run where the batch scorer cannot); for a large network built on
    // first need (see Deferred), so null until then.
    private TransformerChain<ITransformer>? _chain;
    private Func<TransformerChain<ITransformer>>? _buildChain;
    // Saves the deferred model without building _chain: through a chain made for the save alone (see SaveOnlyContext).
    private Action<ModelSaveContext>? _saveDeferred;
    // Whether _schemaChain's transformers are all its own (a loaded model's), not shared with the built chain.
    private bool _schemaChainOwnsAll;
    private readonly object _chainLock = new();
    // A chain of the same columns as _chain, for schemas and the transformers around the graph, whose OnnxTransformer
    // runs a weightless stand-in: only while _chain is not built, and only where the batch scorer scores the graph.
    private TransformerChain<ITransformer>? _schemaChain;
    private readonly global::Onnx.ModelProto? _onnx; // the library's own graph: never changed once the model is made

    private readonly object _scorerLock = new();
    private BatchScorer? _scorer;
    private bool _scorerTried;
    private bool _disposed;

    // ML.NET's PredictionEngine disposes the transformer it was made from (PredictionEngineOptions.OwnsTransformer
    // defaults to true), and an ONNX Runtime session used after that crashes the process: say so instead.
    private const string DisposedMessage = "This CompressedModel was disposed, and its ONNX Runtime sessions with it. A PredictionEngine disposes "
        + "the model it was created from unless it was created with new PredictionEngineOptions { OwnsTransformer = false }: create engines that "
        + "way to keep using the model, or load it again with mlContext.Model.Load.";

    internal CompressedModel(TransformerChain<ITransformer>? chain, CompressionReport report, global::Onnx.ModelProto? onnx, ModelState? state = null, string? graphPath = null)
    {
        _chain = chain;
        Report = report;
        _onnx = onnx;
        _state = state;
        _graphPath = graphPath;
    }

    /// <summary>
    /// A model of a large network whose ML.NET chain is built only when something needs it: enumerating
    /// <see cref="Transformers"/>, or data the batch scorer cannot take (and for each save, without keeping it). Why: the chain's OnnxTransformer holds an ONNX
    /// Runtime session of the whole graph (a 512 MB network's INT8 result: ~700 MB, and building it was the Fit's
    /// peak), while <see cref="Transform"/> and PredictionEngines score through the batch scorer's own session; both
    /// together held the model twice. A stand-in chain (<see cref="NetworkState.BuildSchemaTwin"/>) has
    /// the chain's columns and answers for schemas meanwhile.
    /// </summary>
    /// <returns>Null when the graph's outputs have no stand-in: then build the chain now.</returns>
    /// <exception cref="UnsupportedModelException">The graph is too large for ML.NET's OnnxTransformer (2 GB).</exception>
    /// <exception cref="DataMismatchException">The chain refuses <paramref name="input"/>'s columns (the stand-in checks them as the chain would).</exception>
    internal static CompressedModel? Deferred(MLContext ml, NetworkState network, IDataView input, CompressionReport report)
    {
        OwnedOnnxTransformer.CheckSize(network.Model); // the chain's own refusal, at Fit as before
        if (network.BuildSchemaTwin(ml, input) is not { } twin) return null;
        // Only the schema is kept for the build, not the data (which may be large and cached).
        var schema = input.Schema;
        var tempFolder = ml.TempFilePath;
        return new CompressedModel(chain: null, report, network.Model, network)
        {
            _schemaChain = new TransformerChain<ITransformer>(twin.ToArray()),
            _buildChain = () => new TransformerChain<ITransformer>(network.BuildTransformers(ml, new EmptyDataView(schema)).ToArray()),
            _saveDeferred = ctx => SaveThroughFile(ctx, network, schema, tempFolder),
        };
    }

    /// <summary>
    /// A model loaded from a saved zip whose graph is large, without ML.NET's chain of it built: <paramref name="standIns"/>
    /// is the zip's chain loaded with a weightless stand-in in the graph's place (see CompressedModelLoader), and the
    /// real chain is loaded from <paramref name="zip"/> on first need, as in <see cref="Deferred"/>. Why: ML.NET's
    /// loader makes an ONNX Runtime session of the graph and keeps a parsed copy of it, beside the batch scorer's.
    /// </summary>
    internal static CompressedModel Loaded(MLContext ml, TransformerChain<ITransformer> standIns, byte[] zip, CompressionReport report, global::Onnx.ModelProto graph)
        => new(chain: null, report, graph)
        {
            _schemaChain = standIns,
            _schemaChainOwnsAll = true,
            _buildChain = () => LoadChain(ml, zip),
            _saveDeferred = ctx =>
            {
                using var chain = LoadChain(SaveOnlyContext(), zip);
                ((ICanSaveModel)chain).Save(ctx);
            },
        };

    private static TransformerChain<ITransformer> LoadChain(MLContext ml, byte[] zip)
        => new(MlNetModelParts.Flatten(Native.ModelLoading.Load(ml, () => new MemoryStream(zip, writable: false), out _)).ToArray());

    /// <summary>Saves <paramref name="network"/>'s chain built for the save alone, its graph read from a file in <paramref name="tempFolder"/> (deleted after).</summary>
    private static void SaveThroughFile(ModelSaveContext ctx, NetworkState network, DataViewSchema schema, string tempFolder)
    {
        var graphPath = Path.Combine(tempFolder, $"mlcompression-save-{Guid.NewGuid():N}.onnx");
        try
        {
            var chain = new TransformerChain<ITransformer>(network.BuildSaveTransformers(SaveOnlyContext(), new EmptyDataView(schema), graphPath).ToArray());
            try { ((ICanSaveModel)chain).Save(ctx); }
            // Its graph's transformer only: those before it are the stand-in chain's too.
            finally { (chain.LastTransformer as IDisposable)?.Dispose(); }
        }
        finally { File.Delete(graphPath); }
    }

    /// <summary>
    /// A context whose OnnxTransformers open their ONNX Runtime session without graph optimizations or memory arena, for
    /// a chain that is only saved. Why: ML.NET's OnnxTransformer makes a session when it is built and writes its zip
    /// entry from the graph's file; with optimizations ORT folds a weight-only INT8 graph's Cast of each weight into a
    /// float copy (a 512 MB network's result: 128 MB of INT8 held as 512 MB of float), which a save never runs.
    /// </summary>
    private static MLContext SaveOnlyContext()
    {
        var ml = new MLContext();
        ml.SetOnnxSessionOption(new OnnxSessionOptions
        {
            GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
            EnableCpuMemArena = false,
            EnableMemoryPattern = false,
        });
        return ml;
    }

    /// <summary>Whether the ML.NET chain has been built (always, unless the model was made <see cref="Deferred"/>); for tests.</summary>
    internal bool ChainBuilt
    {
        get
        {
            lock (_chainLock) return _chain != null;
        }
    }

    /// <summary>The ML.NET chain, built now if it was deferred.</summary>
    private TransformerChain<ITransformer> Chain
    {
        get
        {
            lock (_chainLock)
            {
                if (_chain == null)
                {
                    ThrowIfDisposed();
                    _chain = _buildChain!();
                }
                return _chain;
            }
        }
    }

    /// <summary>The chain for schemas and the transformers around the graph: the built chain, else its stand-in.</summary>
    private TransformerChain<ITransformer> SchemaChain
    {
        get
        {
            lock (_chainLock) return _chain ?? _schemaChain!;
        }
    }

    // A file with the graph and its weights that the batch scorer loads instead of _onnx (then only the graph's
    // structure): the report's reading of a large original's rows/s, made while no managed copy of it is held.
    private readonly string? _graphPath;

    // The last stage's model, so that this model can be compressed again (e.g. Prune(distilled)): its chain alone
    // ends in ML.NET's output-column mappers after the OnnxTransformer, which no stage could read back.
    private readonly ModelState? _state;

    /// <summary>The model as the last stage left it, for a new compression chain; throws once disposed.</summary>
    internal ModelState? State
    {
        get
        {
            ThrowIfDisposed();
            return _state;
        }
    }

    /// <summary>What each stage did: sizes, counts and metrics before and after.</summary>
    /// <example><code>Console.WriteLine(compressed.Report);</code></example>
    public CompressionReport Report { get; }

    /// <summary>The standard ML.NET transformers this model runs, in order (featurization, OnnxTransformer, output columns).</summary>
    /// <example><code>foreach (var t in compressed.Transformers) Console.WriteLine(t.GetType().Name);</code></example>
    /// <remarks>For a large network this builds ML.NET's OnnxTransformer of the graph (an ONNX Runtime session of it) if it is not built yet.</remarks>
    public TransformerChain<ITransformer> Transformers => Chain;

    /// <summary>The compressed ONNX graph (of the predictor or network), or null when the result is a native ML.NET model.</summary>
    /// <example><code>File.WriteAllBytes("model.onnx", compressed.OnnxModel!);</code></example>
    /// <exception cref="UnsupportedModelException">The graph takes 2 GB or more, which no byte array of protobuf holds: use <see cref="SaveOnnx"/>.</exception>
    public byte[]? OnnxModel => _onnx == null ? null : OnnxModelIO.ToBytes(_onnx);

    /// <summary>
    /// Writes the compressed ONNX graph to <paramref name="path"/>. Its large weights go to an external data file beside
    /// it, named after the file with <c>.data</c> added, when <paramref name="externalData"/> is true or when the graph
    /// would take 2 GB or more (the protobuf limit); the graph then refers to that file alone, and ONNX Runtime loads
    /// both from the folder. Both files are written under temporary names first, so a failure leaves no half-written file.
    /// </summary>
    /// <param name="path">The .onnx file to write (replaced if it exists).</param>
    /// <param name="externalData">Whether to store the weights in an external data file even under 2 GB.</param>
    /// <returns>The paths written: the graph, then its data file when there is one.</returns>
    /// <exception cref="UnsupportedModelException">The model is a native ML.NET model, which has no ONNX graph (see <see cref="ExportToOnnx"/>).</exception>
    /// <example><code>compressed.SaveOnnx("model-int8.onnx"); // model-int8.onnx.data beside it only when over 2 GB</code></example>
    public IReadOnlyList<string> SaveOnnx(string path, bool externalData = false)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("Give the path of the .onnx file to write.", nameof(path));
        ThrowIfDisposed();
        if (_onnx == null)
            throw new UnsupportedModelException("This model is a native ML.NET model and has no ONNX graph: save it with mlContext.Model.Save, or convert it with ExportToOnnx.");
        var dataFile = Path.GetFileName(path) + ".data";
        bool external = externalData || OnnxModelIO.SerializedBytes(_onnx) >= ExternalData.MaxModelBytes;
        OnnxModelIO.WriteWithExternalData(_onnx, path, dataFile, external ? OnnxModelIO.ExternalTensorBytes : long.MaxValue);
        var data = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, dataFile);
        return external && File.Exists(data) ? new[] { path, data } : new[] { path };
    }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => ((ITransformer)SchemaChain).IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ThrowIfDisposed();
        try { return SchemaChain.GetOutputSchema(inputSchema); }
        catch (Exception e) when (_onnx != null && IsRefusedSchema(e)) { throw ScoringErrors.CannotScore(ScoringModelName, e); }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// What <c>mlContext.Model.CreatePredictionEngine</c> uses. When the ONNX graph can be scored by this library
    /// (as in <see cref="Transform"/>), the mapper runs the graph one row per ONNX Runtime call on buffers made once
    /// per engine instead of through OnnxTransformer's per-row tensors and result collections; the transformers before
    /// and after the graph run their own ML.NET mappers. The columns, their types and values are the chain's.
    /// </remarks>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ThrowIfDisposed();
        var transformers = SchemaChain.ToArray();
        int at = GraphIndex(transformers);
        if (at < 0) return ((ITransformer)Chain).GetRowToRowMapper(inputSchema);
        var mappers = new List<IRowToRowMapper>();
        var schema = inputSchema;
        for (int i = 0; i < at; i++)
        {
            mappers.Add(transformers[i].GetRowToRowMapper(schema));
            schema = mappers[^1].OutputSchema;
        }
        var (output, outputs, scorer) = GraphScorer(transformers[at], schema);
        if (scorer == null) return ((ITransformer)Chain).GetRowToRowMapper(inputSchema);
        mappers.Add(new SingleRowOnnxMapper(schema, output, scorer, outputs));
        schema = output;
        for (int i = at + 1; i < transformers.Length; i++)
        {
            mappers.Add(transformers[i].GetRowToRowMapper(schema));
            schema = mappers[^1].OutputSchema;
        }
        return new ChainedRowMapper(inputSchema, mappers);
    }

    /// <summary>
    /// Whether <see cref="Transform"/> scores the graph with this library's batch scorer on data of
    /// <paramref name="inputSchema"/> (and so never runs the chain's OnnxTransformer); makes the scorer when it can.
    /// </summary>
    internal bool ScoresInBatches(DataViewSchema inputSchema)
    {
        ThrowIfDisposed();
        var transformers = SchemaChain.ToArray();
        int at = GraphIndex(transformers);
        if (at < 0) return false;
        var schema = inputSchema;
        for (int i = 0; i < at; i++) schema = transformers[i].GetOutputSchema(schema);
        return GraphScorer(transformers[at], schema).Scorer != null;
    }

    /// <summary>Rows the ONNX graph scored one at a time through this library's mapper (PredictionEngines); for tests.</summary>
    internal long SingleRowRuns
    {
        get
        {
            lock (_scorerLock) return _scorer?.SingleRowRuns ?? 0;
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The ONNX graph is scored a batch of rows per ONNX Runtime call (the chain's OnnxTransformer would call it once
    /// per row); the columns, their types and values are the same. <see cref="Transformers"/> and a saved and loaded
    /// model run the standard OnnxTransformer.
    /// </remarks>
    public IDataView Transform(IDataView input)
    {
        ThrowIfDisposed();
        var transformers = SchemaChain.ToArray();
        int at = GraphIndex(transformers);
        if (at < 0) return Chain.Transform(input);
        try
        {
            var data = input;
            for (int i = 0; i < at; i++) data = transformers[i].Transform(data);
            var (schema, outputs, scorer) = GraphScorer(transformers[at], data.Schema);
            // Without the scorer the real OnnxTransformer runs (the stand-in's would write zeros); the chains share the rest.
            data = scorer == null ? Chain.ElementAt(at).Transform(data) : new BatchScoredDataView(data, schema, scorer, outputs);
            for (int i = at + 1; i < transformers.Length; i++) data = transformers[i].Transform(data);
            return new TypedErrorsDataView(data, ScoringModelName);
        }
        catch (Exception e) when (IsRefusedSchema(e)) { throw ScoringErrors.CannotScore(ScoringModelName, e); }
    }

    private const string ScoringModelName = "The compressed model";

    // OnnxTransformer checks the graph's declared input shapes against the columns (InvalidOperationException), and
    // ML.NET's transforms look their columns up (ArgumentOutOfRangeException) when the view is made.
    private static bool IsRefusedSchema(Exception e) => ScoringErrors.IsRefusedRows(e) || e is ArgumentOutOfRangeException;

    // The compressed graph is the last OnnxTransformer (a pruned featurizer runs as one before it). Should a later
    // one belong to the user's post-processing, its outputs are not the graph's and the batch scorer declines.
    private int GraphIndex(ITransformer[] transformers) => _onnx == null ? -1 : Array.FindLastIndex(transformers, t => t is OnnxTransformer);

    /// <summary>The graph's output schema and new columns on <paramref name="input"/>, and its scorer (null: run the OnnxTransformer).</summary>
    private (DataViewSchema Output, string[] Outputs, BatchScorer? Scorer) GraphScorer(ITransformer onnx, DataViewSchema input)
    {
        DataViewSchema output;
        try { output = onnx.GetOutputSchema(input); } // also OnnxTransformer's checks of the input columns
        catch (Exception e) when (IsRefusedSchema(e)) { throw ScoringErrors.CannotScore(ScoringModelName, e); }
        var outputs = output.Skip(input.Count).Select(c => c.Name).ToArray();
        return (output, outputs, Scorer(input, output, outputs));
    }

    /// <summary>The batch scorer of the ONNX graph, made on first use; null when the graph cannot be batched.</summary>
    private BatchScorer? Scorer(DataViewSchema input, DataViewSchema output, string[] outputs)
    {
        lock (_scorerLock)
        {
            if (!_scorerTried) _scorer = BatchScorer.TryCreate(_onnx!, input, output, outputs, _graphPath);
            _scorerTried = true;
            return _scorer;
        }
    }

    /// <summary>
    /// Writes the whole model (featurization and compressed predictor) as one ONNX graph that ONNX Runtime runs in any
    /// language. A native ML.NET result (a pruned or quantized tree ensemble or linear model) is converted by ML.NET's
    /// own exporter, as <c>mlContext.Model.ConvertToOnnx(model.Transformers, data, stream)</c> would; a compressed ONNX
    /// network is written as it is.
    /// </summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="inputData">Data with the model's input columns (their types and vector sizes define the graph's inputs).</param>
    /// <param name="output">Receives the ONNX bytes (not closed).</param>
    /// <exception cref="UnsupportedModelException">A part of the pipeline has no ONNX converter in ML.NET, or the
    /// model is an ONNX predictor graph behind native featurization (export the featurization with ConvertToOnnx and
    /// use <see cref="OnnxModel"/>).</exception>
    /// <example>
    /// <code>
    /// using var file = File.Create("churn.onnx");
    /// compressed.ExportToOnnx(ml, train, file);
    /// </code>
    /// </example>
    public void ExportToOnnx(MLContext mlContext, IDataView inputData, Stream output)
    {
        if (mlContext == null) throw new ArgumentNullException(nameof(mlContext));
        if (inputData == null) throw new ArgumentNullException(nameof(inputData));
        if (output == null) throw new ArgumentNullException(nameof(output));
        ThrowIfDisposed();
        var transformers = SchemaChain.ToArray();
        if (_onnx != null)
        {
            if (transformers.Length == 1 && transformers[0] is OnnxTransformer) { output.Write(OnnxModelIO.ToBytes(_onnx)); return; }
            throw new UnsupportedModelException(
                "This model is an ONNX predictor graph behind ML.NET featurization, which has no one-file export. Its graph is in OnnxModel; " +
                "or compress a tree ensemble or linear model, which stays a native ML.NET model that exports whole.");
        }
        try
        {
            mlContext.Model.ConvertToOnnx(Chain, inputData, output);
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException && e is not CompressionException)
        {
            throw new UnsupportedModelException($"ML.NET cannot convert this model to ONNX ({e.Message}): every transform of the pipeline needs an ONNX converter.", e);
        }
    }

    // Saved as the inner chain of standard transformers, so loading needs nothing of this type.
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ThrowIfDisposed();
        lock (_chainLock)
        {
            if (_chain != null)
            {
                ((ICanSaveModel)_chain).Save(ctx);
                return;
            }
            // A deferred chain is built for the save alone and let go after it: kept, its session would sit beside the
            // batch scorer's for the model's life (a 512 MB network's INT8 result: ~700 MB each).
            _saveDeferred!(ctx);
        }
    }

    /// <summary>Releases the ONNX Runtime sessions of the model.</summary>
    /// <remarks>
    /// A <c>PredictionEngine</c> created with ML.NET's default options disposes its model when it is disposed; use
    /// <c>new PredictionEngineOptions { OwnsTransformer = false }</c> to keep using the model afterwards. A disposed model
    /// throws <see cref="ObjectDisposedException"/>.
    /// </remarks>
    /// <example><code>using var compressed = chain.Fit(train);</code></example>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_chainLock)
        {
            if (_chain == null || _schemaChainOwnsAll) _schemaChain?.Dispose();
            else
                // The stand-in's own OnnxTransformer; the transformers before it are the built chain's, disposed with it.
                (_schemaChain?.LastTransformer as IDisposable)?.Dispose();
            _chain?.Dispose();
        }
        lock (_scorerLock) _scorer?.Dispose();
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(CompressedModel), DisposedMessage);
    }
}
