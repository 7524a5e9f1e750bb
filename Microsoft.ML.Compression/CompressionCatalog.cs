using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;

namespace Microsoft.ML.Compression;

/// <summary>Entry point: <c>mlContext.Compression()</c>.</summary>
/// <example><code>var compression = new MLContext(seed: 1).Compression();</code></example>
public static class CompressionMLContextExtensions
{
    /// <summary>The compression catalog of <paramref name="mlContext"/>: distillation, pruning and quantization stages.</summary>
    /// <example><code>var quantize = ml.Compression().Quantize(teacher, new QuantizationOptions { Precision = Precision.Int8 });</code></example>
    public static CompressionCatalog Compression(this MLContext mlContext)
    {
        if (mlContext == null) throw new ArgumentNullException(nameof(mlContext));
        // Saved compressed models contain custom mappings found by contract name: make them findable.
        mlContext.ComponentCatalog.RegisterAssembly(typeof(CompressionCatalog).Assembly);
        ResolveThisAssemblyByName();
        return new CompressionCatalog(mlContext);
    }

    private static int _resolverAdded;

    // Loading a saved model, ML.NET loads the custom mappings' assembly by its name. A host that loaded this library
    // from a path (a .NET Interactive notebook's #r, a plug-in folder) has it in memory, but not where a load by name
    // looks, so Model.Load failed with FileNotFoundException: answer such loads with the assembly already loaded.
    private static void ResolveThisAssemblyByName()
    {
        if (Interlocked.Exchange(ref _resolverAdded, 1) == 1) return;
        var self = typeof(CompressionCatalog).Assembly;
        string name = self.GetName().Name!;
        AppDomain.CurrentDomain.AssemblyResolve += (_, e) =>
            new System.Reflection.AssemblyName(e.Name).Name == name ? self : null;
    }
}

/// <summary>
/// Creates the compression stages. Each takes a model (a trained ML.NET pipeline, an ONNX file or stream, or an
/// OnnxTransformer) or, without one, acts on the model of the stage before it in a chain.
/// </summary>
/// <example>
/// <code>
/// var compressed = ml.Compression()
///     .Distill(teacher, student)
///     .Append(ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 }))
///     .Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }))
///     .Fit(train);
/// </code>
/// </example>
public sealed class CompressionCatalog
{
    private readonly MLContext _ml;
    internal CompressionCatalog(MLContext ml) => _ml = ml;

    /// <summary>Distills <paramref name="teacher"/> into <paramref name="student"/>, an estimator (chain) ending in a trainer of the teacher's task.</summary>
    /// <param name="teacher">Any trained ML.NET pipeline ending in a predictor (binary, multiclass or regression), or ending in an
    /// OnnxTransformer (an ONNX network teacher, read as <see cref="DistillationOptions.NetworkTeacher"/> says), or a
    /// <see cref="CompressedModel"/>; any other transformer that writes a <c>Score</c> column of the student's task
    /// (a field-aware factorization machine, a scoring CustomMapping) teaches through that column.</param>
    /// <param name="student">The student pipeline, with its own featurization if it wants one; it receives the training data's columns.
    /// Give its trainer an example-weight column (<c>exampleWeightColumnName: "Weight"</c>; Distill adds the column) for exact soft targets.</param>
    /// <param name="options">Soft-target options; defaults when null. <see cref="StudentSelectionOptions.ChooseOnValidation"/> returns the
    /// student trained on the labels alone when no distilled student beats it on validation rows.</param>
    /// <example>
    /// <code>
    /// var distill = ml.Compression().Distill(teacher,
    ///     ml.Transforms.Concatenate("Features", cols).Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, exampleWeightColumnName: "Weight")),
    ///     new DistillationOptions { Selection = { ChooseOnValidation = true } });
    /// </code>
    /// </example>
    public DistillationEstimator Distill(ITransformer teacher, IEstimator<ITransformer> student, DistillationOptions? options = null)
        => new(_ml, ModelSource.FromTransformer(_ml, teacher, nameof(teacher), teacher: true), student, options ?? new DistillationOptions());

