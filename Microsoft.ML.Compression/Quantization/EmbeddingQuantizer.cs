using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>An embedding table: a float [rows, width] initializer that only Gather nodes read, as their data input.</summary>
internal sealed record EmbeddingTable(string Name, IReadOnlyList<NodeProto> Gathers);

/// <summary>
/// Weight-only quantization of embedding tables (Gather over a float initializer), in every mode: a lookup has no
/// arithmetic to run in integers, but in text models the table is most of the file, so it decides the size.
/// <list type="bullet">
/// <item>INT8: the table is stored as int8, symmetric, one scale per column (embedding dimension); Gather picks the
/// int8 rows, then Cast and a broadcast Mul by the column scales turn only the picked rows back into float. So the
/// cost at run time grows with the number of tokens looked up, not with the table (a DequantizeLinear in front of
/// the Gather would restore the whole table on every call). Cast + Mul rather than a per-axis DequantizeLinear
/// after the Gather: ONNX Runtime's per-axis DequantizeLinear took about 3× as long on the spam Transformer.</item>
/// <item>INT4: ONNX Runtime's com.microsoft GatherBlockQuantized, 4-bit values packed two per byte with one scale per
/// row and block of <see cref="NetworkQuantizationOptions.BlockSize"/> columns (the table's width must be a multiple
/// of it; otherwise the table is stored INT8 as above).</item>
/// <item>FP16: a Constant holding the half-precision table, then Cast to float, as for the other weights
/// (ONNX Runtime folds the Cast when it loads the graph).</item>
/// </list>
/// </summary>
internal static class EmbeddingQuantizer
{
    /// <summary>Tables read only by Gather nodes (data input, axis 0) with non-constant indices; excluded names skipped.</summary>
    public static List<EmbeddingTable> Find(GraphProto g, IReadOnlyCollection<string> excluded)
    {
        var inits = g.Initializer.ToDictionary(t => t.Name);
        var result = new List<EmbeddingTable>();
        foreach (var table in g.Initializer)
        {
            if (table.DataType != OnnxType.Float || table.Dims.Count != 2 || excluded.Contains(table.Name)) continue;
            var readers = g.Node.Where(n => n.Input.Contains(table.Name)).ToList();
            bool lookups = readers.Count > 0 && readers.All(n => n.OpType == "Gather" && string.IsNullOrEmpty(n.Domain)
                && n.Input.Count == 2 && n.Input[0] == table.Name && !inits.ContainsKey(n.Input[1])
                && (OnnxGraphEditor.Attribute(n, "axis")?.I ?? 0) == 0 && !excluded.Contains(n.Name));
            if (lookups) result.Add(new EmbeddingTable(table.Name, readers));
        }
        return result;
    }

