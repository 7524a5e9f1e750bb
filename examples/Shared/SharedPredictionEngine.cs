using Microsoft.ML;
using Microsoft.ML.Data;

namespace Examples.Shared;

/// <summary>
/// PredictionEngines that leave their model alive. ML.NET's <c>CreatePredictionEngine</c> makes an engine that
/// disposes the model when the engine is disposed (<see cref="PredictionEngineOptions.OwnsTransformer"/> defaults
/// to true); a compressed model scored again after that throws <see cref="ObjectDisposedException"/>. The examples
/// measure one model with several engines and batches, so their engines must not own it.
/// </summary>
/// <example>
/// <code>
/// using var engine = ml.Model.CreateSharedPredictionEngine&lt;ChurnRow, ChurnPrediction&gt;(model, test.Schema);
/// </code>
/// </example>
public static class SharedPredictionEngine
{
    /// <summary>
    /// Like <c>ml.Model.CreatePredictionEngine(model, inputSchema)</c> (vector sizes of <typeparamref name="TSrc"/>'s
    /// columns taken from <paramref name="inputSchema"/>), but disposing the engine leaves <paramref name="model"/> usable.
    /// </summary>
    /// <example>
    /// <code>
    /// using var engine = ml.Model.CreateSharedPredictionEngine&lt;ChurnRow, ChurnPrediction&gt;(model, test.Schema);
    /// </code>
    /// </example>
    public static PredictionEngine<TSrc, TDst> CreateSharedPredictionEngine<TSrc, TDst>(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema)
        where TSrc : class
        where TDst : class, new()
    {
        var definition = SchemaDefinition.Create(typeof(TSrc), SchemaDefinition.Direction.Read);
        foreach (var column in definition)
            if (inputSchema.GetColumnOrNull(column.ColumnName) is { Type: VectorDataViewType vector }) column.ColumnType = vector;
        return catalog.CreatePredictionEngine<TSrc, TDst>(model, new PredictionEngineOptions { InputSchemaDefinition = definition, OwnsTransformer = false });
    }

    /// <summary>Like <c>ml.Model.CreatePredictionEngine(model, inputSchemaDefinition: definition)</c>, but disposing the engine leaves <paramref name="model"/> usable.</summary>
    /// <example>
    /// <code>
    /// using var engine = ml.Model.CreateSharedPredictionEngine&lt;NetworkInput, NetworkOutput&gt;(model, definition);
    /// </code>
    /// </example>
    public static PredictionEngine<TSrc, TDst> CreateSharedPredictionEngine<TSrc, TDst>(this ModelOperationsCatalog catalog, ITransformer model, SchemaDefinition definition)
        where TSrc : class
        where TDst : class, new()
        => catalog.CreatePredictionEngine<TSrc, TDst>(model, new PredictionEngineOptions { InputSchemaDefinition = definition, OwnsTransformer = false });
}
