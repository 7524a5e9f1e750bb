using Microsoft.ML.Data;
using Onnx;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// The shape of one row of a graph input whose declared shape leaves more than the batch dimension free, read from
/// the fixed size of the data column that feeds it. A pretrained text encoder declares <c>input_ids</c> as
/// [batch, sequence]: ML.NET's OnnxTransformer then sees a tensor of unknown size and cannot feed a row of 64 ids
/// ("Length of memory (64) must match product of dimensions (0)"), and the batch scorer cannot size its buffers.
/// With one free dimension besides the batch, the column's size fixes it (64 ids: [1, 64]); with two or more
/// (an image of free height and width) it does not, and the graph is left as declared.
/// </summary>
internal static class InputRowShapes
{
    /// <summary>
    /// The row shape (the dimensions after the batch) of an input declared with <paramref name="dims"/> (a value of
    /// 0 or less is free) and fed from a column of <paramref name="columnSize"/> values per row; null when the
    /// declared dimensions after the batch are all fixed (nothing to resolve) or when the column cannot fix them.
    /// </summary>
    public static long[]? Resolve(IReadOnlyList<long> dims, int columnSize)
    {
        if (dims.Count < 2 || columnSize <= 0) return null;
        var row = dims.Skip(1).ToArray();
        var free = Enumerable.Range(0, row.Length).Where(i => row[i] <= 0).ToList();
        if (free.Count != 1) return null;
        long known = row.Where(d => d > 0).Aggregate(1L, (a, d) => a * d);
        if (known == 0 || columnSize % known != 0) return null;
        row[free[0]] = columnSize / known;
        return row;
    }

    /// <summary>
    /// The <c>shapeDictionary</c> for ML.NET's <c>ApplyOnnxModel</c>: each of <paramref name="inputs"/> whose row
    /// shape <see cref="Resolve"/> fixes from its column in <paramref name="schema"/>, as [batch, row…] with a free
    /// batch read as 1 (OnnxTransformer runs one row at a time). Null when there is none, so that graphs whose
    /// inputs are fixed get exactly the transformer they had before.
    /// </summary>
    public static IDictionary<string, int[]>? ShapeDictionary(ModelProto model, IEnumerable<string> inputs, DataViewSchema schema)
    {
        var shapes = new Dictionary<string, int[]>();
        foreach (var name in inputs)
        {
            var declared = model.Graph.Input.FirstOrDefault(i => i.Name == name)?.Type?.TensorType?.Shape;
            var column = schema.GetColumnOrNull(name);
            if (declared == null || column == null) continue;
            var dims = declared.Dim.Select(d => d.HasDimValue ? d.DimValue : 0L).ToList();
            int columnSize = column.Value.Type is VectorDataViewType v ? v.Size : 1;
            var row = Resolve(dims, columnSize);
            if (row == null || row.Any(d => d > int.MaxValue)) continue;
            shapes[name] = new[] { dims[0] > 0 ? (int)dims[0] : 1 }.Concat(row.Select(d => (int)d)).ToArray();
        }
        return shapes.Count == 0 ? null : shapes;
    }
}
