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

    public static ModelSource FromTransformer(MLContext ml, ITransformer model, string paramName)
    {
        if (model == null) throw new ArgumentNullException(paramName);
        var flat = MlNetModelParts.Flatten(model).ToList();
        if (flat.Any(t => MlNetModelParts.TaskOf(t) != null))
        {
            var state = new NativeState(model, paramName); // decomposes now: a bad model fails here, not at Fit
            return new ModelSource(_ => state, PredictorExporter.DescribePredictor(state.Parts.Predictor));
        }
        if (flat.Count > 0 && flat[^1] is OnnxTransformer onnx)
        {
            var graph = ExtractOnnx(ml, onnx, paramName);
            var prefix = flat.Take(flat.Count - 1).ToList();
            return new ModelSource(_ => new NetworkState(graph.Clone(), prefix), "ONNX network (OnnxTransformer)");
        }
        throw new UnsupportedModelException(
            $"The model given as '{paramName}' has neither an ML.NET predictor nor an OnnxTransformer at its end, so there is nothing to compress.");
    }

    public static ModelSource FromOnnx(ModelProto model, string description)
    {
        if (model.Graph.Input.Count == 0)
            throw new InvalidModelException($"The ONNX model {description} has no inputs.");
        return new ModelSource(_ => new NetworkState(model.Clone()), description);
    }

    /// <summary>
    /// OnnxTransformer does not expose its model bytes; saving it with ML.NET's public API and reading the
    /// "OnnxModel" stream back out of the zip does.
    /// </summary>
    private static ModelProto ExtractOnnx(MLContext ml, OnnxTransformer onnx, string paramName)
    {
        using var zip = new MemoryStream();
        ml.Model.Save(onnx, null, zip);
        zip.Position = 0;
        return SavedOnnxModels.Read(zip).FirstOrDefault()
            ?? throw new UnsupportedModelException($"Could not read the ONNX graph out of the OnnxTransformer given as '{paramName}'.");
    }
}