    /// <summary>
    /// Distills an ONNX network read from a file into <paramref name="student"/>, a native ML.NET estimator (chain) ending
    /// in a binary, multiclass or regression trainer. The network's output is read as the student's task says (see
    /// <see cref="DistillationOptions.NetworkTeacher"/>); the file itself is never changed. A file of 64 MB or more is read again at Fit instead of being held by the stage, and must not change in between (else <see cref="InvalidModelException"/>).
    /// </summary>
    /// <example>
    /// <code>
    /// var distilled = ml.Compression().Distill("spam_mlp.onnx",
    ///     ml.Transforms.Conversion.MapValue("Label", new Dictionary&lt;string, bool&gt; { ["spam"] = true, ["nonspam"] = false }, "Label")
    ///         .Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 50))).Fit(train);
    /// </code>
    /// </example>
    public DistillationEstimator Distill(string onnxModelPath, IEstimator<ITransformer> student, DistillationOptions? options = null)
        => new(_ml, ModelSource.FromOnnxFile(CheckPath(onnxModelPath), $"'{onnxModelPath}'"), student, options ?? new DistillationOptions());

    /// <summary>Distills an ONNX network read from a stream (read to its end, not closed); see <see cref="Distill(string, IEstimator{ITransformer}, DistillationOptions)"/>.</summary>
    /// <example><code>using var s = File.OpenRead("letter_mlp.onnx"); var distilled = ml.Compression().Distill(s, student).Fit(train);</code></example>
    public DistillationEstimator Distill(Stream onnxModel, IEstimator<ITransformer> student, DistillationOptions? options = null)
        => new(_ml, ModelSource.FromOnnx(OnnxModelIO.Load(onnxModel ?? throw new ArgumentNullException(nameof(onnxModel))), "ONNX network from the stream"), student, options ?? new DistillationOptions());

    /// <summary>
    /// Distills <paramref name="teacher"/> into <paramref name="student"/> with the given soft-target weight and
    /// temperature, the other options at their defaults; see
    /// <see cref="Distill(ITransformer, IEstimator{ITransformer}, DistillationOptions)"/>.
    /// </summary>
    /// <param name="teacher">The trained model that teaches.</param>
    /// <param name="student">The student pipeline, ending in a trainer of the teacher's task.</param>
    /// <param name="alpha">Weight of the teacher's soft targets against the true labels, in [0, 1] (<see cref="DistillationOptions.Alpha"/>).</param>
    /// <param name="temperature">Softening temperature, greater than 0 (<see cref="DistillationOptions.Temperature"/>).</param>
    /// <example><code>var distilled = ml.Compression().Distill(teacher, student, alpha: 0.7, temperature: 2).Fit(train);</code></example>
    public DistillationEstimator Distill(ITransformer teacher, IEstimator<ITransformer> student, double alpha, double temperature = 1.0)
        => Distill(teacher, student, new DistillationOptions { Alpha = alpha, Temperature = temperature });

    /// <summary>A distillation stage for a chain: the model of the stage before it is the teacher.</summary>
    /// <example><code>var chain = ml.Compression().Quantize(teacher).Append(ml.Compression().Distill(student));</code></example>
    public DistillationEstimator Distill(IEstimator<ITransformer> student, DistillationOptions? options = null)
        => new(_ml, null, student, options ?? new DistillationOptions());

    /// <summary>A distillation stage for a chain with the given soft-target weight and temperature, the other options at their defaults.</summary>
    /// <param name="student">The student pipeline, ending in a trainer of the teacher's task.</param>
    /// <param name="alpha">Weight of the teacher's soft targets against the true labels, in [0, 1] (<see cref="DistillationOptions.Alpha"/>).</param>
    /// <param name="temperature">Softening temperature, greater than 0 (<see cref="DistillationOptions.Temperature"/>).</param>
    /// <example><code>var chain = ml.Compression().Quantize(teacher, Precision.Int8).Append(ml.Compression().Distill(student, alpha: 0.8));</code></example>
    public DistillationEstimator Distill(IEstimator<ITransformer> student, double alpha, double temperature = 1.0)
        => Distill(student, new DistillationOptions { Alpha = alpha, Temperature = temperature });