    /// <summary>Quantizes every table of <paramref name="tables"/>; returns a sentence for the stage description ("" when none).</summary>
    public static string Quantize(ModelProto model, List<EmbeddingTable> tables, QuantizationOptions options)
    {
        if (tables.Count == 0) return "";
        var g = model.Graph;
        var prologue = new List<NodeProto>();
        var after = new Dictionary<NodeProto, NodeProto[]>(ReferenceEqualityComparer.Instance);
        var replaced = new Dictionary<NodeProto, NodeProto>(ReferenceEqualityComparer.Instance);
        double worst = 0;
        int int4 = 0, int8 = 0;
        foreach (var e in tables)
        {
            var tensor = OnnxGraphEditor.Initializer(g, e.Name)!;
            var values = OnnxTensors.ReadFloats(tensor);
            long rows = tensor.Dims[0], width = tensor.Dims[1];
            if (options.Precision == Precision.Float16)
            {
                g.Initializer.Remove(tensor);
                var half = OnnxGraphEditor.UniqueName(g, e.Name + "_fp16");
                prologue.Add(OnnxGraphEditor.Node("Constant", Array.Empty<string>(), new[] { half }, half).WithTensor("value", OnnxTensors.Float16(half, values, rows, width)));
                prologue.Add(OnnxGraphEditor.Node("Cast", new[] { half }, new[] { e.Name }, half + "_cast").WithInt("to", OnnxType.Float));
                worst = Math.Max(worst, values.Max(v => Math.Abs(v - (float)(Half)Math.Clamp(v, -65504f, 65504f))));
                continue;
            }
            g.Initializer.Remove(tensor);
            if (options.Precision == Precision.Int4 && width % options.Network.BlockSize == 0 && !options.Network.Int8Layers.Contains(e.Name))
            {
                var (packed, scales, err) = BlockInt4(values, rows, width, options.Network.BlockSize);
                worst = Math.Max(worst, err);
                var qName = OnnxGraphEditor.UniqueName(g, e.Name + "_int4");
                var sName = OnnxGraphEditor.UniqueName(g, e.Name + "_scale");
                g.Initializer.Add(OnnxTensors.UInt8(qName, packed, rows, width / 2));
                g.Initializer.Add(OnnxTensors.Float(sName, scales, rows, width / options.Network.BlockSize));
                foreach (var gather in e.Gathers)
                    replaced[gather] = OnnxGraphEditor.Node("GatherBlockQuantized", new[] { qName, gather.Input[1], sName }, new[] { gather.Output[0] }, qName + "_" + gather.Name, "com.microsoft")
                        .WithInt("bits", 4).WithInt("block_size", options.Network.BlockSize).WithInt("gather_axis", 0).WithInt("quantize_axis", 1);
                int4++;
                continue;
            }
            // INT8: one symmetric scale per column, so that one broadcast Mul restores the gathered rows.
            var (q, columnScales, error) = GraphQuantizer.SymmetricInt8(values, new[] { rows, width }, 1, perChannel: true);
            worst = Math.Max(worst, error);
            var q8 = OnnxGraphEditor.UniqueName(g, e.Name + "_quantized");
            var s8 = OnnxGraphEditor.UniqueName(g, e.Name + "_scale");
            g.Initializer.Add(OnnxTensors.Int8(q8, q, rows, width));
            g.Initializer.Add(OnnxTensors.Float(s8, columnScales, width));
            foreach (var gather in e.Gathers)
            {
                var output = gather.Output[0];
                var picked = OnnxGraphEditor.UniqueName(g, output + "_int8");
                gather.Input[0] = q8;
                gather.Output[0] = picked;
                var asFloat = OnnxGraphEditor.UniqueName(g, output + "_int8_as_float");
                after[gather] = new[]
                {
                    OnnxGraphEditor.Node("Cast", new[] { picked }, new[] { asFloat }, asFloat).WithInt("to", OnnxType.Float),
                    OnnxGraphEditor.Node("Mul", new[] { asFloat, s8 }, new[] { output }, asFloat + "_scale"),
                };
            }
            int8++;
        }
        if (int4 > 0 && !model.OpsetImport.Any(o => o.Domain == "com.microsoft"))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        var ordered = new List<NodeProto>(prologue);
        foreach (var n in g.Node)
        {
            ordered.Add(replaced.TryGetValue(n, out var r) ? r : n);
            if (after.TryGetValue(n, out var restore)) ordered.AddRange(restore);
        }
        g.Node.Clear();
        g.Node.Add(ordered);
        string how = options.Precision switch
        {
            Precision.Float16 => $"{tables.Count} embedding table(s) FP16 (Constant + Cast)",
            _ => string.Join(", ", new[]
            {
                int4 > 0 ? $"{int4} embedding table(s) INT4 in blocks of {options.Network.BlockSize} per row (com.microsoft GatherBlockQuantized)" : null,
                int8 > 0 ? $"{int8} embedding table(s) INT8 per column, gathered as int8 then Cast + Mul" : null,
            }.Where(s => s != null)),
        };
        return $" {how}; largest embedding error {worst:G3}.";
    }

    /// <summary>Float initializers of at least this many values that are a constant operand of Add/Sub/Mul (e.g. positional embeddings).</summary>
    public const int MinOperandSize = 1024;

