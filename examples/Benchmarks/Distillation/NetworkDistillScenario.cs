using System.Diagnostics;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;

namespace Benchmarks.Distillation;

/// <summary>(d) The ONNX MLP teachers (spam_mlp, letter_mlp) distilled into native ML.NET tree students: fidelity.</summary>
public static class NetworkDistillScenario
{
    private static string ModelPath(string name) => Settings.DataPath(Path.Combine("models", name + ".onnx"));

    public static ScenarioResult Spam(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromTextFile(Settings.DataPath("spam.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' },
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 57) },
        });
        var data = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label").Fit(raw).Transform(raw);
        var split = ml.Data.TrainTestSplit(data, 0.5, seed: 42);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
        int trees = s.Quick ? 20 : 50;
        FastTreeBinaryTrainer Student() => ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options { NumberOfTrees = trees, NumberOfLeaves = 16, NumberOfThreads = 1 });
        var labelsOnly = Student().Fit(train);
        var sw = Stopwatch.StartNew();
        using var distilled = ml.Compression().Distill(ModelPath("spam_mlp"), Student(), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).WithEvaluationData(test).Fit(train);
        double seconds = sw.Elapsed.TotalSeconds;
        int factor = s.Quick ? 2 : 10;
        using var munged = ml.Compression().Distill(ModelPath("spam_mlp"), Student(), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false }, Augmentation = { Factor = factor } })
            .WithEvaluationData(test).Fit(train);
        double Auc(ITransformer m) => ml.BinaryClassification.Evaluate(m.Transform(test)).AreaUnderRocCurve;
        var teacherRow = distilled.Report.Stages[0];
        var result = new ScenarioResult
        {
            Name = $"Distillation: ONNX spam_mlp teacher → FastTree {trees} trees × 16 leaves",
            Description = $"data/models/spam_mlp.onnx (57→64→32→2 MLP, logits) read as a binary teacher (logit 1 − logit 0); data/spam.csv split in halves (seed 42): distilled on one half, measured on the other. "
                + $"Students: FastTree {trees} trees × 16 leaves on the labels alone, distilled ({seconds:F1} s; 4 proportional copies per row) and distilled with MUNGE ({factor} synthetic rows per row). The student is a native ML.NET model.",
            Variants = new[] { "MLP teacher", "labels only", "distilled", "distilled + MUNGE" },
        };
        result.Add("AUC (test)", "AUC", true, "F4", teacherRow.EvaluationMetric, Auc(labelsOnly), Auc(distilled), Auc(munged));
        result.Add("agreement with teacher (test)", "fraction", true, "F4", 1.0, LabelsOnlyAgreement(ml, labelsOnly, test),
            distilled.Report.Stages[1].EvaluationAgreement, munged.Report.Stages[1].EvaluationAgreement);
        result.Add("probability MSE vs teacher (test)", "", false, "F4", 0, null, distilled.Report.Stages[1].EvaluationScoreMse, munged.Report.Stages[1].EvaluationScoreMse);
        result.Add("saved zip", "bytes", false, "F0", teacherRow.ZipBytes, null, distilled.Report.Stages[1].ZipBytes, munged.Report.Stages[1].ZipBytes);
        return result;
    }

    /// <summary>How often a model predicts what the MLP predicts (logit 1 &gt; logit 0).</summary>
    private static double LabelsOnlyAgreement(MLContext ml, ITransformer model, IDataView test)
    {
        var logits = ml.Transforms.ApplyOnnxModel(ModelPath("spam_mlp")).Fit(test).Transform(test).GetColumn<float[]>("Score").ToArray();
        var predicted = model.Transform(test).GetColumn<bool>("PredictedLabel").ToArray();
        return logits.Zip(predicted).Count(p => (p.First[1] > p.First[0]) == p.Second) / (double)predicted.Length;
    }

    public static ScenarioResult Letter(Settings s)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromTextFile(Settings.DataPath("letter.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' },
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 16) },
        });
        var split = ml.Data.TrainTestSplit(data, 0.3, seed: 42);
        IDataView train = ml.Data.Cache(split.TrainSet), test = ml.Data.Cache(split.TestSet);
        int rounds = s.Quick ? 10 : 40;
        IEstimator<ITransformer> Student(string? weight) => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
            {
                NumberOfIterations = rounds, NumberOfLeaves = 16, LearningRate = 0.2, MinimumExampleCountPerLeaf = 5, NumberOfThreads = 1, Seed = 1, ExampleWeightColumnName = weight,
            }));
        var labelsOnly = Student(null).Fit(train);
        using var distilled = ml.Compression().Distill(ModelPath("letter_mlp"), Student("Weight"), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).WithEvaluationData(test).Fit(train);
        int factor = s.Quick ? 1 : 3;
        using var munged = ml.Compression().Distill(ModelPath("letter_mlp"), Student("Weight"), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false }, Augmentation = { Factor = factor, SampleSize = 3500 } })
            .WithEvaluationData(test).Fit(train);
        double Accuracy(ITransformer m) => ml.MulticlassClassification.Evaluate(m.Transform(test)).MicroAccuracy;
        // The MLP's accuracy: argmax of its logits against the letter (class k = k-th letter).
        var logits = ml.Transforms.ApplyOnnxModel(ModelPath("letter_mlp")).Fit(test).Transform(test).GetColumn<float[]>("Score").ToArray();
        var labels = test.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.Span[0] - 'A').ToArray();
        double teacherAccuracy = logits.Zip(labels).Count(p => Array.IndexOf(p.First, p.First.Max()) == p.Second) / (double)labels.Length;
        var result = new ScenarioResult
        {
            Name = $"Distillation: ONNX letter_mlp teacher → LightGBM {rounds} rounds × 16 leaves",
            Description = $"data/models/letter_mlp.onnx (16→128→64→26 MLP, logits, softmax applied by the library; classes A..Z taken from the data's sorted labels); data/letter.csv 70/30 split (seed 42). "
                + $"Students: LightGBM multiclass {rounds} rounds ({rounds * 26} trees) × 16 leaves on the labels alone, distilled (soft targets through a weight column) and with MUNGE ({factor} synthetic rows per row).",
            Variants = new[] { "MLP teacher", "labels only", "distilled", "distilled + MUNGE" },
        };
        result.Add("accuracy (test)", "fraction", true, "F4", teacherAccuracy, Accuracy(labelsOnly), Accuracy(distilled), Accuracy(munged));
        result.Add("agreement with teacher (test)", "fraction", true, "F4", 1.0, null, distilled.Report.Stages[1].EvaluationAgreement, munged.Report.Stages[1].EvaluationAgreement);
        result.Add("KL(teacher ‖ student) (test)", "nats", false, "F4", 0, null, distilled.Report.Stages[1].EvaluationKlDivergence, munged.Report.Stages[1].EvaluationKlDivergence);
        result.Add("saved zip", "bytes", false, "F0", distilled.Report.Stages[0].ZipBytes, null, distilled.Report.Stages[1].ZipBytes, munged.Report.Stages[1].ZipBytes);
        return result;
    }
}
