using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// Row mappers applied one after the other, as <c>TransformerChain.GetRowToRowMapper</c> composes them (ML.NET's own
/// composite mapper is internal): each mapper's output schema is the next one's input schema, and a row activates in
/// each mapper only what the mappers after it depend on.
/// </summary>
internal sealed class ChainedRowMapper : IRowToRowMapper
{
    private readonly IRowToRowMapper[] _mappers;

    /// <param name="inputSchema">The schema the first mapper was made for (the chain's input).</param>
    /// <param name="mappers">At least one; each made for the previous one's <see cref="IRowToRowMapper.OutputSchema"/>.</param>
    public ChainedRowMapper(DataViewSchema inputSchema, IReadOnlyList<IRowToRowMapper> mappers)
    {
        if (mappers.Count == 0) throw new ArgumentException("No mapper to chain.", nameof(mappers));
        InputSchema = inputSchema;
        _mappers = mappers.ToArray();
    }

    /// <summary>The mappers, in order (for tests: which one scores the ONNX graph).</summary>
    internal IReadOnlyList<IRowToRowMapper> Mappers => _mappers;

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema => _mappers[^1].OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        for (int i = _mappers.Length - 1; i >= 0; i--) dependingColumns = _mappers[i].GetDependencies(dependingColumns).ToArray();
        return dependingColumns;
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        if (input.Schema != InputSchema) throw new ArgumentException("The row's schema is not the schema this mapper was made for.", nameof(input));
        // What each mapper must produce: the last one what was asked for, every earlier one what the next depends on.
        var active = new DataViewSchema.Column[_mappers.Length][];
        active[^1] = activeColumns.ToArray();
        for (int i = _mappers.Length - 1; i > 0; i--) active[i - 1] = _mappers[i].GetDependencies(active[i]).ToArray();
        var row = input;
        for (int i = 0; i < _mappers.Length; i++) row = _mappers[i].GetRow(row, active[i]);
        return row;
    }
}
