using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Every tensor a model stores: initializers, sparse initializers, tensor attributes (Constant nodes) and those of
/// subgraphs (If, Loop, Scan bodies). External data and corrupt tensors can hide in any of them.
/// </summary>
internal static class ModelTensors
{
    public static IEnumerable<TensorProto> All(ModelProto model)
        => model.Graph == null ? Enumerable.Empty<TensorProto>() : All(model.Graph);

    private static IEnumerable<TensorProto> All(GraphProto g)
    {
        // Protobuf itself stops nesting at 100 levels; a hostile file cannot make this recursion deeper.
        foreach (var t in g.Initializer) yield return t;
        foreach (var s in g.SparseInitializer)
        {
            if (s.Values != null) yield return s.Values;
            if (s.Indices != null) yield return s.Indices;
        }
        foreach (var n in g.Node)
            foreach (var a in n.Attribute)
            {
                if (a.T != null) yield return a.T;
                foreach (var t in a.Tensors) yield return t;
                if (a.SparseTensor?.Values != null) yield return a.SparseTensor.Values;
                if (a.SparseTensor?.Indices != null) yield return a.SparseTensor.Indices;
                if (a.G != null)
                    foreach (var t in All(a.G)) yield return t;
                foreach (var sub in a.Graphs)
                    foreach (var t in All(sub)) yield return t;
            }
    }
}
