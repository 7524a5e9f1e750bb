using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;
using Onnx;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// An ONNX network read as a teacher of a given task: the network gets an ONNX head that turns its output into the
/// columns ML.NET predictors produce (Score, Probability and PredictedLabel), so the transfer set and the report's
/// fidelity read it like any ML.NET teacher.
/// </summary>
internal sealed class NetworkTeacherState : ModelState
{
    private readonly ModelTask _task;
    private readonly IReadOnlyList<ITransformer> _prefix;
    private readonly PredictorGraph _head;

    private NetworkTeacherState(ModelTask task, IReadOnlyList<ITransformer> prefix, PredictorGraph head, object[] classValues, DataViewType classType, string description)
    {
        _task = task;
        _prefix = prefix;
        _head = head;
        ClassValues = classValues;
        ClassType = classType;
        Description = description;
    }

    public override ModelTask Task => _task;
    public override ModelProto Graph => _head.Model;

    /// <summary>Classification: the label value of each network output index (boxed in ML.NET's raw type), and that type.</summary>
    public object[] ClassValues { get; }
    public DataViewType ClassType { get; }
    public string Description { get; }

    public override IReadOnlyList<ITransformer> BuildTransformers(MLContext ml, IDataView input)
    {
        if (_head.Model.Graph.Input.Count(i => !_head.Model.Graph.Initializer.Any(t => t.Name == i.Name)) == 1)
            return _prefix.Concat(MlNetHead.Build(ml, _head)).ToList();
        // Several inputs (token ids, attention mask, …): the OnnxTransformer is fitted on the data as the prefix leaves it.
        var prefixed = input;
        foreach (var p in _prefix) prefixed = p.Transform(prefixed);
        return _prefix.Concat(MlNetHead.Build(ml, _head, prefixed)).ToList();
    }

