using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Onnx;

namespace Benchmarks.Memory;

/// <summary>
/// Synthetic MLPs of a given size (a stack of float MatMul initializers with Relu between), written straight to
/// disk one tensor at a time so that building them never holds the model in this process: the memory a Fit
/// measures afterwards is the library's, not the generator's.
/// </summary>
internal static class LargeModels
{
    public const string Input = "Features", Output = "Score";

    /// <summary>
    /// Writes an MLP of <paramref name="layers"/> MatMuls alternating <paramref name="width"/>×<paramref name="hidden"/>
    /// and back (the input and output have <paramref name="width"/> values) to <paramref name="path"/>. With
    /// <paramref name="externalData"/>, each weight goes to its own file beside the model (<c>w{i}.bin</c>), as
    /// exporters store models over 2 GB.
    /// </summary>
    public static void Write(string path, int layers, int width, int hidden, bool externalData, int seed = 1)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var graph = new GraphProto { Name = "large_mlp" };
        graph.Input.Add(Value(Input, width));
        graph.Output.Add(Value(Output, width));
        var tensors = new List<(string Name, long Rows, long Columns)>();
        string current = Input;
        for (int i = 0; i < layers; i++)
        {
            long rows = i % 2 == 0 ? width : hidden, columns = i % 2 == 0 ? hidden : width;
            if (i == layers - 1) columns = width;
            string weight = $"W{i}", product = i == layers - 1 ? Output : $"h{i}";
            tensors.Add((weight, rows, columns));
            graph.Node.Add(new NodeProto { OpType = "MatMul", Name = $"matmul{i}", Input = { current, weight }, Output = { product } });
            current = product;
            if (i < layers - 1)
            {
                graph.Node.Add(new NodeProto { OpType = "Relu", Name = $"relu{i}", Input = { current }, Output = { current + "_relu" } });
                current += "_relu";
            }
        }
        var header = new ModelProto { IrVersion = 8, ProducerName = "Benchmarks.LargeModels", Graph = graph };
        header.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var random = new Random(seed);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        header.WriteTo(file);
        foreach (var (name, rows, columns) in tensors)
        {
            var values = Weights(random, rows * columns, (float)(1 / Math.Sqrt(rows)));
            var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, Dims = { rows, columns } };
            if (externalData)
            {
                var data = $"{name}.bin";
                File.WriteAllBytes(Path.Combine(folder, data), values);
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = data });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = values.Length.ToString() });
            }
            else tensor.RawData = UnsafeByteOperations.UnsafeWrap(values);
            // Protobuf merges a message field that occurs twice: each fragment appends one initializer to the graph,
            // so only one tensor is ever in memory.
            new ModelProto { Graph = new GraphProto { Initializer = { tensor } } }.WriteTo(file);
        }
    }

    /// <summary>Bytes of the float weights of <see cref="Write"/>'s model.</summary>
    public static long WeightBytes(int layers, int width, int hidden) => 4L * width * hidden * layers;

    /// <summary>Uniform weights in ±<paramref name="scale"/>·√3 (variance scale²), as little-endian float bytes.</summary>
    private static byte[] Weights(Random random, long count, float scale)
    {
        var bytes = new byte[checked((int)(count * 4))];
        var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan());
        float a = scale * MathF.Sqrt(3);
        for (int i = 0; i < floats.Length; i++) floats[i] = (random.NextSingle() * 2 - 1) * a;
        return bytes;
    }

    private static ValueInfoProto Value(string name, int width) => new()
    {
        Name = name,
        Type = new TypeProto
        {
            TensorType = new TypeProto.Types.Tensor
            {
                ElemType = (int)TensorProto.Types.DataType.Float,
                Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "N" }, new TensorShapeProto.Types.Dimension { DimValue = width } } },
            },
        },
    };

    /// <summary><paramref name="rows"/> random rows of the model's input, as an IDataView with a Features vector column.</summary>
    public static IDataView Rows(MLContext ml, int rows, int width, int seed = 2)
    {
        var random = new Random(seed);
        var data = Enumerable.Range(0, rows).Select(_ => new Row { Features = Enumerable.Range(0, width).Select(_ => random.NextSingle() * 2 - 1).ToArray() }).ToList();
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        return ml.Data.LoadFromEnumerable(data, schema);
    }

    private sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }
}
