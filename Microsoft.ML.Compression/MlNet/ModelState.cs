using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Data;
using Onnx;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>The model as it passes from stage to stage: native ML.NET, an exported predictor graph, or an ONNX network.</summary>
internal abstract class ModelState
{
    public abstract ModelTask Task { get; }

    /// <summary>The graph this state is made of, or null for a native model.</summary>
    public abstract ModelProto? Graph { get; }

    /// <summary>Set by the stage that produced this state when it measured per-tensor errors (quantization); for the report.</summary>
    public IReadOnlyList<TensorError>? TensorErrors { get; set; }

    /// <summary>Set by a graph edit (prune, quantize): what it did to each layer; for the report.</summary>
    public IReadOnlyList<LayerEdit>? Layers { get; set; }
    /// <summary>Set by a quantization stage whose mixed precision kept layers at a higher precision; for the report.</summary>
    public IReadOnlyList<LayerPrecision>? LayerPrecisions { get; set; }

    /// <summary>Set on a distilled student (native, or per-class regressors merged into a graph): its teacher and labels-only baseline, for the report (not part of the result).</summary>
    public DistillationInfo? Distillation { get; init; }

    /// <summary>Standard ML.NET transformers that take the raw input columns and produce the predictions.</summary>
    public abstract IReadOnlyList<ITransformer> BuildTransformers(MLContext ml, IDataView input);
}

/// <summary>A trained ML.NET pipeline, used as it is (a teacher, or a distilled student).</summary>
internal sealed class NativeState : ModelState
{
    private readonly ModelTask _task;

    public NativeState(ITransformer model, string paramName)
    {
        Model = model;
        Parts = MlNetModelParts.Decompose(model, paramName);
        _task = Parts.Task;
    }

    /// <summary>
    /// A model without one of ML.NET's standard prediction transformers (a field-aware factorization machine, a
    /// scoring CustomMapping, several models averaged by hand), of a task known from elsewhere: it scores, teaches
    /// and is measured, but there is no predictor in it to export, prune or quantize.
    /// </summary>
    private NativeState(ITransformer model, ModelTask task)
    {
        Model = model;
        _task = task;
    }

    /// <summary>The model with its predictor found when it has a standard one; otherwise scoring-only, of <paramref name="task"/>.</summary>
    public static NativeState Of(ITransformer model, ModelTask task, string paramName, DistillationInfo? distillation = null)
        => MlNetModelParts.Flatten(model).Any(t => MlNetModelParts.TaskOf(t) != null)
            ? new NativeState(model, paramName) { Distillation = distillation }
            : new NativeState(model, task) { Distillation = distillation };

    public ITransformer Model { get; }

    /// <summary>The featurization, predictor and post-processing; null for a scoring-only model.</summary>
    public MlNetModelParts? Parts { get; }

    public override ModelTask Task => _task;
    public override ModelProto? Graph => null;
    public override IReadOnlyList<ITransformer> BuildTransformers(MLContext ml, IDataView input) => MlNetModelParts.Flatten(Model).ToList();

    /// <summary>The predictor exported to ONNX (the featurization stays native).</summary>
    public PredictorState Export(MLContext ml, IDataView data)
    {
        if (Parts == null)
            throw new UnsupportedModelException(
                $"The model ({string.Join(" → ", MlNetModelParts.Flatten(Model).Select(t => t.GetType().Name))}) has no ML.NET prediction transformer that " +
                "ConvertToOnnx exports, so there is nothing to prune or quantize in it. Distil it into a student that has one (a tree ensemble, a linear model), then compress the student.");
        var prefixSchema = Parts.TransformPrefix(data).Schema;
        return new PredictorState(Parts, PredictorExporter.Export(ml, Parts, prefixSchema));
    }
}

/// <summary>
/// A distillation teacher that is neither an ML.NET predictor pipeline nor an ONNX network, only a transformer that
/// writes a Score column. Its task is the student's: the distillation stage makes it a scoring-only
/// <see cref="NativeState"/> of that task before anything reads it.
/// </summary>
internal sealed class ScoringTeacherState : ModelState
{
    public ScoringTeacherState(ITransformer model) => Model = model;

    public ITransformer Model { get; }

    public override ModelTask Task => throw new InvalidOperationException("A scoring-only teacher takes the student's task; the distillation stage sets it.");
    public override ModelProto? Graph => null;
    public override IReadOnlyList<ITransformer> BuildTransformers(MLContext ml, IDataView input) => MlNetModelParts.Flatten(Model).ToList();
}

/// <summary>The user's featurization, then the predictor as an ONNX graph, then the user's post-processing.</summary>
internal sealed class PredictorState : ModelState
{
    /// <remarks>
    /// <c>freshPrefix</c>: when the featurization holds ONNX sessions (a pruned featurizer), makes new instances of
    /// <see cref="MlNetModelParts.Prefix"/> for every built chain, because chains are disposed after they are measured.
    /// </remarks>
    public PredictorState(MlNetModelParts parts, PredictorGraph predictor, Func<IReadOnlyList<ITransformer>>? freshPrefix = null)
    {
        OnnxRuntimeNative.Require("The ONNX form of an ML.NET predictor (ModelForm.Onnx, or a featurizer vocabulary pruned into a graph)");
        Parts = parts;
        Predictor = predictor;
        _freshPrefix = freshPrefix;
    }

