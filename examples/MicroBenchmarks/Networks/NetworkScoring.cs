using BenchmarkDotNet.Attributes;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace MicroBenchmarks.Networks;

/// <summary>Which variant of fashion_mlp is scored.</summary>
public enum NetworkModel
{
    /// <summary>data/models/fashion_mlp.onnx as it is, through ApplyOnnxModel.</summary>
    Fp32,
    /// <summary>INT8 weights per output channel behind DequantizeLinear; float activations.</summary>
    Int8WeightOnly,
    /// <summary>Static INT8 (QDQ): weights and activations, calibrated on 256 rows of the training split.</summary>
    Int8Static,
}

/// <summary>One image: 784 pixels, the network's input "Features".</summary>
public sealed class Image
{
    [VectorType(784)] public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>The network's 10 logits.</summary>
public sealed class Logits
{
    [VectorType(10)] public float[] Score { get; set; } = Array.Empty<float>();
}

/// <summary>
/// Scoring the Fashion-MNIST MLP (784 → 300 → 100 → 10) as FP32 vs INT8 (weight-only and static): one image
/// through a PredictionEngine, and the 1,000 test images through Transform.
/// </summary>
[MemoryDiagnoser]
public class NetworkScoring
{
    private PredictionEngine<Image, Logits> _engine = null!;
    private ITransformer _model = null!;
    private IDataView _test = null!;
    private Image[] _rows = null!;
    private Logits _output = new();
    private int _next;

    [Params(NetworkModel.Fp32, NetworkModel.Int8WeightOnly, NetworkModel.Int8Static)]
    public NetworkModel Model { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var ml = new MLContext(seed: 1);
        string path = BenchmarkData.Path(Path.Combine("models", "fashion_mlp.onnx"));
        IDataView Load(string file) => ml.Data.Cache(ml.Data.LoadFromTextFile(BenchmarkData.Path(file), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' },
            Columns = new[] { new TextLoader.Column("Features", DataKind.Single, 1, 784) },
        }));
        var calibration = Load("fashion_mnist_calib_512.csv");
        _test = Load("fashion_mnist_test_1000.csv");
        _model = Model switch
        {
            NetworkModel.Fp32 => ml.Transforms.ApplyOnnxModel(path).Fit(calibration),
            NetworkModel.Int8WeightOnly => ml.Compression().Quantize(path, new QuantizationOptions { Precision = Precision.Int8 }).Fit(calibration),
            NetworkModel.Int8Static => ml.Compression().Quantize(path, new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(calibration),
            _ => throw new ArgumentOutOfRangeException(nameof(Model)),
        };
        _rows = ml.Data.CreateEnumerable<Image>(_test, reuseRowObject: false).ToArray();
        _engine = ml.Model.CreatePredictionEngine<Image, Logits>(_model);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.Dispose();
        (_model as IDisposable)?.Dispose();
    }

    /// <summary>One image through a reused PredictionEngine (the output object is reused too).</summary>
    [Benchmark]
    public float PredictionEngineSingleRow()
    {
        _engine.Predict(_rows[_next], ref _output);
        _next = (_next + 1) % _rows.Length;
        return _output.Score[0];
    }

    /// <summary>Transform of the 1,000 test images, the logits of every row read.</summary>
    [Benchmark]
    public long BatchTransform() => Scoring.ReadVectors(_model.Transform(_test), "Score");
}
