using Microsoft.ML.Transforms.Onnx;
using System.IO.Compression;
using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Builds an OnnxTransformer for graph bytes held in memory whose copy on disk goes away with it. Why not
/// <c>ApplyOnnxModel(stream)</c>: ML.NET 5 copies the stream into <see cref="MLContext.TempFilePath"/> without
/// taking ownership of the copy (<c>OnnxModel.CreateFromStream</c> passes <c>ownModelFile: false</c>), so every such
/// transformer left a file behind, disposed or not. <c>ApplyOnnxModel(path)</c> reads the file again whenever the
/// transformer is saved, so that file cannot go early either. The transformer ML.NET's model loader creates does own
/// its copy (opened delete-on-close: removed when it is disposed, or when its handle is finalized), so the
/// transformer is loaded from a saved zip. That zip is written here, not by running the graph and saving it: a
/// stand-in graph with the same inputs and outputs (one constant per output, no weights) is fitted and saved, and
/// its "OnnxModel" entry (an opaque length-prefixed byte array in ML.NET's versioned format) is replaced by the real
/// graph, streamed from the proto. So a large network is given to ONNX Runtime once, not twice, and ML.NET never
/// reads it whole to save it (measured on a 512 MB network: several model-sized copies less).
/// </summary>
internal static class OwnedOnnxTransformer
{
    /// <summary>The OnnxTransformer of <paramref name="model"/>, checked against <paramref name="view"/>'s schema.</summary>
    /// <param name="ml">The context; its <see cref="MLContext.TempFilePath"/> holds the transformer's copy of the graph.</param>
    /// <param name="outputs">Graph outputs to expose as columns.</param>
    /// <param name="inputs">Graph inputs, read from the columns of the same names.</param>
    /// <param name="model">The ONNX graph.</param>
    /// <param name="view">Data with the input columns (only its schema is read).</param>
    public static OnnxTransformer Create(MLContext ml, string[] outputs, string[] inputs, ModelProto model, IDataView view)
    {
        // Files, not memory: the graph is written straight from the proto and the zip streamed to disk, so a large
        // network is not held as extra byte arrays on top of the model and ML.NET's own copies.
        long size = CheckSize(model);
        var stem = Path.Combine(ml.TempFilePath, $"mlcompression-{Guid.NewGuid():N}");
        string path = stem + ".onnx", zipPath = stem + ".zip";
        try
        {
            WriteZip(ml, outputs, inputs, model, view, path, zipPath);
            var loaded = Native.ModelLoading.Load(ml, () => File.OpenRead(zipPath), out _);
            if (loaded is not OnnxTransformer onnx)
            {
                (loaded as IDisposable)?.Dispose();
                throw new InvalidOperationException($"ML.NET loaded a saved OnnxTransformer back as {loaded.GetType().Name}.");
            }
            try { onnx.GetOutputSchema(view.Schema); } // ML.NET checks the input shapes only here
            catch { onnx.Dispose(); throw; }
            // ML.NET's loader copied the graph's bytes twice on their way to ONNX Runtime: return them before the
            // caller's next model-sized step.
            Onnx.LargeGraphMemory.Release(size >= Onnx.LargeGraphMemory.LargeBytes);
            return onnx;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException && e is not CompressionException && e.InnerException is not Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            throw new DataMismatchException(
                $"ML.NET cannot run the graph on this data ({e.Message}). Give data whose columns have the names, types and sizes of the graph's inputs ({string.Join(", ", inputs)}); " +
                "a graph whose batch dimension is fixed must be re-exported with a free one.", e);
        }
        catch (Exception e) when (Loaded(e) is NullReferenceException or KeyNotFoundException or IndexOutOfRangeException or InvalidCastException)
        {
            // ML.NET's reading of the graph's declared types (e.g. an output declared without a shape) fails this way
            // (inside its model loader, which calls the transformer's constructor by reflection).
            throw new UnsupportedModelException(
                $"ML.NET's OnnxTransformer cannot read the declared inputs and outputs of the graph ({e.GetType().Name}: {e.Message}). Declare every graph input and output " +
                "as a tensor with an element type and a shape (re-export the model), then compress it again.", e);
        }
        finally
        {
            File.Delete(path);
            File.Delete(zipPath);
        }
    }

