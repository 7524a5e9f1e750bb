using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Transforms.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Pipeline;

/// <summary>The model a stage was given: a trained ML.NET pipeline, an ONNX file or stream, or an OnnxTransformer.</summary>
internal sealed class ModelSource
{
    private readonly Func<MLContext, ModelState> _create;
    public string Description { get; }
    private ModelSource(Func<MLContext, ModelState> create, string description) { _create = create; Description = description; }

    public ModelState Create(MLContext ml) => _create(ml);

    /// <summary>
    /// The ONNX file that <see cref="Create"/> reads again at each Fit (a large graph given as a file), or null: ONNX
    /// Runtime can load the original from it while the Fit holds no managed copy.
    /// </summary>
    public string? GraphPath { get; private init; }

    /// <param name="ml">The context.</param>
    /// <param name="model">The trained model.</param>
    /// <param name="paramName">Its parameter name, for exceptions.</param>
    /// <param name="teacher">
    /// Whether the model is a distillation teacher: then a transformer with neither an ML.NET predictor nor an
    /// OnnxTransformer at its end is still taken, read through the Score column it writes.
    /// </param>
    public static ModelSource FromTransformer(MLContext ml, ITransformer model, string paramName, bool teacher = false)
    {
        if (model == null) throw new ArgumentNullException(paramName);
        if (model is CompressedModel compressed) return FromCompressed(ml, compressed, paramName, teacher);
        var flat = MlNetModelParts.Flatten(model).ToList();
        if (flat.Any(t => MlNetModelParts.TaskOf(t) != null))
        {
            var state = new NativeState(model, paramName); // decomposes now: a bad model fails here, not at Fit
            return new ModelSource(_ => state, PredictorExporter.DescribePredictor(state.Parts!.Predictor));
        }
        int at = flat.FindLastIndex(t => t is OnnxTransformer);
        if (at >= 0)
        {
            var graph = ExtractOnnx(ml, (OnnxTransformer)flat[at], paramName);
            // Each stage edits its state's graph: start every chain from a copy, so the given model never changes.
            if (SavedCompressedModel.TryRead(ml, flat, at, graph) is { } saved)
                return new ModelSource(_ => saved.With(saved.Predictor.Model.Clone()), $"saved compressed model ({saved.Task})");
            if (at == flat.Count - 1)
                return new ModelSource(_ => new NetworkState(graph.Clone(), flat.Take(at).ToList()), "ONNX network (OnnxTransformer)");
        }
        if (teacher)
            return new ModelSource(_ => new ScoringTeacherState(model), $"{string.Join(" → ", flat.Select(t => t.GetType().Name))} (read through its Score column)");
        throw new UnsupportedModelException(
            $"The model given as '{paramName}' has neither an ML.NET predictor nor an OnnxTransformer at its end, so there is nothing to compress. " +
            "(As a distillation teacher, any transformer that writes a Score column is taken: ml.Compression().Distill(model, student).)");
    }

    /// <summary>
    /// A model this library made: each stage starts from a fresh copy of the state its last stage left (graphs are
    /// cloned, so compressing it again never changes it), without the distillation details of its own report.
    /// </summary>
    private static ModelSource FromCompressed(MLContext ml, CompressedModel compressed, string paramName, bool teacher)
    {
        var state = compressed.State; // throws ObjectDisposedException once disposed
        if (state == null) return FromTransformer(ml, compressed.Transformers, paramName, teacher);
        string description = $"compressed model ({compressed.Report.Final.Stage} stage's result)";
        return state switch
        {
            NativeState native => new ModelSource(_ => NativeState.Of(native.Model, native.Task, paramName), description),
            PredictorState predictor => new ModelSource(_ => predictor.With(predictor.Predictor.Model.Clone()), description),
            NetworkState network => new ModelSource(_ => new NetworkState(network.Model.Clone(), network.Prefix), description),
            _ => throw new UnsupportedModelException(
                $"The compressed model given as '{paramName}' ends in a stage whose result cannot be compressed again; save it with mlContext.Model.Save and compress the teacher instead."),
        };
    }

    public static ModelSource FromOnnx(ModelProto model, string description)
    {
        OnnxRuntimeNative.Require("Compressing an ONNX network");
        if (model.Graph.Input.Count == 0)
            throw new InvalidModelException($"The ONNX model {description} has no inputs.");
        GraphLoadCheck.Run(model, description);
        return new ModelSource(_ => new NetworkState(model.Clone()), description);
    }

    /// <summary>
    /// <see cref="FromOnnx"/> of the file at <paramref name="path"/>, checked now. A large graph (64 MB or more) is not
    /// held by the estimator: each Fit reads the file again, so that a Fit can let the original go once its stages
    /// are done with it (the file must be unchanged by then: its length and time of last write are compared).
    /// </summary>
    public static ModelSource FromOnnxFile(string path, string description)
    {
        var model = OnnxModelIO.Load(path);
        var source = FromOnnx(model, description);
        if (!LargeGraphMemory.IsLarge(model)) return source;
        var file = new FileInfo(path);
        var (length, written) = (file.Length, file.LastWriteTimeUtc);
        return new ModelSource(_ =>
        {
            file.Refresh();
            if (!file.Exists || file.Length != length || file.LastWriteTimeUtc != written)
                throw new InvalidModelException($"The ONNX file {description} changed (or went) after this stage was created from it. Create the stage again to compress the file as it is now.");
            // The copy read when the stage was created (and any earlier Fit's) is garbage by now, but the collector
            // may not have run since: without this, the read below held the model twice (a 2.7 GB network: 5.1 GB).
            LargeGraphMemory.Release(large: true);
            return new NetworkState(OnnxModelIO.Load(path));
        }, description) { GraphPath = Path.GetFullPath(path) };
    }

    /// <summary>
    /// OnnxTransformer does not expose its model bytes; saving it with ML.NET's public API and reading the
    /// "OnnxModel" stream back out of the zip does.
    /// </summary>
    internal static ModelProto ExtractOnnx(MLContext ml, OnnxTransformer onnx, string paramName)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(onnx, null, zip);
        zip.Position = 0;
        var model = SavedOnnxModels.Read(zip).FirstOrDefault()
            ?? throw new UnsupportedModelException($"Could not read the ONNX graph out of the OnnxTransformer given as '{paramName}'.");
        ExternalData.Refuse(model, $"of the OnnxTransformer given as '{paramName}'");
        ModelValidation.CheckTensors(model, $"of the OnnxTransformer given as '{paramName}'");
        return model;
    }
}