    /// <summary>A pruning stage for a chain: it prunes the model of the stage before it.</summary>
    /// <example><code>chain.Append(ml.Compression().Prune(new PruningOptions { TargetSparsity = 0.5 }));</code></example>
    public PruningEstimator Prune(PruningOptions? options = null) => new(_ml, null, options ?? new PruningOptions());

    /// <summary>Prunes a trained ML.NET model, or an OnnxTransformer network.</summary>
    /// <example><code>var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.5 }).Fit(train);</code></example>
    public PruningEstimator Prune(ITransformer model, PruningOptions? options = null)
        => new(_ml, ModelSource.FromTransformer(_ml, model, nameof(model)), options ?? new PruningOptions());

    /// <summary>Prunes an ONNX network read from a file; the file itself is never changed. A file of 64 MB or more is read again at Fit instead of being held by the stage, and must not change in between (else <see cref="InvalidModelException"/>).</summary>
    /// <example><code>var pruned = ml.Compression().Prune("mlp.onnx", new PruningOptions { TargetSparsity = 0.8 }).Fit(data);</code></example>
    public PruningEstimator Prune(string onnxModelPath, PruningOptions? options = null)
        => new(_ml, ModelSource.FromOnnxFile(CheckPath(onnxModelPath), $"'{onnxModelPath}'"), options ?? new PruningOptions());

    /// <summary>Prunes an ONNX network read from a stream (read to its end, not closed).</summary>
    /// <example><code>using var s = File.OpenRead("mlp.onnx"); var pruned = ml.Compression().Prune(s).Fit(data);</code></example>
    public PruningEstimator Prune(Stream onnxModel, PruningOptions? options = null)
        => new(_ml, ModelSource.FromOnnx(OnnxModelIO.Load(onnxModel ?? throw new ArgumentNullException(nameof(onnxModel))), "from the stream"), options ?? new PruningOptions());

    /// <summary>A pruning stage for a chain that removes <paramref name="targetSparsity"/> of the weights (or trees), the other options at their defaults.</summary>
    /// <param name="targetSparsity">Fraction of weights (or trees) to remove, in [0, 1).</param>
    /// <example><code>var chain = ml.Compression().Distill(teacher, student).Append(ml.Compression().Prune(0.5));</code></example>
    public PruningEstimator Prune(double targetSparsity) => Prune(new PruningOptions { TargetSparsity = targetSparsity });

    /// <summary>Prunes <paramref name="targetSparsity"/> of a trained ML.NET model's weights (or trees), or of an OnnxTransformer network's, the other options at their defaults.</summary>
    /// <param name="model">The trained model.</param>
    /// <param name="targetSparsity">Fraction of weights (or trees) to remove, in [0, 1).</param>
    /// <example><code>var pruned = ml.Compression().Prune(teacher, 0.8).Fit(train); // 80 % of the trees go</code></example>
    public PruningEstimator Prune(ITransformer model, double targetSparsity) => Prune(model, new PruningOptions { TargetSparsity = targetSparsity });

    /// <summary>Prunes <paramref name="targetSparsity"/> of the weights of an ONNX network read from a file, the other options at their defaults.</summary>
    /// <param name="onnxModelPath">The .onnx file (never changed).</param>
    /// <param name="targetSparsity">Fraction of weights to remove, in [0, 1).</param>
    /// <example><code>var pruned = ml.Compression().Prune("mlp.onnx", 0.5).Fit(data);</code></example>
    public PruningEstimator Prune(string onnxModelPath, double targetSparsity) => Prune(onnxModelPath, new PruningOptions { TargetSparsity = targetSparsity });

    /// <summary>A quantization stage for a chain: it quantizes the model of the stage before it.</summary>
    /// <example><code>chain.Append(ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8 }));</code></example>
    public QuantizationEstimator Quantize(QuantizationOptions? options = null) => new(_ml, null, options ?? new QuantizationOptions());

    /// <summary>Quantizes a trained ML.NET model, or an OnnxTransformer network.</summary>
    /// <example><code>var int8 = ml.Compression().Quantize(teacher, new QuantizationOptions { Precision = Precision.Int8 }).Fit(train);</code></example>
    public QuantizationEstimator Quantize(ITransformer model, QuantizationOptions? options = null)
        => new(_ml, ModelSource.FromTransformer(_ml, model, nameof(model)), options ?? new QuantizationOptions());

