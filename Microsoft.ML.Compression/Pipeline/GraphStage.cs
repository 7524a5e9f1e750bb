using Onnx;

namespace Microsoft.ML.Compression.Pipeline;

/// <summary>Shared plumbing of the stages that edit an ONNX graph (prune, quantize): export, copy, edit, wrap.</summary>
internal static class GraphStage
{
    public delegate string Edit(ModelProto graph, GraphEditContext context);

    public static ModelState Apply(MLContext ml, ModelState input, IDataView data, Edit edit, out string description)
    {
        if (input is NativeState native) input = native.Export(ml, data);
        switch (input)
        {
            case PredictorState p:
            {
                var graph = p.Graph.Clone(); // never edit the graph of an earlier stage or of the caller
                var context = new GraphEditContext
                {
                    ML = ml, GraphInputData = p.Parts.TransformPrefix(data),
                    GraphInputs = new[] { p.Predictor.FeatureColumn }, FeatureInput = p.Predictor.FeatureColumn,
                };
                description = edit(graph, context) + Skipped(context);
                var result = p.With(graph);
                result.TensorErrors = context.TensorErrors;
                result.Layers = GraphLayerEdits.Compare(p.Graph.Graph, graph.Graph);
                result.LayerPrecisions = context.LayerPrecisions;
                return result;
            }
            case NetworkState network:
            {
                var graph = network.Model.Clone();
                var featurized = data;
                foreach (var t in network.Prefix) featurized = t.Transform(featurized);
                var context = new GraphEditContext { ML = ml, GraphInputData = featurized, GraphInputs = network.Inputs };
                description = edit(graph, context) + Skipped(context);
                return new NetworkState(graph, network.Prefix)
                {
                    TensorErrors = context.TensorErrors, LayerPrecisions = context.LayerPrecisions,
                    Layers = GraphLayerEdits.Compare(network.Model.Graph, graph.Graph),
                };
            }
            default:
                throw new UnsupportedModelException($"A {input.GetType().Name} cannot be edited as a graph.");
        }
    }

    private static string Skipped(GraphEditContext context)
        => context.SkippedRows > 0 ? $" ({context.SkippedRows} calibration row(s) with NaN or infinite inputs left out)" : "";
}
