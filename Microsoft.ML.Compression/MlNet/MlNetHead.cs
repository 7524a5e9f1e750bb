using System.ComponentModel;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// Turns a <see cref="PredictorGraph"/> into standard ML.NET transformers whose output columns are the ones
/// ML.NET's evaluators expect. Why the small custom mappings: ML.NET 5's OnnxTransformer can only emit vector
/// columns (its scalar path throws), while evaluators need a scalar <c>Score</c>, <c>Probability</c> and
/// <c>PredictedLabel</c>. The mappings only take the single slot of those vectors; they are saved by contract
/// name, so loading a saved model needs this assembly loaded (any use of this library, e.g. <c>ml.Compression()</c>).
/// </summary>
internal static class MlNetHead
{
    /// <summary>Transformers <see cref="Build"/> adds after the OnnxTransformer: the custom mapping, the drop (and the key mapping for multiclass).</summary>
    public static int HeadTransformerCount(ModelTask task) => task == ModelTask.MulticlassClassification ? 3 : 2;

    /// <param name="ml">The context.</param>
    /// <param name="graph">The graph with its head outputs.</param>
    /// <param name="inputs">
    /// For a graph with several inputs (a network teacher reading token ids and an attention mask): data whose
    /// schema holds every graph input by name, in its own type; null for the single Single-vector feature column.
    /// </param>
    public static IReadOnlyList<ITransformer> Build(MLContext ml, PredictorGraph graph, IDataView? inputs = null)
    {
        var view = inputs ?? PredictorExporter.FeatureOnlyView(ml, graph.FeatureColumn, graph.FeatureCount);
        var inputNames = inputs == null ? new[] { graph.FeatureColumn }
            : graph.Model.Graph.Input.Select(i => i.Name).Except(graph.Model.Graph.Initializer.Select(t => t.Name)).ToArray();
        var onnx = OwnedOnnxTransformer.Create(ml, graph.OutputNames, inputNames, graph.Model, view);
        var transformers = new List<ITransformer> { onnx };
        var current = onnx.Transform(view);
        ITransformer Add(IEstimator<ITransformer> e)
        {
            var t = e.Fit(current);
            current = t.Transform(current);
            transformers.Add(t);
            return t;
        }

        switch (graph.Task)
        {
            case ModelTask.BinaryClassification when graph.HasProbability:
                Add(ml.Transforms.CustomMapping(new CalibratedBinaryHead().GetMapping(), CalibratedBinaryHead.Contract));
                Add(ml.Transforms.DropColumns(HeadColumns.Score, HeadColumns.Probability, HeadColumns.PredictedLabel));
                break;
            case ModelTask.BinaryClassification:
                Add(ml.Transforms.CustomMapping(new BinaryHead().GetMapping(), BinaryHead.Contract));
                Add(ml.Transforms.DropColumns(HeadColumns.Score, HeadColumns.PredictedLabel));
                break;
            case ModelTask.Regression:
                Add(ml.Transforms.CustomMapping(new RegressionHead().GetMapping(), RegressionHead.Contract));
                Add(ml.Transforms.DropColumns(HeadColumns.Score));
                break;
            case ModelTask.MulticlassClassification:
                Add(ml.Transforms.CustomMapping(new MulticlassHead().GetMapping(), MulticlassHead.Contract));
                Add(KeyMapping(ml, graph));
                Add(ml.Transforms.DropColumns(HeadColumns.PredictedLabel, HeadColumns.PredictedKey));
                break;
            default:
                throw new InvalidOperationException($"No ML.NET head for task {graph.Task}.");
        }
        if (transformers.Count != 1 + HeadTransformerCount(graph.Task)) // SavedCompressedModel finds the user's post-processing by this count
            throw new InvalidOperationException($"The {graph.Task} head has {transformers.Count - 1} transformers; HeadTransformerCount says {HeadTransformerCount(graph.Task)}.");
        return transformers;
    }