    /// <summary>Quantizes an ONNX network read from a file; the file itself is never changed. A file of 64 MB or more is read again at Fit instead of being held by the stage, and must not change in between (else <see cref="InvalidModelException"/>).</summary>
    /// <example><code>var int8 = ml.Compression().Quantize("mlp.onnx").Fit(data);</code></example>
    public QuantizationEstimator Quantize(string onnxModelPath, QuantizationOptions? options = null)
        => new(_ml, ModelSource.FromOnnxFile(CheckPath(onnxModelPath), $"'{onnxModelPath}'"), options ?? new QuantizationOptions());

    /// <summary>Quantizes an ONNX network read from a stream (read to its end, not closed).</summary>
    /// <example><code>using var s = File.OpenRead("mlp.onnx"); var int8 = ml.Compression().Quantize(s).Fit(data);</code></example>
    public QuantizationEstimator Quantize(Stream onnxModel, QuantizationOptions? options = null)
        => new(_ml, ModelSource.FromOnnx(OnnxModelIO.Load(onnxModel ?? throw new ArgumentNullException(nameof(onnxModel))), "from the stream"), options ?? new QuantizationOptions());

    /// <summary>A quantization stage for a chain to <paramref name="precision"/>, the other options at their defaults.</summary>
    /// <param name="precision">The precision of the weights (Int8, Int4, Float16).</param>
    /// <example><code>var chain = ml.Compression().Prune(teacher, 0.5).Append(ml.Compression().Quantize(Precision.Int8));</code></example>
    public QuantizationEstimator Quantize(Precision precision) => Quantize(new QuantizationOptions { Precision = precision });

    /// <summary>Quantizes a trained ML.NET model, or an OnnxTransformer network, to <paramref name="precision"/>, the other options at their defaults.</summary>
    /// <param name="model">The trained model.</param>
    /// <param name="precision">The precision of the weights (Int8, Int4, Float16).</param>
    /// <example><code>var int8 = ml.Compression().Quantize(teacher, Precision.Int8).Fit(train);</code></example>
    public QuantizationEstimator Quantize(ITransformer model, Precision precision) => Quantize(model, new QuantizationOptions { Precision = precision });

    /// <summary>Quantizes an ONNX network read from a file to <paramref name="precision"/>, the other options at their defaults.</summary>
    /// <param name="onnxModelPath">The .onnx file (never changed).</param>
    /// <param name="precision">The precision of the weights (Int8, Int4, Float16).</param>
    /// <example><code>var fp16 = ml.Compression().Quantize("mlp.onnx", Precision.Float16).Fit(data);</code></example>
    public QuantizationEstimator Quantize(string onnxModelPath, Precision precision) => Quantize(onnxModelPath, new QuantizationOptions { Precision = precision });

    /// <summary>A quantization stage for a chain to <paramref name="precision"/> in <paramref name="mode"/>, the other options at their defaults.</summary>
    /// <param name="precision">The precision of the weights (Int8, Int4, Float16); dynamic and static modes need Int8.</param>
    /// <param name="mode">Weight-only, dynamic or static quantization of networks (<see cref="NetworkQuantizationOptions.Mode"/>); trees and linear models are quantized weight-only.</param>
    /// <example><code>var chain = ml.Compression().Prune("mlp.onnx", 0.5).Append(ml.Compression().Quantize(Precision.Int8, QuantizationMode.Static));</code></example>
    public QuantizationEstimator Quantize(Precision precision, QuantizationMode mode) => Quantize(Options(precision, mode));

    /// <summary>Quantizes a trained ML.NET model, or an OnnxTransformer network, to <paramref name="precision"/> in <paramref name="mode"/>, the other options at their defaults.</summary>
    /// <param name="model">The trained model.</param>
    /// <param name="precision">The precision of the weights (Int8, Int4, Float16); dynamic and static modes need Int8.</param>
    /// <param name="mode">Weight-only, dynamic or static quantization of networks (<see cref="NetworkQuantizationOptions.Mode"/>).</param>
    /// <example><code>var dynamicInt8 = ml.Compression().Quantize(onnxTransformer, Precision.Int8, QuantizationMode.Dynamic).Fit(data);</code></example>
    public QuantizationEstimator Quantize(ITransformer model, Precision precision, QuantizationMode mode) => Quantize(model, Options(precision, mode));