    /// <summary>
    /// An OnnxTransformer of <paramref name="model"/> that reads the graph from <paramref name="graphPath"/>, written
    /// here, for a chain that is saved and then disposed: the caller deletes the file after disposing the transformer.
    /// Why not <see cref="Create"/>: its round trip through ML.NET's loader writes and reads the graph twice more, which
    /// a save does not need. (ML.NET's transformer still parses the whole graph into managed memory and keeps it, and
    /// its save reads the file's bytes again: a save of a large network holds both for a moment.)
    /// </summary>
    public static OnnxTransformer CreateForSave(MLContext ml, string[] outputs, string[] inputs, ModelProto model, IDataView view, string graphPath)
    {
        CheckSize(model);
        using (var file = File.Create(graphPath)) model.WriteTo(file);
        return Apply(ml, outputs, inputs, graphPath, model, view).Fit(view);
    }

    /// <summary>
    /// ML.NET's estimator for the graph in <paramref name="path"/>, told the row shape of each input that declares a
    /// free dimension besides the batch (see <see cref="InputRowShapes"/>; ML.NET saves these shapes with the model,
    /// so an app's <c>mlContext.Model.Load</c> gets them too).
    /// </summary>
    internal static OnnxScoringEstimator Apply(MLContext ml, string[] outputs, string[] inputs, string path, ModelProto model, IDataView view)
    {
        var shapes = InputRowShapes.ShapeDictionary(model, inputs, view.Schema);
        return shapes == null ? ml.Transforms.ApplyOnnxModel(outputs, inputs, path) : ml.Transforms.ApplyOnnxModel(outputs, inputs, path, shapes, gpuDeviceId: null, fallbackToCpu: false);
    }

    /// <summary>The graph's serialized size, checked against what ML.NET's OnnxTransformer can hold.</summary>
    /// <exception cref="UnsupportedModelException">The graph takes 2 GB or more.</exception>
    public static long CheckSize(ModelProto model)
    {
        long size = Onnx.OnnxModelIO.SerializedBytes(model);
        if (size >= Onnx.ExternalData.MaxModelBytes)
            throw new UnsupportedModelException(
                $"The ONNX graph takes {size / (1L << 20)} MB; ML.NET's OnnxTransformer holds its graph as one protobuf message, which stops at 2 GB, so it cannot run it. " +
                "Compress the model further (e.g. Quantize with Precision.Int8 or Int4) so that the result fits.");
        return size;
    }

    /// <summary>
    /// An OnnxTransformer with the columns of <paramref name="model"/>'s transformer (same inputs, same output names,
    /// types and sizes) that runs a weightless stand-in: zeros of each output's declared type. For the report's
    /// readings of a large network, whose scores come from the batch scorer of the graph itself and whose saved size
    /// is computed from the stand-in's (see <c>ReportBuilder</c>): ML.NET's own transformer would hold a session of
    /// the whole graph and copy its bytes twice on the way. Null when an output's declared type is not a numeric tensor
    /// with a shape (then only the real transformer has the right columns).
    /// </summary>
    public static OnnxTransformer? CreateSchemaTwin(MLContext ml, string[] outputs, string[] inputs, ModelProto model, IDataView view)
    {
        var twin = TypedStandIn(model, inputs, outputs);
        return twin == null ? null : Create(ml, outputs, inputs, twin, view);
    }

    /// <summary>The graph name of every stand-in, by which a saved one is found again.</summary>
    public const string StandInName = "mlcompression_stand_in";

    /// <summary>The most values a stand-in output may hold (its dims with each free one read as 1).</summary>
    private const long MaxStandInValues = 1 << 20;