    /// <summary>PredictedLabel as a key whose values are the original class labels, in the teacher's key order.</summary>
    private static IEstimator<ITransformer> KeyMapping(MLContext ml, PredictorGraph graph)
    {
        var method = typeof(MlNetHead).GetMethod(nameof(KeyMappingOf), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(graph.ClassLabels!.GetType().GetElementType()!);
        return (IEstimator<ITransformer>)method.Invoke(null, new object[] { ml, graph.ClassLabels })!;
    }

    private static IEstimator<ITransformer> KeyMappingOf<T>(MLContext ml, T[] labels)
        => ml.Transforms.Conversion.MapValue("PredictedLabel",
            labels.Select((label, i) => new KeyValuePair<uint, T>((uint)(i + 1), label)),
            HeadColumns.PredictedKey, treatValuesAsKeyType: true);
}

// The types below are plumbing: public only because ML.NET's CustomMapping loader instantiates them by reflection
// when a saved compressed model is loaded. User code does not call them.

/// <summary>
/// Input row of <see cref="BinaryHead"/>: the one-slot vector columns the compressed ONNX graph of a binary classifier
/// without probabilities emits. Public only because ML.NET's <c>CustomMapping</c> loader needs public types to load a
/// saved compressed model; user code does not use it.
/// </summary>
/// <example>
/// <code>
/// var model = ml.Model.Load("model.zip", out var schema);    // BinaryHead reads BinaryHeadInput rows internally
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class BinaryHeadInput
{
    /// <summary>The graph's score, a one-slot <c>CompressedScore</c> vector column.</summary>
    /// <example><code>// read by BinaryHead as CompressedScore[0]; not set by user code</code></example>
    [VectorType(1)] public float[] CompressedScore = Array.Empty<float>();

    /// <summary>The graph's predicted label, a one-slot <c>CompressedPredictedLabel</c> vector column.</summary>
    /// <example><code>// read by BinaryHead as CompressedPredictedLabel[0]; not set by user code</code></example>
    [VectorType(1)] public bool[] CompressedPredictedLabel = Array.Empty<bool>();
}

/// <summary>
/// Output row of <see cref="BinaryHead"/>: the scalar <c>Score</c> and <c>PredictedLabel</c> columns ML.NET's binary
/// evaluator and prediction engines expect. Public only because ML.NET's <c>CustomMapping</c> loader needs public
/// types to load a saved compressed model; user code does not use it (it reads <c>Score</c> and <c>PredictedLabel</c>
/// through its own output class).
/// </summary>
/// <example>
/// <code>
/// var metrics = ml.BinaryClassification.EvaluateNonCalibrated(compressed.Transform(test)); // reads Score, PredictedLabel
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class BinaryHeadOutput
{
    /// <summary>The scalar <c>Score</c> column.</summary>
    /// <example><code>var values = model.Transform(test).GetColumn&lt;float&gt;("Score"); // the column BinaryHead fills</code></example>
    public float Score;

    /// <summary>The scalar <c>PredictedLabel</c> column.</summary>
    /// <example><code>var values = model.Transform(test).GetColumn&lt;bool&gt;("PredictedLabel"); // the column BinaryHead fills</code></example>
    public bool PredictedLabel;
}

/// <summary>
/// Input row of <see cref="CalibratedBinaryHead"/>: the one-slot vector columns the compressed ONNX graph of a
/// calibrated binary classifier emits. Public only because ML.NET's <c>CustomMapping</c> loader needs public types to
/// load a saved compressed model; user code does not use it.
/// </summary>
/// <example>
/// <code>
/// var model = ml.Model.Load("model.zip", out var schema);    // CalibratedBinaryHead reads these rows internally
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class CalibratedBinaryHeadInput
{
    /// <summary>The graph's score, a one-slot <c>CompressedScore</c> vector column.</summary>
    /// <example><code>// read by CalibratedBinaryHead as CompressedScore[0]; not set by user code</code></example>
    [VectorType(1)] public float[] CompressedScore = Array.Empty<float>();

    /// <summary>The graph's calibrated probability, a one-slot <c>CompressedProbability</c> vector column.</summary>
    /// <example><code>// read by CalibratedBinaryHead as CompressedProbability[0]; not set by user code</code></example>
    [VectorType(1)] public float[] CompressedProbability = Array.Empty<float>();

    /// <summary>The graph's predicted label, a one-slot <c>CompressedPredictedLabel</c> vector column.</summary>
    /// <example><code>// read by CalibratedBinaryHead as CompressedPredictedLabel[0]; not set by user code</code></example>
    [VectorType(1)] public bool[] CompressedPredictedLabel = Array.Empty<bool>();
}

/// <summary>
/// Output row of <see cref="CalibratedBinaryHead"/>: the scalar <c>Score</c>, <c>Probability</c> and
/// <c>PredictedLabel</c> columns ML.NET's binary evaluator and prediction engines expect. Public only because ML.NET's
/// <c>CustomMapping</c> loader needs public types to load a saved compressed model; user code does not use it.
/// </summary>
/// <example>
/// <code>
/// var metrics = ml.BinaryClassification.Evaluate(compressed.Transform(test)); // reads Score, Probability, PredictedLabel
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class CalibratedBinaryHeadOutput
{
    /// <summary>The scalar <c>Score</c> column.</summary>
    /// <example><code>var values = model.Transform(test).GetColumn&lt;float&gt;("Score"); // the column CalibratedBinaryHead fills</code></example>
    public float Score;

    /// <summary>The scalar <c>Probability</c> column.</summary>
    /// <example><code>var values = model.Transform(test).GetColumn&lt;float&gt;("Probability"); // the column CalibratedBinaryHead fills</code></example>
    public float Probability;

    /// <summary>The scalar <c>PredictedLabel</c> column.</summary>
    /// <example><code>var values = model.Transform(test).GetColumn&lt;bool&gt;("PredictedLabel"); // the column CalibratedBinaryHead fills</code></example>
    public bool PredictedLabel;
}

/// <summary>
/// Input row of <see cref="RegressionHead"/>: the one-slot <c>CompressedScore</c> vector column the compressed ONNX
/// graph of a regression model emits. Public only because ML.NET's <c>CustomMapping</c> loader needs public types to
/// load a saved compressed model; user code does not use it.
/// </summary>
/// <example>
/// <code>
/// var model = ml.Model.Load("model.zip", out var schema);    // RegressionHead reads these rows internally
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class RegressionHeadInput
{
    /// <summary>The graph's score, a one-slot <c>CompressedScore</c> vector column.</summary>
    /// <example><code>// read by RegressionHead as CompressedScore[0]; not set by user code</code></example>
    [VectorType(1)] public float[] CompressedScore = Array.Empty<float>();
}

/// <summary>
/// Output row of <see cref="RegressionHead"/>: the scalar <c>Score</c> column ML.NET's regression evaluator and
/// prediction engines expect. Public only because ML.NET's <c>CustomMapping</c> loader needs public types to load a
/// saved compressed model; user code does not use it.
/// </summary>
/// <example>
/// <code>
/// var metrics = ml.Regression.Evaluate(compressed.Transform(test)); // reads the Score column this row fills
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class RegressionHeadOutput
{
    /// <summary>The scalar <c>Score</c> column.</summary>
    /// <example><code>var values = model.Transform(test).GetColumn&lt;float&gt;("Score"); // the column RegressionHead fills</code></example>
    public float Score;
}

/// <summary>
/// Input row of <see cref="MulticlassHead"/>: the one-slot <c>CompressedPredictedLabel</c> vector column (the predicted
/// class key) the compressed ONNX graph of a multiclass classifier emits. Public only because ML.NET's
/// <c>CustomMapping</c> loader needs public types to load a saved compressed model; user code does not use it.
/// </summary>
/// <example>
/// <code>
/// var model = ml.Model.Load("model.zip", out var schema);    // MulticlassHead reads these rows internally
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class MulticlassHeadInput
{
    /// <summary>The graph's predicted class key (1-based), a one-slot <c>CompressedPredictedLabel</c> vector column.</summary>
    /// <example><code>// read by MulticlassHead as CompressedPredictedLabel[0]; not set by user code</code></example>
    [VectorType(1)] public uint[] CompressedPredictedLabel = Array.Empty<uint>();
}

/// <summary>
/// Output row of <see cref="MulticlassHead"/>: the scalar <c>CompressedPredictedKey</c> column, which the next
/// transformer of the chain (a value mapping) turns into the <c>PredictedLabel</c> key column with the teacher's class
/// labels. Public only because ML.NET's <c>CustomMapping</c> loader needs public types to load a saved compressed
/// model; user code does not use it.
/// </summary>
/// <example>
/// <code>
/// var metrics = ml.MulticlassClassification.Evaluate(compressed.Transform(test)); // reads PredictedLabel, made from this key
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class MulticlassHeadOutput
{
    /// <summary>The scalar predicted class key, an intermediate column dropped once <c>PredictedLabel</c> is made from it.</summary>
    /// <example><code>// set by MulticlassHead from CompressedPredictedLabel[0]</code></example>
    public uint CompressedPredictedKey;
}

/// <summary>
/// ML.NET custom mapping that turns a compressed binary classifier's one-slot <c>CompressedScore</c> and
/// <c>CompressedPredictedLabel</c> vector columns into the scalar <c>Score</c> and <c>PredictedLabel</c> columns
/// (ML.NET 5's <c>OnnxTransformer</c> emits only vector columns). It is public only because ML.NET's
/// <c>CustomMapping</c> loader needs public types to load a saved compressed model, which it finds by
/// <see cref="Contract"/> in the assemblies registered with the context; user code does not call it.
/// </summary>
/// <example>
/// <code>
/// var ml = new MLContext();
/// ITransformer model = ml.Model.Load("model.zip", out var inputSchema);
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(Contract)]
public sealed class BinaryHead : CustomMappingFactory<BinaryHeadInput, BinaryHeadOutput>
{
    /// <summary>The contract name the mapping is saved and loaded under.</summary>
    /// <example><code>string contract = BinaryHead.Contract; // the name saved in model.zip, looked up by ml.Model.Load after ml.Compression()</code></example>
    public const string Contract = "Microsoft.ML.Compression.BinaryHead.v1";