    /// <summary>Quantizes an ONNX network read from a file to <paramref name="precision"/> in <paramref name="mode"/>, the other options at their defaults.</summary>
    /// <param name="onnxModelPath">The .onnx file (never changed).</param>
    /// <param name="precision">The precision of the weights (Int8, Int4, Float16); dynamic and static modes need Int8.</param>
    /// <param name="mode">Weight-only, dynamic or static quantization (<see cref="NetworkQuantizationOptions.Mode"/>).</param>
    /// <example><code>var staticInt8 = ml.Compression().Quantize("mlp.onnx", Precision.Int8, QuantizationMode.Static).Fit(calibration);</code></example>
    public QuantizationEstimator Quantize(string onnxModelPath, Precision precision, QuantizationMode mode) => Quantize(onnxModelPath, Options(precision, mode));

    private static QuantizationOptions Options(Precision precision, QuantizationMode mode) => new() { Precision = precision, Network = { Mode = mode } };

    /// <summary>
    /// The common tokenized-text case of a Transformer encoder: <paramref name="data"/> with the int64
    /// <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c> vector columns of <paramref name="maxTokens"/>
    /// each, made from a text column by a Microsoft.ML.Tokenizers tokenizer (a <see cref="Microsoft.ML.Tokenizers.BertTokenizer"/>
    /// made from the model's vocab.txt adds [CLS] and [SEP]); longer texts are cut, shorter ones padded with
    /// <see cref="TokenizedTextOptions.PaddingId"/> and mask 0. The columns are computed as rows are read: give the
    /// result to <c>Fit</c> (calibration) and to <c>Transform</c> (scoring) of a network with those inputs.
    /// </summary>
    /// <param name="data">Rows with a text column; not changed.</param>
    /// <param name="textColumnName">The text column.</param>
    /// <param name="tokenizer">The model's own tokenizer (its vocabulary decides the ids).</param>
    /// <param name="maxTokens">Tokens per row, special tokens included: the sequence length of the graph's inputs.</param>
    /// <param name="options">Column names, padding id and special tokens; null for BERT's.</param>
    /// <example>
    /// <code>
    /// var tokenizer = BertTokenizer.Create("vocab.txt", new BertOptions { LowerCaseBeforeTokenization = true });
    /// var tokens = ml.Compression().TokenizeText(data, "Text", tokenizer, maxTokens: 64);
    /// using var int8 = ml.Compression().Quantize("encoder.onnx", new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(tokens);
    /// </code>
    /// </example>
    public IDataView TokenizeText(IDataView data, string textColumnName, Microsoft.ML.Tokenizers.Tokenizer tokenizer, int maxTokens, TokenizedTextOptions? options = null)
    {
        if (data == null) throw new ArgumentNullException(nameof(data));
        if (string.IsNullOrEmpty(textColumnName)) throw new ArgumentException("Name the text column.", nameof(textColumnName));
        if (tokenizer == null) throw new ArgumentNullException(nameof(tokenizer));
        if (maxTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "Give the sequence length of the network's inputs (at least 1).");
        options ??= new TokenizedTextOptions();
        if (string.IsNullOrEmpty(options.InputIdsColumnName)) throw new ArgumentException("TokenizedTextOptions.InputIdsColumnName must name a column.", nameof(options));
        return Tokenization.TokenizedText.Apply(_ml, data, textColumnName, tokenizer, maxTokens, options);
    }

