using Onnx;

namespace Microsoft.ML.Compression.Onnx;

/// <summary>Small, generic edits of an ONNX graph: lookups, node building, dead-node removal, opset upgrade.</summary>
internal static class OnnxGraphEditor
{
    public static TensorProto? Initializer(GraphProto g, string name) => g.Initializer.FirstOrDefault(t => t.Name == name);

    /// <summary>The node that writes each tensor, by tensor name (graph inputs and initializers have none).</summary>
    public static Dictionary<string, NodeProto> Producers(GraphProto g)
    {
        var producer = new Dictionary<string, NodeProto>();
        foreach (var n in g.Node) foreach (var o in n.Output) producer[o] = n;
        return producer;
    }

    public static AttributeProto? Attribute(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);

    public static NodeProto Node(string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, string? name = null, string domain = "")
    {
        var n = new NodeProto { OpType = opType, Name = name ?? "", Domain = domain };
        n.Input.Add(inputs);
        n.Output.Add(outputs);
        return n;
    }

    public static NodeProto WithInt(this NodeProto n, string name, long value)
    {
        n.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
        return n;
    }

    public static NodeProto WithInts(this NodeProto n, string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        n.Attribute.Add(a);
        return n;
    }

    public static NodeProto WithTensor(this NodeProto n, string name, TensorProto value)
    {
        n.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value });
        return n;
    }

    /// <summary>A value name not yet used anywhere in the graph.</summary>
    public static string UniqueName(GraphProto g, string stem)
    {
        var used = new HashSet<string>(g.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(g.Initializer.Select(t => t.Name))
            .Concat(g.Input.Select(i => i.Name)).Concat(g.Output.Select(o => o.Name)));
        if (!used.Contains(stem)) return stem;
        for (int i = 1; ; i++)
            if (!used.Contains($"{stem}_{i}")) return $"{stem}_{i}";
    }

    public static ValueInfoProto TensorValue(string name, int elemType, params long[] dims)
    {
        var t = new TypeProto.Types.Tensor { ElemType = elemType, Shape = new TensorShapeProto() };
        foreach (var d in dims)
            t.Shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "batch" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = t } };
    }

    /// <summary>Removes nodes and initializers that no graph output depends on.</summary>
    public static void RemoveDeadNodes(GraphProto g)
    {
        var needed = new HashSet<string>(g.Output.Select(o => o.Name));
        var keep = new List<NodeProto>();
        for (int i = g.Node.Count - 1; i >= 0; i--)
        {
            var n = g.Node[i];
            if (n.Output.Any(needed.Contains))
            {
                keep.Add(n);
                foreach (var input in n.Input) needed.Add(input);
            }
        }
        keep.Reverse();
        g.Node.Clear();
        g.Node.Add(keep);
        var deadInits = g.Initializer.Where(t => !needed.Contains(t.Name)).ToList();
        foreach (var t in deadInits) g.Initializer.Remove(t);
        var deadInfos = g.ValueInfo.Where(v => !needed.Contains(v.Name)).ToList();
        foreach (var v in deadInfos) g.ValueInfo.Remove(v);
    }

    public static long OpsetVersion(ModelProto m, string domain = "")
        => m.OpsetImport.FirstOrDefault(o => (o.Domain ?? "") == domain || (domain == "" && o.Domain == "ai.onnx"))?.Version ?? 0;

    /// <summary>
    /// Raises the default-domain opset to at least <paramref name="minVersion"/> (13 is where DequantizeLinear
    /// gained per-axis scales). The operators whose signature changed at 13 in the graphs ML.NET exports
    /// (Squeeze, Unsqueeze, ReduceSum, Split: attributes became inputs) are rewritten; any other operator whose
    /// meaning changed is refused rather than silently mis-run.
    /// </summary>
    public static void EnsureOpset(ModelProto m, int minVersion)
    {
        var import = m.OpsetImport.FirstOrDefault(o => string.IsNullOrEmpty(o.Domain) || o.Domain == "ai.onnx");
        if (import == null)
        {
            m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = minVersion });
            return;
        }
        if (import.Version >= minVersion) return;
        if (import.Version < 13 && minVersion >= 13)
        {
            var g = m.Graph;
            foreach (var n in g.Node.Where(n => string.IsNullOrEmpty(n.Domain)).ToList())
            {
                string? attrName = n.OpType switch { "Squeeze" or "Unsqueeze" or "ReduceSum" => "axes", "Split" => "split", _ => null };
                if (attrName == null) continue;
                var attr = Attribute(n, attrName);
                if (attr == null) continue;
                var constName = UniqueName(g, $"{n.Output[0]}_{attrName}");
                g.Initializer.Add(OnnxTensors.Int64(constName, attr.Ints.ToArray(), attr.Ints.Count));
                n.Attribute.Remove(attr);
                if (n.OpType == "Split" || n.Input.Count >= 1) n.Input.Add(constName);
            }
            // BatchNormalization (opset < 9): 'spatial' = 1 is what later opsets always do; 'is_test' and
            // 'consumed_inputs' (opset < 7) carry no meaning for inference. spatial = 0 (per-element statistics) is refused.
            foreach (var n in g.Node.Where(n => string.IsNullOrEmpty(n.Domain) && n.OpType == "BatchNormalization"))
            {
                if (Attribute(n, "spatial") is { } spatial)
                {
                    if (spatial.I == 0)
                        throw new UnsupportedModelException($"BatchNormalization '{n.Name}' has spatial = 0, which opset {minVersion} cannot express. Re-export the model with opset 9 or newer.");
                    n.Attribute.Remove(spatial);
                }
                foreach (var old in n.Attribute.Where(a => a.Name is "is_test" or "consumed_inputs").ToList()) n.Attribute.Remove(old);
                if (n.Output.Count > 1 && n.Output.Skip(1).All(string.IsNullOrEmpty)) while (n.Output.Count > 1) n.Output.RemoveAt(n.Output.Count - 1);
            }
            var changed = g.Node.Where(n => string.IsNullOrEmpty(n.Domain) && n.OpType is "Pad" or "Resize" or "Upsample" or "TopK").Select(n => n.OpType).Distinct().ToList();
            if (changed.Count > 0)
                throw new UnsupportedModelException($"The graph uses opset {import.Version} operators ({string.Join(", ", changed)}) that cannot be moved to opset {minVersion} automatically. Re-export the model with opset {minVersion} or newer.");
        }
        import.Version = minVersion;
        if (minVersion >= 13 && m.IrVersion < 7) m.IrVersion = 7; // opset 13 needs IR version 7 (CNTK exported IR 3)
    }
}
