using Microsoft.ML.Transforms.Onnx;
using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Builds an OnnxTransformer for graph bytes held in memory whose copy on disk goes away with it. Why not
/// <c>ApplyOnnxModel(stream)</c>: ML.NET 5 copies the stream into <see cref="MLContext.TempFilePath"/> without
/// taking ownership of the copy (<c>OnnxModel.CreateFromStream</c> passes <c>ownModelFile: false</c>), so every such
/// transformer left a file behind, disposed or not. <c>ApplyOnnxModel(path)</c> reads the file again whenever the
/// transformer is saved, so that file cannot go early either. The transformer ML.NET's model loader creates does own
/// its copy (opened delete-on-close: removed when it is disposed, or when its handle is finalized), so the graph is
/// run once from a private file, saved, and loaded back; both private files are deleted before this returns.
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
        long size = Onnx.OnnxModelIO.SerializedBytes(model);
        if (size >= Onnx.ExternalData.MaxModelBytes)
            throw new UnsupportedModelException(
                $"The ONNX graph takes {size / (1L << 20)} MB; ML.NET's OnnxTransformer holds its graph as one protobuf message, which stops at 2 GB, so it cannot run it. " +
                "Compress the model further (e.g. Quantize with Precision.Int8 or Int4) so that the result fits.");
        var stem = Path.Combine(ml.TempFilePath, $"mlcompression-{Guid.NewGuid():N}");
        string path = stem + ".onnx", zipPath = stem + ".zip";
        try
        {
            using (var file = File.Create(path)) model.WriteTo(file);
            using (var fitted = ml.Transforms.ApplyOnnxModel(outputs, inputs, path).Fit(view))
            {
                fitted.GetOutputSchema(view.Schema); // ML.NET checks the input shapes only here
                using var zip = File.Create(zipPath);
                ml.Model.Save(fitted, view.Schema, zip);
            }
            File.Delete(path); // ML.NET's handle on it is closed
            Onnx.LargeGraphMemory.Release(model); // the graph's bytes, read whole by ML.NET's save, before the load reads them again
            ITransformer loaded;
            loaded = Native.ModelLoading.Load(ml, () => File.OpenRead(zipPath), out _);
            if (loaded is OnnxTransformer onnx) return onnx;
            (loaded as IDisposable)?.Dispose();
            throw new InvalidOperationException($"ML.NET loaded a saved OnnxTransformer back as {loaded.GetType().Name}.");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException && e is not CompressionException && e.InnerException is not Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            throw new DataMismatchException(
                $"ML.NET cannot run the graph on this data ({e.Message}). Give data whose columns have the names, types and sizes of the graph's inputs ({string.Join(", ", inputs)}); " +
                "a graph whose batch dimension is fixed must be re-exported with a free one.", e);
        }
        catch (Exception e) when (e is NullReferenceException or KeyNotFoundException or IndexOutOfRangeException or InvalidCastException)
        {
            // ML.NET's reading of the graph's declared types (e.g. an output declared without a shape) fails this way.
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
}