    /// <summary>
    /// Prunes each MatMul/Gemm/Conv layer of an ONNX network alone at each of <paramref name="sparsities"/> (with
    /// reconstruction) and measures <paramref name="metric"/>, so per-layer sparsities can be chosen from data and
    /// given to <see cref="NetworkPruningOptions.LayerSparsity"/>.
    /// </summary>
    /// <param name="onnxModelPath">The network; the file is never changed.</param>
    /// <param name="data">Calibration data (also what the pruned models are fitted on); the metric sees the models, so it can use other data.</param>
    /// <param name="metric">Evaluates a model, e.g. accuracy on held-out data.</param>
    /// <param name="sparsities">Sparsities to try, each in [0, 1).</param>
    /// <example>
    /// <code>
    /// var sweep = ml.Compression().PruningSensitivity("mlp.onnx", calibration, m => Accuracy(m, test), 0.5, 0.8, 0.9);
    /// var options = new PruningOptions { Network = { LayerSparsity = sweep.ToDictionary(l => l.Layer, l => l.LargestSparsityWithin(0.005)) } };
    /// </code>
    /// </example>
    public IReadOnlyList<LayerSensitivity> PruningSensitivity(string onnxModelPath, IDataView data, Func<ITransformer, double> metric, params double[] sparsities)
    {
        var model = OnnxModelIO.Load(CheckPath(onnxModelPath));
        if (data == null) throw new ArgumentNullException(nameof(data));
        OnnxRuntimeNative.Require("A pruning sensitivity sweep of an ONNX network");
        var weights = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        var inputs = model.Graph.Input.Select(i => i.Name).Where(n => !weights.Contains(n)).ToArray();
        using var dense = OwnedOnnxTransformer.Apply(_ml, model.Graph.Output.Select(o => o.Name).ToArray(), inputs, onnxModelPath, model, data).Fit(data);
        return PruningSensitivitySweep.Run(_ml, options => Prune(onnxModelPath, options), model, dense, data, metric, sparsities, reconstruct: true);
    }

    /// <summary>
    /// Loads a model saved from a <see cref="CompressedModel"/> (with <c>mlContext.Model.Save</c>) back as a
    /// <see cref="CompressedModel"/>: the same transformers <c>mlContext.Model.Load</c> gives, with the fast paths of
    /// the in-memory model (batch <c>Transform</c> runs the ONNX graph on many rows per ONNX Runtime call, and a
    /// <c>PredictionEngine</c> calls ONNX Runtime directly) and its <see cref="CompressedModel.Report"/>. The saved
    /// zip stays an ordinary ML.NET model that <c>mlContext.Model.Load</c> also reads.
    /// </summary>
    /// <param name="path">The saved zip.</param>
    /// <param name="inputSchema">The input schema saved with the model.</param>
    /// <exception cref="InvalidModelException">The zip holds no compression report (it was not saved from a CompressedModel).</exception>
    /// <exception cref="UnsupportedModelException">The model has no ONNX graph (a native ML.NET student): <c>mlContext.Model.Load</c> runs it as fast.</exception>
    /// <example>
    /// <code>
    /// var ml = new MLContext();
    /// using CompressedModel model = ml.Compression().LoadModel("churn-compressed.zip", out var inputSchema);
    /// var engine = ml.Model.CreatePredictionEngine&lt;Input, Output&gt;(model, new PredictionEngineOptions { OwnsTransformer = false });
    /// </code>
    /// </example>
    public CompressedModel LoadModel(string path, out DataViewSchema inputSchema)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("Give the path of a saved model (.zip).", nameof(path));
        using var file = File.OpenRead(path);
        return CompressedModelLoader.Load(_ml, file, $"'{path}'", out inputSchema);
    }

    /// <summary>Loads a model saved from a <see cref="CompressedModel"/> from a stream (read to its end, not closed); see <see cref="LoadModel(string, out DataViewSchema)"/>.</summary>
    /// <example><code>using var s = File.OpenRead("model.zip"); using var model = ml.Compression().LoadModel(s, out var schema);</code></example>
    public CompressedModel LoadModel(Stream zip, out DataViewSchema inputSchema)
        => CompressedModelLoader.Load(_ml, zip ?? throw new ArgumentNullException(nameof(zip)), "from the stream", out inputSchema);

    private static string CheckPath(string path)
        => string.IsNullOrWhiteSpace(path) ? throw new ArgumentException("Give the path of an .onnx file.", nameof(path)) : path;
}
