using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Pipeline;

/// <summary>Shared plumbing of the stages that edit an ONNX graph (prune, quantize): export, copy, edit, wrap.</summary>
internal static class GraphStage
{
    public delegate string Edit(ModelProto graph, float[][]? sample, string? featureInput);

    public static ModelState Apply(MLContext ml, ModelState input, IDataView data, int sampleRows, Edit edit, out string description)
    {
        if (input is NativeState native) input = native.Export(ml, data);
        switch (input)
        {
            case PredictorState p:
            {
                var graph = p.Graph.Clone(); // never edit the graph of an earlier stage or of the caller
                var sample = FeatureSample.Read(p.Parts.TransformPrefix(data), p.Parts.FeatureColumn, sampleRows);
                description = edit(graph, sample, p.Predictor.FeatureColumn);
                return p.With(graph);
            }
            case NetworkState network:
            {
                var graph = network.Model.Clone();
                description = edit(graph, null, null);
                return new NetworkState(graph, network.Prefix);
            }
            default:
                throw new UnsupportedModelException($"A {input.GetType().Name} cannot be edited as a graph.");
        }
    }
}