    /// <summary>Copies the single slot of each input vector to the scalar output column; called by ML.NET.</summary>
    /// <example><code>// called by ML.NET's CustomMapping transformer when a saved compressed model is loaded</code></example>
    public override Action<BinaryHeadInput, BinaryHeadOutput> GetMapping() => (i, o) =>
    {
        o.Score = i.CompressedScore[0];
        o.PredictedLabel = i.CompressedPredictedLabel[0];
    };
}

/// <summary>
/// ML.NET custom mapping that turns a compressed calibrated binary classifier's one-slot <c>CompressedScore</c>,
/// <c>CompressedProbability</c> and <c>CompressedPredictedLabel</c> vector columns into the scalar <c>Score</c>,
/// <c>Probability</c> and <c>PredictedLabel</c> columns (ML.NET 5's <c>OnnxTransformer</c> emits only vector columns).
/// It is public only because ML.NET's <c>CustomMapping</c> loader needs public types to load a saved compressed model,
/// which it finds by <see cref="Contract"/> in the assemblies registered with the context; user code does not call it.
/// </summary>
/// <example>
/// <code>
/// var ml = new MLContext();
/// ITransformer model = ml.Model.Load("model.zip", out var inputSchema);
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(Contract)]
public sealed class CalibratedBinaryHead : CustomMappingFactory<CalibratedBinaryHeadInput, CalibratedBinaryHeadOutput>
{
    /// <summary>The contract name the mapping is saved and loaded under.</summary>
    /// <example><code>string contract = CalibratedBinaryHead.Contract; // the name saved in model.zip, looked up by ml.Model.Load after ml.Compression()</code></example>
    public const string Contract = "Microsoft.ML.Compression.CalibratedBinaryHead.v1";

