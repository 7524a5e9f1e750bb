using BenchmarkDotNet.Attributes;
using Microsoft.ML;

namespace MicroBenchmarks.Trees;

/// <summary>
/// Scoring a 500-tree FastTree spam model vs its INT8 version and a distilled 20-tree student (native and INT8):
/// one row through a PredictionEngine, and the whole 590-row test set through Transform.
/// </summary>
[MemoryDiagnoser]
public class TreeScoring
{
    private PredictionEngine<Email, Prediction> _engine = null!;
    private ITransformer _model = null!;
    private IDataView _test = null!;
    private List<Email> _rows = null!;
    private Prediction _output = new();
    private int _next;

    [Params(TreeModel.Teacher, TreeModel.TeacherInt8, TreeModel.Student, TreeModel.StudentInt8)]
    public TreeModel Model { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var built = SpamModels.Build(Model);
        _model = built.Model;
        _test = built.Test;
        _rows = built.Rows;
        _engine = built.Ml.Model.CreatePredictionEngine<Email, Prediction>(_model, inputSchema: built.RawSchema);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.Dispose();
        (_model as IDisposable)?.Dispose();
    }

    /// <summary>One row through a reused PredictionEngine (the output object is reused too).</summary>
    [Benchmark]
    public float PredictionEngineSingleRow()
    {
        _engine.Predict(_rows[_next], ref _output);
        _next = (_next + 1) % _rows.Count;
        return _output.Probability;
    }

    /// <summary>Transform of the test set, every prediction column of every row read.</summary>
    [Benchmark]
    public long BatchTransform() => Scoring.ReadBinaryPredictions(_model.Transform(_test));
}