    public static NetworkTeacherState Create(MLContext ml, NetworkState network, ModelTask task, NetworkTeacher? how, IDataView data, string labelColumn, double alpha)
    {
        how ??= new NetworkTeacher();
        if (task is not (ModelTask.BinaryClassification or ModelTask.MulticlassClassification or ModelTask.Regression))
            throw new ArgumentException($"A network teacher needs a binary, multiclass or regression student; the student is {task}.", "student");
        var model = network.Model.Clone();
        var g = model.Graph;
        string output = how.OutputColumn
            ?? (network.Outputs.Length == 1 ? network.Outputs[0]
                : network.Outputs.Contains("Score") ? "Score"
                : throw new ArgumentException($"The network has {network.Outputs.Length} outputs ({string.Join(", ", network.Outputs)}): say which one holds the scores with DistillationOptions.NetworkTeacher.OutputColumn.", "options"));
        if (!network.Outputs.Contains(output))
            throw new ArgumentException($"The network has no output '{output}'; its outputs are {string.Join(", ", network.Outputs)}.", "options");
        int width = OutputWidth(g.Output.First(o => o.Name == output), output);

        // The feature column, as the prefix leaves it in the data.
        var prefixed = data;
        foreach (var p in network.Prefix) prefixed = p.Transform(prefixed);
        string featureColumn = network.Inputs[0];
        VectorDataViewType? vt = null;
        foreach (var name in network.Inputs)
        {
            var column = prefixed.Schema.GetColumnOrNull(name)
                ?? throw new DataMismatchException($"The network reads an input '{name}', but the data has no such column. Rename the data column or the graph input.", name);
            // One input: a Single feature vector, as ML.NET features are. Several (token ids, attention mask, float
            // features): known-size vectors of each input's own element type.
            var input = g.Input.First(i => i.Name == name);
            var expected = network.Inputs.Length == 1 ? typeof(float) : GraphInputTypes.ItemTypeOf(input.Type?.TensorType?.ElemType ?? 0);
            if (column.Type is not VectorDataViewType { Size: > 0 } vector || vector.ItemType.RawType != expected)
                throw new DataMismatchException($"A network teacher must read known-size {(expected?.Name ?? "numeric")} vectors; '{name}' is {column.Type}.", name);
            if (name == featureColumn) vt = vector;
        }

        object[] classValues = Array.Empty<object>();
        DataViewType classType = NumberDataViewType.Single;
        var label = data.Schema.GetColumnOrNull(labelColumn);
        if (task != ModelTask.Regression)
        {
            (classValues, classType) = ClassValuesOf(how, task, data, label);
            if (alpha < 1 && label != null && task == ModelTask.MulticlassClassification && label.Value.Type is not KeyDataViewType)
                throw new ArgumentException($"Alpha {alpha} blends in the labels, but with a network teacher a multiclass label must already be a key (MapValueToKey before Fit); use Alpha = 1.", "options");
            if (alpha < 1 && label != null && task == ModelTask.BinaryClassification && label.Value.Type is not BooleanDataViewType)
                throw new ArgumentException($"Alpha {alpha} blends in the labels, but with a network teacher a binary label must be Boolean; use Alpha = 1.", "options");
        }
        switch (task)
        {
            case ModelTask.BinaryClassification when width is not (1 or 2):
                throw new UnsupportedModelException($"A binary network teacher needs 1 or 2 outputs in '{output}'; it has {width}.");
            case ModelTask.MulticlassClassification when width != classValues.Length:
                throw new DataMismatchException($"The network's '{output}' has {width} outputs but {classValues.Length} class values were {(how.ClassValues != null ? "given" : "found in the data")}: give NetworkTeacher.ClassValues, one per output in index order.", labelColumn);
            case ModelTask.Regression when width != 1:
                throw new UnsupportedModelException($"A regression network teacher needs 1 output in '{output}'; it has {width}.");
        }

        AddHead(model, output, task, how.Output, width);
        Array? labels = null;
        if (task == ModelTask.MulticlassClassification)
        {
            labels = Array.CreateInstance(classType.RawType, classValues.Length);
            for (int i = 0; i < classValues.Length; i++) labels.SetValue(classValues[i], i);
        }
        var head = new PredictorGraph
        {
            Model = model, Task = task, FeatureColumn = featureColumn, FeatureCount = vt!.Size,
            HasProbability = task == ModelTask.BinaryClassification, ClassLabels = labels, ClassLabelType = labels == null ? null : classType,
        };
        string kind = how.Output == NetworkOutputKind.Logits ? "logits" : "probabilities";
        string classes = task == ModelTask.Regression ? "" : $", classes {string.Join(", ", classValues.Select(v => v.ToString()).Take(8))}{(classValues.Length > 8 ? ", …" : "")}";
        return new NetworkTeacherState(task, network.Prefix, head, classValues, classType, $"ONNX network, '{output}' read as {width} {kind}{classes}");
    }

    private static int OutputWidth(ValueInfoProto output, string name)
    {
        var dims = output.Type?.TensorType?.Shape?.Dim;
        if (dims == null || dims.Count == 0) throw new UnsupportedModelException($"The network output '{name}' has no declared shape.");
        if (dims.Count == 1) return 1; // [batch]
        long width = 1;
        foreach (var d in dims.Skip(1))
        {
            if (d.ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue || d.DimValue <= 0)
                throw new UnsupportedModelException($"The network output '{name}' must have a fixed size after the batch dimension.");
            width *= d.DimValue;
        }
        if (dims.Count > 2) throw new UnsupportedModelException($"The network output '{name}' must be [batch, K]; it has {dims.Count} dimensions.");
        return (int)width;
    }

