using Microsoft.ML.Compression.Native;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;
using System.IO.Compression;
using Onnx;

namespace Microsoft.ML.Compression.Pipeline;

/// <summary>
/// Loads a saved compressed model back as a <see cref="CompressedModel"/>. Why: <c>mlContext.Model.Load</c> gives
/// the plain chain, whose OnnxTransformer calls ONNX Runtime once per row with per-call tensors, so a deployed model
/// would lose the batch scoring and the direct PredictionEngine path that make small compressed models fast.
/// </summary>
internal static class CompressedModelLoader
{
    public static CompressedModel Load(MLContext ml, Stream zip, string description, out DataViewSchema inputSchema)
    {
        // Read twice (ML.NET's loader, then the report in the graph's metadata): keep the bytes.
        var bytes = ReadAll(zip);
        ITransformer model;
        try
        {
            SavedModelZip.Verify(bytes, description); // the zip's checksums, before ML.NET's loader trusts the entries
            if (LoadDeferred(ml, bytes, description, out inputSchema) is { } deferred)
            {
                LargeGraphMemory.Release(large: true); // the entry's bytes and the stand-in zip, before the caller's session
                return deferred;
            }
            model = ModelLoading.Load(ml, () => new MemoryStream(bytes, writable: false), out inputSchema);
        }
        catch (InvalidModelException e)
        {
            throw new CorruptSavedModelException(e.Message, e);
        }
        catch (Exception e) when (IsDamage(e))
        {
            throw new CorruptSavedModelException(
                $"The model {description} is not a model zip written by mlContext.Model.Save, or it is damaged ({e.GetType().Name}: {e.Message}). Save the model again from its CompressedModel.", e);
        }
        try
        {
            var flat = MlNetModelParts.Flatten(model).ToList();
            int at = flat.FindLastIndex(t => t is OnnxTransformer);
            if (at < 0)
                throw new UnsupportedModelException(
                    $"The model {description} holds no ONNX graph: it is a native ML.NET model (e.g. a distilled student), which mlContext.Model.Load already runs at full speed.");
            var report = CompressionReport.ReadFrom(new MemoryStream(bytes))
                ?? throw new InvalidModelException(
                    $"The model {description} has no compression report in its ONNX graph, so it was not saved from a CompressedModel. Load it with mlContext.Model.Load, " +
                    "or compress it with ml.Compression().Prune(model) / Quantize(model).");
            var graph = ModelSource.ExtractOnnx(ml, (OnnxTransformer)flat[at], "zip");
            var state = (ModelState?)SavedCompressedModel.TryRead(ml, flat, at, graph); // null for a network: a new chain reads the chain itself
            return new CompressedModel(new TransformerChain<ITransformer>(flat.ToArray()), report, graph, state);
        }
        catch (Exception e) when (IsDamage(e))
        {
            (model as IDisposable)?.Dispose(); // its ONNX Runtime sessions
            throw new CorruptSavedModelException(
                $"The model {description} loads in ML.NET, but its compressed graph or report is damaged ({e.GetType().Name}: {e.Message}). Save the model again from its CompressedModel, or load it with mlContext.Model.Load.", e);
        }
        catch
        {
            (model as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>The rest of <paramref name="zip"/>, read into one array of its length where the stream knows it.</summary>
    private static byte[] ReadAll(Stream zip)
    {
        if (zip.CanSeek && zip.Length - zip.Position is long left and <= int.MaxValue)
        {
            var bytes = new byte[left];
            zip.ReadExactly(bytes);
            return bytes;
        }
        using var copy = new MemoryStream();
        zip.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// A network saved with a large graph (64 MB or more, in one "OnnxModel" entry), loaded without ML.NET's chain of
    /// it (<see cref="CompressedModel.Loaded"/>): the zip is loaded with a weightless stand-in in the graph's entry, and
    /// the graph is parsed from the entry once. Why: ML.NET's loader held a session and a parsed copy of the graph, the
    /// library's extraction more copies, and then Transform's batch scorer a session of its own (a 512 MB network's
    /// INT8 result, a 128 MB zip: 2.85 GB at its peak, where <c>ml.Model.Load</c> alone took 1.0 GB). Null where this
    /// does not apply (small or several large graphs, no stand-in for the outputs, an ML.NET predictor's graph): then
    /// the zip is loaded as it is.
    /// </summary>
    private static CompressedModel? LoadDeferred(MLContext ml, byte[] bytes, string description, out DataViewSchema inputSchema)
    {
        inputSchema = null!;
        ModelProto? graph = null;
        byte[] standInZip;
        using (var source = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read))
        {
            // Deflate stores at most 1032 bytes in one: a larger declared length is a lie, left to the full load to refuse.
            var large = source.Entries.Where(e => e.Name == "OnnxModel" && e.Length >= LargeGraphMemory.LargeBytes).ToList();
            if (large.Count != 1 || large[0].Length > 1032 * large[0].CompressedLength + 4096 || large[0].Length > int.MaxValue) return null;
            int prefix;
            using (var entry = large[0].Open())
            using (var content = new MemoryStream(checked((int)large[0].Length)))
            {
                entry.CopyTo(content);
                graph = SavedOnnxModels.Parse(content.GetBuffer(), out prefix);
            }
            if (graph == null) return null; // damaged: the full load says so
            ExternalData.Refuse(graph, $"in the model {description}");
            ModelValidation.CheckTensors(graph, $"in the model {description}");
            var initializers = graph.Graph.Initializer.Select(t => t.Name).ToHashSet();
            var inputs = graph.Graph.Input.Where(i => !initializers.Contains(i.Name)).Select(i => i.Name).ToArray();
            if (Scoring.OwnedOnnxTransformer.TypedStandIn(graph, inputs, graph.Graph.Output.Select(o => o.Name).ToArray()) is not { } standIn) return null;
            using var written = new MemoryStream();
            using (var target = new ZipArchive(written, ZipArchiveMode.Create, leaveOpen: true))
                SavedOnnxModels.CopyReplacing(source, target, large[0], standIn, prefix);
            standInZip = written.ToArray();
        }
        var report = graph.MetadataProps.FirstOrDefault(p => p.Key == CompressionReport.MetadataKey) is { } json ? CompressionReport.FromJson(json.Value)
            : throw new InvalidModelException(
                $"The model {description} has no compression report in its ONNX graph, so it was not saved from a CompressedModel. Load it with mlContext.Model.Load, " +
                "or compress it with ml.Compression().Prune(model) / Quantize(model).");
        var loaded = ModelLoading.Load(ml, () => new MemoryStream(standInZip, writable: false), out inputSchema);
        var flat = MlNetModelParts.Flatten(loaded).ToList();
        var chain = new TransformerChain<ITransformer>(flat.ToArray());
        bool network;
        try
        {
            int at = flat.FindLastIndex(t => t is OnnxTransformer);
            // The stand-in must be the chain's graph, and the chain a network's: an ML.NET predictor's graph is read back
            // as a model state from its transformers, which the stand-in cannot be.
            network = at >= 0 && ModelSource.ExtractOnnx(ml, (OnnxTransformer)flat[at], "zip").Graph.Name == Scoring.OwnedOnnxTransformer.StandInName
                && SavedCompressedModel.TryRead(ml, flat, at, graph) == null;
        }
        catch
        {
            chain.Dispose();
            throw;
        }
        if (network) return CompressedModel.Loaded(ml, chain, bytes, report, graph);
        chain.Dispose();
        return null;
    }

    /// <summary>
    /// Whether <paramref name="e"/> is what a damaged or foreign zip makes ML.NET, the zip reader or the graph code
    /// throw. Not the library's own typed errors, and not failures of the process itself.
    /// </summary>
    private static bool IsDamage(Exception e) => e is not (CompressionException or OutOfMemoryException or OperationCanceledException or ObjectDisposedException);
}
