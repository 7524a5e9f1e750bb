using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Multiclass data whose label was mapped to a key before Fit (teacher and student are bare trainers): the student
/// learns in the data's own key numbering, and the teacher's classes are matched to the keys by value.
/// </summary>
[TestClass]
public sealed class KeyedLabelDistillationTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static string LetterModel => TestData.Network("letter_mlp");
    private static readonly object[] SortedLetters = Enumerable.Range('A', 26).Select(c => (object)((char)c).ToString()).ToArray();

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        // Keys numbered by occurrence (ML.NET's default): not the alphabetical order a network was trained in.
        var raw = TestData.Head(_ml, TestData.Letter(_ml), 2000);
        var keyed = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        (_train, _test) = TestData.Split(_ml, keyed);
    }

    private static LightGbmMulticlassTrainer Student(int iterations, string? weight = "Weight") => _ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
    {
        NumberOfIterations = iterations, NumberOfLeaves = 8, NumberOfThreads = 1, MinimumExampleCountPerLeaf = 5, ExampleWeightColumnName = weight,
    });

    private static string[] LabelValues(IDataView data, string column)
        => _ml.Transforms.Conversion.MapKeyToValue("Value", column).Fit(data).Transform(data)
            .GetColumn<ReadOnlyMemory<char>>("Value").Select(v => v.ToString()).ToArray();

    private static string[] KeyValues(IDataView data)
    {
        VBuffer<ReadOnlyMemory<char>> values = default;
        data.Schema["Label"].GetKeyValues(ref values);
        return values.DenseValues().Select(v => v.ToString()).ToArray();
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void AnMlNetTeacherOnKeyedLabelsDistilsIntoABareStudentThatMlNetEvaluates()
    {
        var teacher = Student(40, weight: null).Fit(_train);
        foreach (var alpha in new[] { 1.0, 0.5 })
        {
            using var distilled = _ml.Compression().Distill(teacher, Student(15), new DistillationOptions { Alpha = alpha })
                .WithEvaluationData(_test).Fit(_train);
            var scored = distilled.Transform(_test);
            Assert.AreEqual(_test.Schema["Label"].Type, scored.Schema["PredictedLabel"].Type, "the student predicts in the data's key type");
            var metrics = _ml.MulticlassClassification.Evaluate(scored);
            var row = distilled.Report.Stages[1];
            Console.WriteLine($"alpha {alpha}: accuracy {metrics.MicroAccuracy:F4}, agreement {row.EvaluationAgreement:F4}");
            Assert.IsTrue(metrics.MicroAccuracy > 0.6, $"accuracy {metrics.MicroAccuracy}");
            Assert.IsTrue(row.EvaluationAgreement > 0.7, $"agreement {row.EvaluationAgreement}");
            // The student's predicted key means the same letter as the teacher's: agreement measured by value.
            var teacherLetters = LabelValues(teacher.Transform(_test), "PredictedLabel");
            var studentLetters = LabelValues(scored, "PredictedLabel");
            double agree = teacherLetters.Zip(studentLetters).Count(p => p.First == p.Second) / (double)teacherLetters.Length;
            Assert.AreEqual(agree, row.EvaluationAgreement!.Value, 1e-9);
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void ANetworkTeacherOnKeyedLabelsIsMatchedToTheKeysByValueNotByKeyNumber()
    {
        CollectionAssert.AreNotEqual(SortedLetters.Select(v => v.ToString()).ToArray(), KeyValues(_train), "the data's keys are not in alphabetical order");
        var options = new DistillationOptions { NetworkTeacher = new NetworkTeacher { ClassValues = SortedLetters }, Selection = { TrainLabelOnlyBaseline = false } };
        using var given = _ml.Compression().Distill(LetterModel, Student(20), options).WithEvaluationData(_test).Fit(_train);
        using var sorted = _ml.Compression().Distill(LetterModel, Student(20), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).Fit(_train);
        double accuracy = _ml.MulticlassClassification.Evaluate(given.Transform(_test)).MicroAccuracy;
        Console.WriteLine($"letter_mlp → LightGBM on keyed labels: accuracy {accuracy:F4}, agreement {given.Report.Stages[1].EvaluationAgreement:F4}");
        // Matched by key number (occurrence order), the network's outputs would name the wrong letters: accuracy near chance.
        Assert.IsTrue(accuracy > 0.6, $"accuracy {accuracy}");
        // Without ClassValues the key values are read sorted, as any label's values: the same classes as given.
        CollectionAssert.AreEqual(LabelValues(given.Transform(_test), "PredictedLabel"), LabelValues(sorted.Transform(_test), "PredictedLabel"));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PerClassRegressionOnKeyedLabelsKeepsTheKeyTypeAndSavesAndLoads()
    {
        var teacher = Student(30, weight: null).Fit(_train);
        var options = new DistillationOptions
        {
            MulticlassTargets = MulticlassTargets.PerClassRegression,
            RegressionStudent = _ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options { NumberOfIterations = 8, NumberOfLeaves = 8, NumberOfThreads = 1 }), Selection = { TrainLabelOnlyBaseline = false },
        };
        using var distilled = _ml.Compression().Distill(teacher, Student(8), options).WithEvaluationData(_test).Fit(_train);
        var scored = distilled.Transform(_test);
        Assert.AreEqual(_test.Schema["Label"].Type, scored.Schema["PredictedLabel"].Type);
        double accuracy = _ml.MulticlassClassification.Evaluate(scored).MicroAccuracy;
        Assert.IsTrue(accuracy > 0.5, $"accuracy {accuracy}");
        using var zip = new MemoryStream();
        _ml.Model.Save(distilled, _train.Schema, zip);
        zip.Position = 0;
        var loaded = _ml.Model.Load(zip, out _);
        CollectionAssert.AreEqual(LabelValues(scored, "PredictedLabel"), LabelValues(loaded.Transform(_test), "PredictedLabel"));
    }

    [TestMethod]
    public void ATeacherClassMissingFromTheKeyValuesIsRefusedBeforeTraining()
    {
        var classes = SortedLetters.ToArray();
        classes[25] = "?";
        var options = new DistillationOptions { NetworkTeacher = new NetworkTeacher { ClassValues = classes } };
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Distill(LetterModel, Student(5), options).Fit(_train));
        StringAssert.Contains(e.Message, "'?'");
        StringAssert.Contains(e.Message, "MapValueToKey");
    }
}