    /// <summary><see cref="StandIn"/> with each output declared as in <paramref name="model"/> and a constant of that type and shape; null when one cannot be made.</summary>
    internal static ModelProto? TypedStandIn(ModelProto model, string[] inputs, string[] outputs)
    {
        var standIn = StandIn(model, inputs, Array.Empty<string>());
        foreach (var name in outputs)
        {
            var declared = model.Graph.Output.FirstOrDefault(o => o.Name == name);
            var tensor = declared?.Type?.TensorType;
            if (tensor?.Shape == null || tensor.ElemType is not (Onnx.OnnxType.Float or Onnx.OnnxType.UInt8 or Onnx.OnnxType.Int8 or Onnx.OnnxType.Int32 or Onnx.OnnxType.Int64 or Onnx.OnnxType.Bool or Onnx.OnnxType.Double)) return null;
            var dims = tensor.Shape.Dim.Select(d => d.HasDimValue && d.DimValue > 0 ? d.DimValue : 1L).ToArray();
            long count = dims.Aggregate(1L, (a, d) => a * d);
            if (count > MaxStandInValues) return null;
            var value = new TensorProto { Name = name + "_value", DataType = tensor.ElemType, RawData = ByteString.CopyFrom(new byte[Onnx.OnnxType.RawBytes(tensor.ElemType, count)!.Value]) };
            value.Dims.AddRange(dims);
            standIn.Graph.Node.Add(new NodeProto { OpType = "Constant", Name = name + "_stand_in", Output = { name }, Attribute = { new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value } } });
            standIn.Graph.Output.Add(declared!.Clone());
        }
        return standIn;
    }

    /// <summary>The exception ML.NET's model loader met, without the reflection wrapper it arrives in.</summary>
    private static Exception Loaded(Exception e) => e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : e;

    /// <summary>
    /// Writes to <paramref name="zipPath"/> what <c>mlContext.Model.Save</c> writes for an OnnxTransformer of
    /// <paramref name="model"/>: the stand-in's transformer is fitted (checking the inputs against the data) and saved
    /// to memory, and its entries are copied with the graph's bytes in place of the stand-in's.
    /// </summary>
    private static void WriteZip(MLContext ml, string[] outputs, string[] inputs, ModelProto model, IDataView view, string standInPath, string zipPath)
    {
        var standIn = StandIn(model, inputs, outputs);
        using (var file = File.Create(standInPath)) standIn.WriteTo(file);
        using var template = new MemoryStream();
        using (var fitted = Apply(ml, outputs, inputs, standInPath, model, view).Fit(view))
        {
            fitted.GetOutputSchema(view.Schema);
            ml.Model.Save(fitted, view.Schema, template);
        }
        File.Delete(standInPath); // ML.NET's handle on it is closed
        long standInLength = standIn.CalculateSize();
        template.Position = 0;
        using var source = new ZipArchive(template, ZipArchiveMode.Read);
        var graphs = source.Entries.Where(e => e.Name == "OnnxModel").ToList();
        if (graphs.Count != 1) throw new NotSupportedException($"ML.NET saved an OnnxTransformer with {graphs.Count} OnnxModel entries, where this library expects one.");
        // The entry is the array's length (ML.NET writes an Int32 or an Int64, depending on its version) and the bytes.
        int prefix = checked((int)(graphs[0].Length - standInLength));
        if (prefix != 4 && prefix != 8)
            throw new NotSupportedException($"ML.NET saved an OnnxTransformer in a form this library does not know (an OnnxModel entry of {graphs[0].Length} bytes for a graph of {standInLength}).");
        using var target = new ZipArchive(File.Create(zipPath), ZipArchiveMode.Create);
        Onnx.SavedOnnxModels.CopyReplacing(source, target, graphs[0], model, prefix);
    }

    /// <summary>
    /// A graph with <paramref name="model"/>'s opsets, the given inputs as it declares them, and each given output
    /// written by a Constant (one float), so that ML.NET can fit and save a transformer of the same columns cheaply.
    /// </summary>
    private static ModelProto StandIn(ModelProto model, string[] inputs, string[] outputs)
    {
        var graph = new GraphProto { Name = StandInName };
        graph.Input.AddRange(model.Graph.Input.Where(i => inputs.Contains(i.Name)).Select(i => i.Clone()));
        foreach (var name in outputs)
        {
            var value = new TensorProto { Name = name + "_value", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1 } };
            value.FloatData.Add(0f);
            graph.Node.Add(new NodeProto { OpType = "Constant", Name = name + "_stand_in", Output = { name }, Attribute = { new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value } } });
            graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = 1 } } } } },
            });
        }
        var standIn = new ModelProto { IrVersion = model.IrVersion, ProducerName = "Microsoft.ML.Compression", Graph = graph };
        standIn.OpsetImport.AddRange(model.OpsetImport.Select(o => o.Clone()));
        return standIn;
    }
}
