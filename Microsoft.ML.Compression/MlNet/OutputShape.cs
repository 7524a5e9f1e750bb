using Microsoft.ML.Data;
using Onnx;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// The <see cref="SchemaShape"/> a compressed model will write, worked out before anything is fitted (what
/// <c>EstimatorChain.Fit</c> and <c>GetOutputSchema</c> callers need).
/// </summary>
/// <remarks>
/// A compression stage keeps the columns of the model it was given, so the model itself tells: its transformers are
/// run over a schema made from the input shape. Two things ML.NET keeps internal are rebuilt with its public API:
/// a <see cref="DataViewSchema"/> from a <see cref="SchemaShape"/> (a shape has no vector sizes: the model's own
/// feature column types and the graph's input dimensions supply them), and <see cref="SchemaShape.Column"/> values
/// for new columns, which only estimators make: a <c>CustomMapping</c> estimator whose output schema definition
/// declares the column's type and annotations reports exactly that column in its output shape.
/// </remarks>
internal static class OutputShape
{
    /// <summary>The input shape with the columns that the model of <paramref name="state"/> adds or replaces.</summary>
    public static SchemaShape Of(MLContext ml, ModelState state, SchemaShape input)
    {
        var fake = FakeSchema(input, SizeHints(state));
        DataViewSchema output;
        var transformers = state.BuildTransformers(ml, new EmptyDataView(fake));
        try { output = Propagate(transformers, fake); }
        finally
        {
            // A graph's transformers were made here (ONNX sessions); a native model's are the user's own.
            if (state.Graph != null)
                foreach (var t in transformers.OfType<IDisposable>()) t.Dispose();
        }
        return Merge(ml, input, fake, output);
    }

    /// <summary>The shape of <paramref name="schema"/>'s visible columns (ML.NET's own <c>SchemaShape.Create</c> is internal).</summary>
    public static SchemaShape FromSchema(MLContext ml, DataViewSchema schema)
        => Merge(ml, new SchemaShape(Array.Empty<SchemaShape.Column>()), new DataViewSchema.Builder().ToSchema(), schema);