    /// <summary>Replaces the graph's outputs by the head outputs the ML.NET head reads (<see cref="HeadColumns"/>).</summary>
    private static void AddHead(ModelProto model, string output, ModelTask task, NetworkOutputKind kind, int width)
    {
        OnnxGraphEditor.EnsureOpset(model, 13);
        var g = model.Graph;
        string raw = OnnxGraphEditor.UniqueName(g, "teacher_output");
        PredictorExporter.RenameValue(g, output, raw);
        foreach (var i in g.Input.Where(i => i.Name == output)) i.Name = raw; // an output that is an input as is
        g.Output.Clear();
        string Const(string stem, TensorProto t) { t.Name = OnnxGraphEditor.UniqueName(g, stem); g.Initializer.Add(t); return t.Name; }
        string Op(string op, string stem, params string[] inputs)
        {
            var name = OnnxGraphEditor.UniqueName(g, stem);
            g.Node.Add(OnnxGraphEditor.Node(op, inputs, new[] { name }, name));
            return name;
        }
        var flat = Const("head_flat", OnnxTensors.Int64("", new[] { -1L }, 1));
        void Output(string source, string name, int type, long size)
        {
            g.Node.Add(OnnxGraphEditor.Node("Reshape", new[] { source, flat }, new[] { name }, name + "_flatten"));
            g.Output.Add(OnnxGraphEditor.TensorValue(name, type, size));
        }
        string Column(int index)
        {
            if (width == 1) return Op("Reshape", "head_col", raw, flat);
            var col = Op("Gather", "head_col", raw, Const("head_index", OnnxTensors.Int64("", new[] { (long)index })));
            g.Node[^1].Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
            return col;
        }

        switch (task)
        {
            case ModelTask.Regression:
                Output(raw, HeadColumns.Score, OnnxType.Float, 1);
                break;
            case ModelTask.BinaryClassification:
            {
                string z, p;
                if (kind == NetworkOutputKind.Logits)
                {
                    z = width == 2 ? Op("Sub", "head_logit", Column(1), Column(0)) : Column(0);
                    p = Op("Sigmoid", "head_probability", z);
                }
                else
                {
                    p = Column(width == 2 ? 1 : 0);
                    var pc = Op("Clip", "head_clipped", p, Const("head_min", OnnxTensors.Float("", new[] { 1e-7f })), Const("head_max", OnnxTensors.Float("", new[] { 1 - 1e-7f })));
                    var q = Op("Sub", "head_complement", Const("head_one", OnnxTensors.Float("", new[] { 1f })), pc);
                    z = Op("Sub", "head_logit", Op("Log", "head_log_p", pc), Op("Log", "head_log_q", q));
                }
                var positive = Op("Greater", "head_positive", z, Const("head_zero", OnnxTensors.Float("", new[] { 0f })));
                Output(z, HeadColumns.Score, OnnxType.Float, 1);
                Output(p, HeadColumns.Probability, OnnxType.Float, 1);
                Output(positive, HeadColumns.PredictedLabel, OnnxType.Bool, 1);
                break;
            }
            default:
            {
                string probs = raw;
                if (kind == NetworkOutputKind.Logits)
                {
                    probs = Op("Softmax", "head_softmax", raw);
                    g.Node[^1].Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 });
                }
                var argmax = Op("ArgMax", "head_argmax", raw);
                g.Node[^1].Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                g.Node[^1].Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
                var key = Op("Add", "head_key", argmax, Const("head_one", OnnxTensors.Int64("", new[] { 1L }, 1)));
                var cast = Op("Cast", "head_key_u32", key);
                g.Node[^1].Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = OnnxType.UInt32 });
                Output(probs, "Score", OnnxType.Float, width);
                Output(cast, HeadColumns.PredictedLabel, OnnxType.UInt32, 1);
                break;
            }
        }
        OnnxGraphEditor.RemoveDeadNodes(g);
    }

    private static (object[], DataViewType) ClassValuesOf(NetworkTeacher how, ModelTask task, IDataView data, DataViewSchema.Column? label)
    {
        if (how.ClassValues != null)
        {
            if (how.ClassValues.Count == 0 || how.ClassValues.Any(v => v == null))
                throw new ArgumentException("NetworkTeacher.ClassValues must list one non-null value per output.", "options");
            var values = how.ClassValues.Select(v => v is string s ? (object)s.AsMemory() : v).ToArray();
            var type = TypeOf(values[0].GetType());
            if (values.Any(v => v.GetType() != values[0].GetType()))
                throw new ArgumentException("NetworkTeacher.ClassValues must all be of one type.", "options");
            if (task == ModelTask.BinaryClassification && values.Length != 2)
                throw new ArgumentException($"A binary network teacher needs 2 class values (negative, positive); {values.Length} were given.", "options");
            if (label != null && label.Value.Type is not KeyDataViewType && !label.Value.Type.Equals(type) && !(task == ModelTask.BinaryClassification && label.Value.Type is BooleanDataViewType))
                throw new DataMismatchException($"NetworkTeacher.ClassValues are {type} values but '{label.Value.Name}' in the data is {label.Value.Type}.", label.Value.Name);
            if (task == ModelTask.BinaryClassification && label?.Type is BooleanDataViewType) return (new object[] { false, true }, BooleanDataViewType.Instance);
            return (values, type);
        }
        if (label == null)
        {
            if (task == ModelTask.BinaryClassification) return (new object[] { false, true }, BooleanDataViewType.Instance);
            throw new ArgumentException("The data has no label column to take the class values from: give NetworkTeacher.ClassValues, one per network output in index order.", "options");
        }
        var col = label.Value;
        if (col.Type is BooleanDataViewType) return (new object[] { false, true }, BooleanDataViewType.Instance);
        // Sorted like any other label's values: a network trained outside ML.NET knows nothing of the key's numbering.
        if (KeyedLabel.KeyValuesOf(col) is var (keyValues, keyType)) return (Sorted(keyValues), keyType);
        if (col.Type is VectorDataViewType || col.Type is KeyDataViewType)
            throw new DataMismatchException($"Cannot take class values from '{col.Name}' ({col.Type}): give NetworkTeacher.ClassValues.", col.Name);
        var distinct = typeof(NetworkTeacherState).GetMethod(nameof(SortedDistinct), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.MakeGenericMethod(col.Type.RawType);
        var found = (object[])distinct.Invoke(null, new object[] { data, col })!;
        if (task == ModelTask.BinaryClassification && found.Length != 2)
            throw new DataMismatchException($"'{col.Name}' holds {found.Length} distinct values; a binary network teacher needs 2 (give NetworkTeacher.ClassValues).", col.Name);
        return (found, col.Type);
    }

    private static DataViewType TypeOf(Type t) =>
        t == typeof(ReadOnlyMemory<char>) ? TextDataViewType.Instance
        : t == typeof(bool) ? BooleanDataViewType.Instance
        : t == typeof(float) ? NumberDataViewType.Single
        : t == typeof(double) ? NumberDataViewType.Double
        : t == typeof(int) ? NumberDataViewType.Int32
        : t == typeof(uint) ? NumberDataViewType.UInt32
        : t == typeof(long) ? NumberDataViewType.Int64
        : throw new ArgumentException($"NetworkTeacher.ClassValues of type {t.Name} are not supported (use string, bool or a number type).", "options");

    /// <summary>Class values in order: numeric order for numbers, ordinal for text (boxed values of one type).</summary>
    private static object[] Sorted(IEnumerable<object> values) => values.All(v => v is IComparable)
        ? values.OrderBy(v => v, Comparer<object>.Default).ToArray()
        : values.OrderBy(v => v.ToString() ?? "", StringComparer.Ordinal).ToArray();

    private static object[] SortedDistinct<T>(IDataView data, DataViewSchema.Column column)
    {
        var seen = new Dictionary<string, T>();
        using var cursor = data.GetRowCursor(new[] { column });
        var get = cursor.GetGetter<T>(column);
        T v = default!;
        while (cursor.MoveNext())
        {
            get(ref v);
            var key = v?.ToString() ?? "";
            if (v is float f && float.IsNaN(f)) continue;
            if (!seen.ContainsKey(key)) seen[key] = v;
        }
        return Sorted(seen.Values.Select(x => (object)x!));
    }
}
