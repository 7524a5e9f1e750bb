using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace MicroBenchmarks.Trees;

/// <summary>Which model of the spam tree benchmarks is scored.</summary>
public enum TreeModel
{
    /// <summary>FastTree, 500 trees × 20 leaves: native ML.NET, float leaves.</summary>
    Teacher,
    /// <summary>The teacher with its leaves quantized to INT8: an ONNX graph run by ONNX Runtime behind OnnxTransformer.</summary>
    TeacherInt8,
    /// <summary>FastTree 20 trees × 8 leaves distilled from the teacher: native ML.NET.</summary>
    Student,
    /// <summary>The distilled student with INT8 leaves: ONNX, as the teacher's INT8 variant.</summary>
    StudentInt8,
}

/// <summary>One e-mail of data/spam.csv: the label and 57 numeric features.</summary>
public sealed class Email
{
    [LoadColumn(0)] public string Label { get; set; } = "";
    [LoadColumn(1, 57), VectorType(57)] public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>A binary prediction.</summary>
public sealed class Prediction
{
    public bool PredictedLabel { get; set; }
    public float Score { get; set; }
    public float Probability { get; set; }
}

/// <summary>Trains the spam teacher and makes the requested variant (each benchmark process builds its own).</summary>
public static class SpamModels
{
    public static (MLContext Ml, ITransformer Model, IDataView Test, DataViewSchema RawSchema, List<Email> Rows) Build(TreeModel which)
    {
        var ml = new MLContext(seed: 1);
        ml.Compression(); // registers the output mappings of compressed models
        var raw = ml.Data.LoadFromTextFile<Email>(BenchmarkData.Path("spam.csv"), hasHeader: true, separatorChar: ',');
        // The label is mapped in the pipeline, so that PredictionEngine rows are the CSV's own.
        var label = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label");
        var split = ml.Data.TrainTestSplit(raw, testFraction: 0.3, seed: 7);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
        var teacher = label.Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 500, numberOfLeaves: 20)).Fit(train);
        var int8 = new QuantizationOptions { Precision = Precision.Int8 };
        var student = label.Append(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 8));
        ITransformer model = which switch
        {
            TreeModel.Teacher => teacher,
            TreeModel.TeacherInt8 => ml.Compression().Quantize(teacher, int8).Fit(train),
            TreeModel.Student => ml.Compression().Distill(teacher, student).Fit(train),
            TreeModel.StudentInt8 => ml.Compression().Distill(teacher, student).Append(ml.Compression().Quantize(int8)).Fit(train),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        var rows = ml.Data.CreateEnumerable<Email>(test, reuseRowObject: false).ToList();
        return (ml, model, test, raw.Schema, rows);
    }
}