    /// <summary>Runs each transformer's schema propagation; a prediction transformer sees its own feature column type.</summary>
    private static DataViewSchema Propagate(IEnumerable<ITransformer> transformers, DataViewSchema schema)
    {
        foreach (var t in transformers)
        {
            if (t is ISingleFeaturePredictionTransformer<object> predictor)
                schema = WithColumn(schema, predictor.FeatureColumnName, predictor.FeatureColumnType);
            try { schema = t.GetOutputSchema(schema); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
            {
                // The shape has no vector sizes: a featurizer that insists on one it cannot be told about adds no
                // column here; the predictor after it still reports its own (its feature type is substituted).
            }
        }
        return schema;
    }

    /// <summary>Known vector sizes by column name: each predictor's feature column, each graph input.</summary>
    private static Dictionary<string, DataViewType> SizeHints(ModelState state)
    {
        var hints = new Dictionary<string, DataViewType>();
        if (state is NativeState { Parts: { } parts } && parts.Predictor is ISingleFeaturePredictionTransformer<object> p)
            hints[p.FeatureColumnName] = p.FeatureColumnType;
        if (state is PredictorState { Parts.Predictor: ISingleFeaturePredictionTransformer<object> q })
            hints[q.FeatureColumnName] = q.FeatureColumnType;
        if (state.Graph is { } graph)
        {
            var initializers = new HashSet<string>(graph.Graph.Initializer.Select(t => t.Name));
            foreach (var i in graph.Graph.Input.Where(i => !initializers.Contains(i.Name)))
                if (InputVectorSize(i) is int size && OnnxItemType(i) is { } item)
                    hints.TryAdd(i.Name, new VectorDataViewType(item, size));
        }
        return hints;
    }

    private static int? InputVectorSize(ValueInfoProto input)
    {
        if (input.Type?.TensorType?.Shape is not { } shape) return null;
        long size = 1;
        foreach (var d in shape.Dim.Skip(1)) // the first dimension is the batch
            if (d.DimValue > 0) size *= d.DimValue;
            else return 0; // a free dimension (e.g. sequence length): a variable-size vector
        return size is > 0 and <= int.MaxValue ? (int)size : null;
    }

    /// <summary>The ML.NET item type of a graph input, through the .NET type <see cref="GraphInputTypes"/> feeds it with.</summary>
    private static PrimitiveDataViewType? OnnxItemType(ValueInfoProto input)
        => GraphInputTypes.ItemTypeOf(input.Type?.TensorType?.ElemType ?? 0) is { } raw && ItemTypes.TryGetValue(raw, out var item) ? item : null;

    private static readonly Dictionary<Type, PrimitiveDataViewType> ItemTypes = new()
    {
        [typeof(float)] = NumberDataViewType.Single, [typeof(double)] = NumberDataViewType.Double,
        [typeof(long)] = NumberDataViewType.Int64, [typeof(int)] = NumberDataViewType.Int32,
        [typeof(uint)] = NumberDataViewType.UInt32, [typeof(ulong)] = NumberDataViewType.UInt64,
        [typeof(short)] = NumberDataViewType.Int16, [typeof(ushort)] = NumberDataViewType.UInt16,
        [typeof(sbyte)] = NumberDataViewType.SByte, [typeof(byte)] = NumberDataViewType.Byte,
        [typeof(bool)] = BooleanDataViewType.Instance,
    };

    /// <summary>A schema with the shape's columns: scalars as they are, vectors sized by the hints (else 1), keys of count 10 as ML.NET's own fake schemas.</summary>
    private static DataViewSchema FakeSchema(SchemaShape shape, IReadOnlyDictionary<string, DataViewType> hints)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var c in shape)
        {
            if (hints.TryGetValue(c.Name, out var hinted) && (c.Kind != SchemaShape.Column.VectorKind.Scalar) == hinted is VectorDataViewType)
            {
                builder.AddColumn(c.Name, hinted);
                continue;
            }
            DataViewType item = c.IsKey ? new KeyDataViewType(c.ItemType.RawType, 10) : c.ItemType;
            builder.AddColumn(c.Name, c.Kind switch
            {
                SchemaShape.Column.VectorKind.Scalar => item,
                SchemaShape.Column.VectorKind.Vector => new VectorDataViewType((PrimitiveDataViewType)item, 1),
                _ => new VectorDataViewType((PrimitiveDataViewType)item),
            });
        }
        return builder.ToSchema();
    }

    private static DataViewSchema WithColumn(DataViewSchema schema, string name, DataViewType type)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var c in schema.Where(c => !c.IsHidden && c.Name != name)) builder.AddColumn(c.Name, c.Type, c.Annotations);
        builder.AddColumn(name, type);
        return builder.ToSchema();
    }

    /// <summary>The input shape, with each output column that is not simply an input column passed through added or replaced.</summary>
    private static SchemaShape Merge(MLContext ml, SchemaShape input, DataViewSchema fake, DataViewSchema output)
    {
        var columns = input.ToDictionary(c => c.Name);
        var order = input.Select(c => c.Name).ToList();
        foreach (var column in output.Where(c => !c.IsHidden))
        {
            if (fake.GetColumnOrNull(column.Name) is { } passed && passed.Type.Equals(column.Type) && columns.ContainsKey(column.Name)) continue;
            if (ShapeOf(ml, column) is not { } shaped) continue;
            if (!columns.ContainsKey(column.Name)) order.Add(column.Name);
            columns[column.Name] = shaped;
        }
        return new SchemaShape(order.Select(n => columns[n]));
    }

    /// <summary>The shape column of <paramref name="column"/>, with its annotations; null for a type with no .NET member type here.</summary>
    private static SchemaShape.Column? ShapeOf(MLContext ml, DataViewSchema.Column column)
    {
        var definition = ColumnDefinitions.For(column.Type.RawType, column.Name, column.Type);
        if (definition == null) return null;
        foreach (var annotation in column.Annotations.Schema)
            ColumnDefinitions.AddAnnotation(definition.Value.Schema[0], column.Annotations, annotation);
        var shape = definition.Value.Estimator(ml, definition.Value.Schema).GetOutputSchema(new SchemaShape(Array.Empty<SchemaShape.Column>()));
        return shape.Where(c => c.Name == column.Name).Select(c => (SchemaShape.Column?)c).LastOrDefault();
    }
}
