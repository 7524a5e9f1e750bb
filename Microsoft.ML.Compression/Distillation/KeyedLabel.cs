using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// A multiclass label that is already a key in the data (<c>MapValueToKey</c> ran before <c>Fit</c>, and the teacher
/// and the student are bare trainers). The student then learns in the data's own key numbering, so each of the
/// teacher's classes is matched to the data's key by value: a network teacher's outputs, or a teacher that numbered
/// its classes differently, land on the right key.
/// </summary>
internal sealed class KeyedLabel
{
    private readonly int[] _toData; // the teacher's class index → the data's key index (0-based)

    private KeyedLabel(DataViewSchema.Column label, object[]? values, DataViewType? valueType, int[] toData)
    {
        Type = (KeyDataViewType)label.Type;
        Annotations = label.Annotations;
        Values = values;
        ValueType = valueType;
        _toData = toData;
        Keys = Enumerable.Range(1, Count).Select(k => Convert.ChangeType((ulong)k, Type.RawType)).ToArray();
    }

    /// <summary>The data's key type; the student's label is written in it.</summary>
    public KeyDataViewType Type { get; }

    /// <summary>The data label's annotations (its KeyValues), carried to the student's label.</summary>
    public DataViewSchema.Annotations Annotations { get; }

    /// <summary>How many classes the data's key has.</summary>
    public int Count => (int)Type.Count;

    /// <summary>Each key boxed in the key's raw type, in key order: what the student's label column holds.</summary>
    public object[] Keys { get; }

    /// <summary>The data's key values in key order, or null when the key has none.</summary>
    public object[]? Values { get; }

    /// <summary>The type of <see cref="Values"/>, or null when the key has none.</summary>
    public DataViewType? ValueType { get; }

    /// <summary>The keyed label of the data, or null when the data's label is not a key.</summary>
    public static KeyedLabel? Of(DataViewSchema.Column? label, object[] teacherValues, DataViewType teacherType)
    {
        if (label is not { Type: KeyDataViewType key } column) return null;
        if (key.Count == 0 || key.Count > int.MaxValue)
            throw new DataMismatchException($"'{column.Name}' is a key without a known number of classes ({key}); map it with MapValueToKey so the student knows its classes.", column.Name);
        if (KeyValuesOf(column) is not var (values, valueType))
        {
            // No values to match by: the teacher's classes must be the keys themselves, in order.
            if (teacherValues.Length != (int)key.Count)
                throw new DataMismatchException($"'{column.Name}' is a key of {key.Count} classes without key values, and the teacher has {teacherValues.Length} classes: map the label with MapValueToKey so classes can be matched by value.", column.Name);
            return new KeyedLabel(column, null, null, Enumerable.Range(0, teacherValues.Length).ToArray());
        }
        if (!teacherType.Equals(valueType))
            throw new DataMismatchException($"The teacher's classes are {teacherType} values but the key values of '{column.Name}' are {valueType}: give the teacher's classes in the key values' type (NetworkTeacher.ClassValues for a network).", column.Name);
        var index = new Dictionary<object, int>();
        for (int k = 0; k < values.Length; k++) index.TryAdd(Comparable(values[k]), k);
        var toData = new int[teacherValues.Length];
        for (int c = 0; c < teacherValues.Length; c++)
        {
            if (!index.TryGetValue(Comparable(teacherValues[c]), out toData[c]))
                throw new DataMismatchException($"The teacher's class '{teacherValues[c]}' is not among the key values of '{column.Name}' ({string.Join(", ", values.Take(8))}{(values.Length > 8 ? ", …" : "")}): map the label with MapValueToKey over every class the teacher knows.", column.Name);
        }
        return new KeyedLabel(column, values, valueType, toData);
    }

    /// <summary>The teacher's per-class targets re-ordered into the data's key order (keys the teacher never names get 0).</summary>
    public double[] ToDataOrder(double[] teacherTargets)
    {
        var result = new double[Count];
        for (int c = 0; c < teacherTargets.Length; c++) result[_toData[c]] += teacherTargets[c];
        return result;
    }

    // Text key values are ReadOnlyMemory<char>, whose Equals compares memory, not characters.
    private static object Comparable(object value) => value is ReadOnlyMemory<char> text ? text.ToString() : value;

    /// <summary>A key column's values (boxed, in key order) and their type; null when it is not a key or has none.</summary>
    public static (object[] Values, DataViewType Type)? KeyValuesOf(DataViewSchema.Column column)
    {
        if (column.Type is not KeyDataViewType || column.Annotations.Schema.GetColumnOrNull("KeyValues")?.Type is not VectorDataViewType { ItemType: var type })
            return null;
        var read = typeof(KeyedLabel).GetMethod(nameof(ReadValues), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(type.RawType);
        return ((object[])read.Invoke(null, new object[] { column })!, type);
    }

    private static object[] ReadValues<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(v => (object)v!).ToArray();
    }
}