    private readonly Func<IReadOnlyList<ITransformer>>? _freshPrefix;
    public MlNetModelParts Parts { get; }
    public PredictorGraph Predictor { get; }
    public override ModelTask Task => Parts.Task;
    public override ModelProto Graph => Predictor.Model;

    public override IReadOnlyList<ITransformer> BuildTransformers(MLContext ml, IDataView input)
        => (_freshPrefix?.Invoke() ?? Parts.Prefix).Concat(MlNetHead.Build(ml, Predictor)).Concat(Parts.Suffix).ToList();

    public PredictorState With(ModelProto model) => new(Parts, Predictor.With(model), _freshPrefix);
}

/// <summary>An ONNX network given by the user: its inputs and outputs are kept as they are.</summary>
internal sealed class NetworkState : ModelState
{
    public NetworkState(ModelProto model, IReadOnlyList<ITransformer>? prefix = null)
    {
        OnnxRuntimeNative.Require("Compressing an ONNX network");
        Model = model;
        Prefix = prefix ?? Array.Empty<ITransformer>();
        var initializers = new HashSet<string>(model.Graph.Initializer.Select(t => t.Name));
        Inputs = model.Graph.Input.Where(i => !initializers.Contains(i.Name)).Select(i => i.Name).ToArray();
        Outputs = model.Graph.Output.Select(o => o.Name).ToArray();
    }

    public ModelProto Model { get; }
    public IReadOnlyList<ITransformer> Prefix { get; }
    public string[] Inputs { get; }
    public string[] Outputs { get; }
    public override ModelTask Task => ModelTask.Network;
    public override ModelProto Graph => Model;

    public override IReadOnlyList<ITransformer> BuildTransformers(MLContext ml, IDataView input)
    {
        BuildInputChecks(ref input);
        var onnx = OwnedOnnxTransformer.Create(ml, Outputs, Inputs, Model, input);
        return Prefix.Append(onnx).ToList();
    }

    /// <summary>
    /// <see cref="BuildTransformers"/> for a chain that is only saved: the graph's transformer reads it from
    /// <paramref name="graphPath"/> (see <see cref="OwnedOnnxTransformer.CreateForSave"/>; the caller deletes the file).
    /// </summary>
    public IReadOnlyList<ITransformer> BuildSaveTransformers(MLContext ml, IDataView input, string graphPath)
    {
        BuildInputChecks(ref input);
        return Prefix.Append(OwnedOnnxTransformer.CreateForSave(ml, Outputs, Inputs, Model, input, graphPath)).ToList();
    }

    /// <summary>The data as the graph reads it (after <see cref="Prefix"/>), its input columns checked by name and type.</summary>
    private void BuildInputChecks(ref IDataView input)
    {
        foreach (var p in Prefix) input = p.Transform(input);
        foreach (var name in Inputs)
        {
            var column = input.Schema.GetColumnOrNull(name)
                ?? throw new DataMismatchException($"The network reads an input '{name}', but the data has no such column. Rename the data column or the graph input.", name);
            // Numeric inputs are checked here, so a Single column for int64 ids fails naming the conversion to add
            // (OnnxTransformer's own message names neither); other element types are left to OnnxTransformer.
            var graphInput = Model.Graph.Input.First(i => i.Name == name);
            if (GraphInputTypes.ItemTypeOf(graphInput.Type?.TensorType?.ElemType ?? 0) != null)
                GraphInputTypes.Check(graphInput, column.Type is VectorDataViewType v ? v.ItemType.RawType : column.Type.RawType);
        }
    }

    /// <summary>
    /// <see cref="BuildTransformers"/> with a weightless stand-in in place of the graph's OnnxTransformer (same
    /// columns; see <see cref="OwnedOnnxTransformer.CreateSchemaTwin"/>), or null when the graph's outputs cannot be
    /// stood in for. Only for readings that score through the graph's batch scorer or read no scores at all.
    /// </summary>
    public IReadOnlyList<ITransformer>? BuildSchemaTwin(MLContext ml, IDataView input)
    {
        BuildInputChecks(ref input);
        var twin = OwnedOnnxTransformer.CreateSchemaTwin(ml, Outputs, Inputs, Model, input);
        return twin == null ? null : Prefix.Append(twin).ToList();
    }
}

/// <summary>What the report needs to judge a distilled student: the teacher, the labels-only baseline (or null) and how it was chosen on validation (or null).</summary>
internal sealed record DistillationInfo(ModelState Teacher, ITransformer? Baseline, string LabelColumn, DistillationSelection? Selection = null);