    /// <summary>
    /// Large float initializers read only as an operand of Add, Sub or Mul (a learned positional embedding is the
    /// usual one): not weights of any operator this library quantizes, but part of the file. INT8 and INT4 store them
    /// as INT8 per last-axis column restored by Cast + Mul (folded when ONNX Runtime loads the graph, so free at run
    /// time), FP16 as a half-precision Constant + Cast. Returns a sentence for the description ("" when none).
    /// </summary>
    public static string QuantizeOperands(ModelProto model, QuantizationOptions options, IReadOnlyCollection<string> excluded)
    {
        var g = model.Graph;
        var inits = g.Initializer.ToDictionary(t => t.Name);
        // Tensors computed from initializers alone (e.g. the Cast + Mul that restore INT8 weights): an initializer
        // combined with one of these is a scale, not an operand applied to activations.
        var constant = new HashSet<string>(inits.Keys);
        foreach (var n in g.Node)
            if (n.Input.Where(i => !string.IsNullOrEmpty(i)).All(constant.Contains)) foreach (var o in n.Output) constant.Add(o);
        var operands = g.Initializer.Where(t => t.DataType == OnnxType.Float && t.Dims.Count >= 1 && OnnxTensors.ElementCount(t) >= MinOperandSize
                && !excluded.Contains(t.Name))
            .Where(t =>
            {
                var readers = g.Node.Where(n => n.Input.Contains(t.Name)).ToList();
                return readers.Count > 0 && readers.All(n => n.OpType is "Add" or "Sub" or "Mul" && string.IsNullOrEmpty(n.Domain) && n.Input.Count == 2
                    && n.Input.Count(i => constant.Contains(i)) == 1 && !excluded.Contains(n.Name));
            }).ToList();
        if (operands.Count == 0) return "";
        var prologue = new List<NodeProto>();
        double worst = 0;
        foreach (var t in operands)
        {
            if (options.Precision == Precision.Float16)
            {
                var values = OnnxTensors.ReadFloats(t);
                var dims = t.Dims.ToArray();
                g.Initializer.Remove(t);
                var half = OnnxGraphEditor.UniqueName(g, t.Name + "_fp16");
                prologue.Add(OnnxGraphEditor.Node("Constant", Array.Empty<string>(), new[] { half }, half).WithTensor("value", OnnxTensors.Float16(half, values, dims)));
                prologue.Add(OnnxGraphEditor.Node("Cast", new[] { half }, new[] { t.Name }, half + "_cast").WithInt("to", OnnxType.Float));
                worst = Math.Max(worst, values.Max(v => Math.Abs(v - (float)(Half)Math.Clamp(v, -65504f, 65504f))));
                continue;
            }
            var reader = g.Node.First(n => n.Input.Contains(t.Name));
            worst = Math.Max(worst, LoadTimeInt8.Replace(g, new WeightTensor(t.Name, reader, t.Dims.Count - 1), perChannel: true, prologue));
        }
        for (int i = prologue.Count - 1; i >= 0; i--) g.Node.Insert(0, prologue[i]);
        string how = options.Precision == Precision.Float16 ? "FP16 (Constant + Cast)" : "INT8 per column (Cast + Mul, folded at load)";
        return $" {operands.Count} constant Add/Mul operand(s) of {MinOperandSize}+ values (e.g. positional embeddings) {how}; largest error {worst:G3}.";
    }

    /// <summary>
    /// Rows cut into blocks of <paramref name="block"/> columns, each symmetric 4-bit with its own scale (levels
    /// −7..7 around the default zero point 8), two values per byte, the first in the low nibble.
    /// </summary>
    private static (byte[] Packed, float[] Scales, double Worst) BlockInt4(float[] values, long rows, long width, int block)
    {
        long blocks = width / block;
        var packed = new byte[rows * width / 2];
        var scales = new float[rows * blocks];
        double worst = 0;
        for (long r = 0; r < rows; r++)
            for (long b = 0; b < blocks; b++)
            {
                long from = r * width + b * block;
                float maxAbs = 0;
                for (long i = from; i < from + block; i++) maxAbs = Math.Max(maxAbs, Math.Abs(values[i]));
                float s = maxAbs > 0 ? maxAbs / 7f : 1f;
                scales[r * blocks + b] = s;
                for (long i = from; i < from + block; i++)
                {
                    int q = (int)Math.Clamp(MathF.Round(values[i] / s), -7, 7);
                    worst = Math.Max(worst, Math.Abs(values[i] - q * s));
                    packed[i / 2] |= (byte)((q + 8) << (i % 2 == 0 ? 0 : 4));
                }
            }
        return (packed, scales, worst);
    }
}
