using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// Output schema definitions of one column of a given type, with the CustomMapping estimator that reports it:
/// ML.NET makes <see cref="SchemaShape.Column"/> values only inside estimators (see <see cref="OutputShape"/>).
/// </summary>
internal static class ColumnDefinitions
{
    public sealed class NoInput { }

    public sealed class Holder<T> { public T Value = default!; }

    /// <summary>A one-column definition (name, type, annotations to add) and the estimator whose output shape lists that column.</summary>
    public readonly record struct Definition(SchemaDefinition Schema, Func<MLContext, SchemaDefinition, IEstimator<ITransformer>> Estimator);

    /// <summary>The definition of a column of raw type <paramref name="raw"/>, or null for a type that has no entry here.</summary>
    public static Definition? For(Type raw, string name, DataViewType type)
        => Columns.TryGetValue(raw, out var make) ? make(name, type) : null;

    /// <summary>Adds annotation <paramref name="annotation"/> of <paramref name="source"/> to <paramref name="target"/> (skipped for a type with no entry here).</summary>
    public static void AddAnnotation(SchemaDefinition.Column target, DataViewSchema.Annotations source, DataViewSchema.Column annotation)
    {
        if (Annotations.TryGetValue(annotation.Type.RawType, out var copy)) copy(target, source, annotation);
    }

    private static Definition Make<T>(string name, DataViewType type)
    {
        var definition = SchemaDefinition.Create(typeof(Holder<T>));
        definition[0].ColumnName = name;
        definition[0].ColumnType = type;
        return new Definition(definition, (ml, d) => ml.Transforms.CustomMapping<NoInput, Holder<T>>((_, _) => { }, null, null, d));
    }

    private static void Copy<T>(SchemaDefinition.Column target, DataViewSchema.Annotations source, DataViewSchema.Column annotation)
    {
        T value = default!;
        source.GetValue(annotation.Name, ref value);
        target.AddAnnotation(annotation.Name, value, annotation.Type);
    }

    // The item types of ML.NET's columns, scalar and vector (keys are unsigned integers).
    private static readonly Dictionary<Type, Func<string, DataViewType, Definition>> Columns = new()
    {
        [typeof(float)] = Make<float>, [typeof(VBuffer<float>)] = Make<VBuffer<float>>,
        [typeof(double)] = Make<double>, [typeof(VBuffer<double>)] = Make<VBuffer<double>>,
        [typeof(bool)] = Make<bool>, [typeof(VBuffer<bool>)] = Make<VBuffer<bool>>,
        [typeof(ReadOnlyMemory<char>)] = Make<ReadOnlyMemory<char>>, [typeof(VBuffer<ReadOnlyMemory<char>>)] = Make<VBuffer<ReadOnlyMemory<char>>>,
        [typeof(byte)] = Make<byte>, [typeof(VBuffer<byte>)] = Make<VBuffer<byte>>,
        [typeof(ushort)] = Make<ushort>, [typeof(VBuffer<ushort>)] = Make<VBuffer<ushort>>,
        [typeof(uint)] = Make<uint>, [typeof(VBuffer<uint>)] = Make<VBuffer<uint>>,
        [typeof(ulong)] = Make<ulong>, [typeof(VBuffer<ulong>)] = Make<VBuffer<ulong>>,
        [typeof(sbyte)] = Make<sbyte>, [typeof(VBuffer<sbyte>)] = Make<VBuffer<sbyte>>,
        [typeof(short)] = Make<short>, [typeof(VBuffer<short>)] = Make<VBuffer<short>>,
        [typeof(int)] = Make<int>, [typeof(VBuffer<int>)] = Make<VBuffer<int>>,
        [typeof(long)] = Make<long>, [typeof(VBuffer<long>)] = Make<VBuffer<long>>,
    };

    private static readonly Dictionary<Type, Action<SchemaDefinition.Column, DataViewSchema.Annotations, DataViewSchema.Column>> Annotations = new()
    {
        [typeof(VBuffer<ReadOnlyMemory<char>>)] = Copy<VBuffer<ReadOnlyMemory<char>>>,
        [typeof(ReadOnlyMemory<char>)] = Copy<ReadOnlyMemory<char>>,
        [typeof(bool)] = Copy<bool>,
        [typeof(uint)] = Copy<uint>,
        [typeof(int)] = Copy<int>,
        [typeof(float)] = Copy<float>,
        [typeof(VBuffer<float>)] = Copy<VBuffer<float>>,
    };
}