    /// <summary>Copies the single slot of each input vector to the scalar output column; called by ML.NET.</summary>
    /// <example><code>// called by ML.NET's CustomMapping transformer when a saved compressed model is loaded</code></example>
    public override Action<CalibratedBinaryHeadInput, CalibratedBinaryHeadOutput> GetMapping() => (i, o) =>
    {
        o.Score = i.CompressedScore[0];
        o.Probability = i.CompressedProbability[0];
        o.PredictedLabel = i.CompressedPredictedLabel[0];
    };
}

/// <summary>
/// ML.NET custom mapping that turns a compressed regression model's one-slot <c>CompressedScore</c> vector column
/// into the scalar <c>Score</c> column (ML.NET 5's <c>OnnxTransformer</c> emits only vector columns). It is public only
/// because ML.NET's <c>CustomMapping</c> loader needs public types to load a saved compressed model, which it finds by
/// <see cref="Contract"/> in the assemblies registered with the context; user code does not call it.
/// </summary>
/// <example>
/// <code>
/// var ml = new MLContext();
/// ITransformer model = ml.Model.Load("model.zip", out var inputSchema);
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(Contract)]
public sealed class RegressionHead : CustomMappingFactory<RegressionHeadInput, RegressionHeadOutput>
{
    /// <summary>The contract name the mapping is saved and loaded under.</summary>
    /// <example><code>string contract = RegressionHead.Contract; // the name saved in model.zip, looked up by ml.Model.Load after ml.Compression()</code></example>
    public const string Contract = "Microsoft.ML.Compression.RegressionHead.v1";

