using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Distillation from ONNX network teachers (spam_mlp, letter_mlp) into native ML.NET tree students.</summary>
[TestClass]
public sealed class NetworkTeacherTests
{
    private static MLContext _ml = null!;
    private static string SpamModel => TestData.Network("spam_mlp");
    private static string LetterModel => TestData.Network("letter_mlp");

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    private static IEstimator<ITransformer> ToBool => _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label");

    [TestCategory("Slow")]
    [TestMethod]
    public void SpamMlpFromAnOnnxTransformerDistillsIntoFastTree()
    {
        var split = _ml.Data.TrainTestSplit(TestData.Spam(_ml), 0.5, seed: 42);
        var (train, test) = (_ml.Data.Cache(split.TrainSet), _ml.Data.Cache(split.TestSet));
        var teacher = _ml.Transforms.ApplyOnnxModel(SpamModel).Fit(train);
        var student = ToBool.Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 50, numberOfLeaves: 16));
        using var distilled = _ml.Compression().Distill(teacher, student).WithEvaluationData(test).Fit(train);

        var row = distilled.Report.Stages[1];
        Console.WriteLine(distilled.Report);
        Assert.AreEqual(ModelTask.BinaryClassification, distilled.Report.Task);
        Assert.IsNull(distilled.OnnxModel, "the student stays a native ML.NET model");
        Assert.IsNotNull(row.EvaluationAgreement);
        Assert.IsTrue(row.EvaluationAgreement > 0.9, $"agreement {row.EvaluationAgreement}");
        StringAssert.Contains(distilled.Report.Stages[0].Description, "2 logits");

        // Agreement measured by hand: the teacher predicts spam when logit 1 > logit 0.
        var logits = teacher.Transform(test).GetColumn<float[]>("Score").ToArray();
        var predicted = distilled.Transform(test).GetColumn<bool>("PredictedLabel").ToArray();
        double agree = logits.Zip(predicted).Count(p => (p.First[1] > p.First[0]) == p.Second) / (double)predicted.Length;
        Assert.AreEqual(agree, row.EvaluationAgreement!.Value, 1e-9);
        double auc = _ml.BinaryClassification.Evaluate(distilled.Transform(test)).AreaUnderRocCurve;
        Console.WriteLine($"spam_mlp → FastTree 50: agreement {agree:F4}, student AUC {auc:F4}");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void SpamMlpFromAPathWithExplicitOutputAndClassValuesSavesAndLoads()
    {
        var (train, test) = TestData.Split(_ml, TestData.Spam(_ml));
        var student = ToBool.Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20));
        var options = new DistillationOptions { NetworkTeacher = new NetworkTeacher { OutputColumn = "Score", ClassValues = new[] { "nonspam", "spam" } }, Selection = { TrainLabelOnlyBaseline = false } };
        using var distilled = _ml.Compression().Distill(SpamModel, student, options).WithEvaluationData(test).Fit(train);
        Assert.IsTrue(distilled.Report.Stages[1].EvaluationAgreement > 0.9, $"agreement {distilled.Report.Stages[1].EvaluationAgreement}");
        // Saved and loaded like any ML.NET model.
        using var zip = new MemoryStream();
        _ml.Model.Save(distilled, train.Schema, zip);
        zip.Position = 0;
        var loaded = _ml.Model.Load(zip, out _);
        CollectionAssert.AreEqual(distilled.Transform(test).GetColumn<bool>("PredictedLabel").ToArray(), loaded.Transform(test).GetColumn<bool>("PredictedLabel").ToArray());
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void LetterMlpDistillsIntoLightGbmMulticlass()
    {
        var (train, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var student = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
            {
                NumberOfIterations = 60, NumberOfLeaves = 16, NumberOfThreads = 1, ExampleWeightColumnName = "Weight",
            }));
        using var distilled = _ml.Compression().Distill(LetterModel, student, new DistillationOptions { Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } })
            .WithEvaluationData(test).Fit(train);
        var row = distilled.Report.Stages[1];
        Console.WriteLine(distilled.Report);
        Assert.AreEqual(ModelTask.MulticlassClassification, distilled.Report.Task);
        StringAssert.Contains(distilled.Report.Stages[0].Description, "classes A, B, C");
        Assert.IsTrue(row.EvaluationAgreement > 0.8, $"agreement {row.EvaluationAgreement}");
        Assert.IsNotNull(row.EvaluationKlDivergence);
        double acc = _ml.MulticlassClassification.Evaluate(distilled.Transform(test)).MicroAccuracy;
        Console.WriteLine($"letter_mlp → LightGbm 60: agreement {row.EvaluationAgreement:F4}, accuracy {acc:F4}");
        Assert.IsTrue(acc > 0.75, $"accuracy {acc}");
    }

    [TestMethod]
    public void NetworkTeacherWithTheWrongNumberOfClassesIsRefused()
    {
        var (train, _) = TestData.Split(_ml, TestData.Letter(_ml));
        var student = _ml.Transforms.Conversion.MapValueToKey("Label").Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfIterations: 5));
        var options = new DistillationOptions { NetworkTeacher = new NetworkTeacher { ClassValues = new[] { "A", "B" } } };
        Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Distill(LetterModel, student, options).Fit(train));
        var regression = _ml.Regression.Trainers.Sdca();
        Assert.ThrowsExactly<UnsupportedModelException>(() => _ml.Compression().Distill(LetterModel, regression).Fit(train));
    }
}
