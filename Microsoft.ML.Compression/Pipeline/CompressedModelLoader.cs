using Microsoft.ML.Compression.Native;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

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
        using var copy = new MemoryStream();
        zip.CopyTo(copy);
        var bytes = copy.ToArray();
        ITransformer model;
        try
        {
            SavedModelZip.Verify(bytes, description); // the zip's checksums, before ML.NET's loader trusts the entries
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

    /// <summary>
    /// Whether <paramref name="e"/> is what a damaged or foreign zip makes ML.NET, the zip reader or the graph code
    /// throw. Not the library's own typed errors, and not failures of the process itself.
    /// </summary>
    private static bool IsDamage(Exception e) => e is not (CompressionException or OutOfMemoryException or OperationCanceledException or ObjectDisposedException);
}