    /// <summary>Copies the single slot of the input vector to the scalar output column; called by ML.NET.</summary>
    /// <example><code>// called by ML.NET's CustomMapping transformer when a saved compressed model is loaded</code></example>
    public override Action<RegressionHeadInput, RegressionHeadOutput> GetMapping() => (i, o) => o.Score = i.CompressedScore[0];
}

/// <summary>
/// ML.NET custom mapping that turns a compressed multiclass classifier's one-slot <c>CompressedPredictedLabel</c>
/// vector column (the predicted class key) into the scalar <c>CompressedPredictedKey</c> column, from which the next
/// transformer of the chain makes the <c>PredictedLabel</c> key column with the teacher's class labels (ML.NET 5's
/// <c>OnnxTransformer</c> emits only vector columns). It is public only because ML.NET's <c>CustomMapping</c> loader
/// needs public types to load a saved compressed model, which it finds by <see cref="Contract"/> in the assemblies
/// registered with the context; user code does not call it.
/// </summary>
/// <example>
/// <code>
/// var ml = new MLContext();
/// ITransformer model = ml.Model.Load("model.zip", out var inputSchema);
/// </code>
/// </example>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(Contract)]
public sealed class MulticlassHead : CustomMappingFactory<MulticlassHeadInput, MulticlassHeadOutput>
{
    /// <summary>The contract name the mapping is saved and loaded under.</summary>
    /// <example><code>string contract = MulticlassHead.Contract; // the name saved in model.zip, looked up by ml.Model.Load after ml.Compression()</code></example>
    public const string Contract = "Microsoft.ML.Compression.MulticlassHead.v1";

    /// <summary>Copies the single slot of the input vector to the scalar output column; called by ML.NET.</summary>
    /// <example><code>// called by ML.NET's CustomMapping transformer when a saved compressed model is loaded</code></example>
    public override Action<MulticlassHeadInput, MulticlassHeadOutput> GetMapping() => (i, o) => o.CompressedPredictedKey = i.CompressedPredictedLabel[0];
}
