using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>
/// Rewrites ONNX-ML LinearRegressor/LinearClassifier nodes (how ML.NET exports linear models) into MatMul + Add,
/// which computes the same thing but keeps the coefficients in an initializer that pruning can sparsify and
/// quantization can store as INT8 behind DequantizeLinear.
/// </summary>
internal static class LinearOpRewriter
{
    public static bool HasLinearOps(GraphProto g) => g.Node.Any(n => n.OpType is "LinearRegressor" or "LinearClassifier");

    public static void Rewrite(ModelProto model)
    {
        var g = model.Graph;
        foreach (var node in g.Node.Where(n => n.OpType is "LinearRegressor" or "LinearClassifier").ToList())
        {
            var coefficients = OnnxGraphEditor.Attribute(node, "coefficients")?.Floats.ToArray()
                ?? throw new UnsupportedModelException($"{node.OpType} node '{node.Name}' has no coefficients.");
            var intercepts = OnnxGraphEditor.Attribute(node, "intercepts")?.Floats.ToArray() ?? Array.Empty<float>();
            var post = OnnxGraphEditor.Attribute(node, "post_transform")?.S.ToStringUtf8() ?? "NONE";
            int targets = node.OpType == "LinearRegressor"
                ? (int)(OnnxGraphEditor.Attribute(node, "targets")?.I ?? 1)
                : Math.Max(1, intercepts.Length);
            if (coefficients.Length % targets != 0)
                throw new UnsupportedModelException($"{node.OpType} node '{node.Name}' has {coefficients.Length} coefficients for {targets} targets.");
            int features = coefficients.Length / targets;
            if (intercepts.Length == 0) intercepts = new float[targets];

            // ONNX-ML stores coefficients target-major [targets, F]; MatMul wants [F, targets].
            var w = new float[features * targets];
            for (int t = 0; t < targets; t++)
                for (int f = 0; f < features; f++)
                    w[f * targets + t] = coefficients[t * features + f];

            var wName = OnnxGraphEditor.UniqueName(g, node.Name.Length > 0 ? node.Name + "_W" : "linear_W");
            g.Initializer.Add(OnnxTensors.Float(wName, w, features, targets));
            var bName = OnnxGraphEditor.UniqueName(g, wName + "_bias");
            g.Initializer.Add(OnnxTensors.Float(bName, intercepts, targets));
            var mm = OnnxGraphEditor.UniqueName(g, wName + "_matmul");
            var raw = OnnxGraphEditor.UniqueName(g, wName + "_raw");
            var replacement = new List<NodeProto>
            {
                OnnxGraphEditor.Node("MatMul", new[] { node.Input[0], wName }, new[] { mm }, mm),
                OnnxGraphEditor.Node("Add", new[] { mm, bName }, new[] { raw }, raw),
            };

            string scoresOut = node.OpType == "LinearRegressor" ? node.Output[0] : node.Output[1];
            replacement.Add(post switch
            {
                "NONE" => OnnxGraphEditor.Node("Identity", new[] { raw }, new[] { scoresOut }),
                "LOGISTIC" => OnnxGraphEditor.Node("Sigmoid", new[] { raw }, new[] { scoresOut }),
                "SOFTMAX" => OnnxGraphEditor.Node("Softmax", new[] { raw }, new[] { scoresOut }).WithInt("axis", 1),
                _ => throw new UnsupportedModelException($"{node.OpType} node '{node.Name}' uses post_transform {post}, which is not supported yet."),
            });

            if (node.OpType == "LinearClassifier")
            {
                var labels = OnnxGraphEditor.Attribute(node, "classlabels_ints")?.Ints.ToArray();
                if (labels == null || labels.Length != targets)
                    throw new UnsupportedModelException($"LinearClassifier node '{node.Name}' has {labels?.Length ?? 0} integer class labels for {targets} coefficient rows; only one row per class is supported.");
                var labelsName = OnnxGraphEditor.UniqueName(g, wName + "_labels");
                g.Initializer.Add(OnnxTensors.Int64(labelsName, labels, labels.Length));
                var argmax = OnnxGraphEditor.UniqueName(g, wName + "_argmax");
                replacement.Add(OnnxGraphEditor.Node("ArgMax", new[] { raw }, new[] { argmax }).WithInt("axis", 1).WithInt("keepdims", 0));
                replacement.Add(OnnxGraphEditor.Node("Gather", new[] { labelsName, argmax }, new[] { node.Output[0] }).WithInt("axis", 0));
            }

            int at = g.Node.IndexOf(node);
            g.Node.RemoveAt(at);
            for (int i = 0; i < replacement.Count; i++) g.Node.Insert(at + i, replacement[i]);
        }
        // Softmax/ArgMax/Gather as used above behave the same from opset 13 on; DequantizeLinear per axis needs 13 too.
        OnnxGraphEditor.EnsureOpset(model, 13);
    }
}
