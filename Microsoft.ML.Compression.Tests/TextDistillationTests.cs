using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Distillation between text pipelines: teacher and student each featurize the raw mail text their own way.</summary>
[TestClass]
public sealed class TextDistillationTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    /// <summary>data/spamassassin_3000.csv with a Boolean label (spam = true): raw subject and body text.</summary>
    private static IDataView Mails()
    {
        var raw = _ml.Data.LoadFromTextFile(TestData.Path("spamassassin_3000.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true, ReadMultilines = true,
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("subject", DataKind.String, 1), new TextLoader.Column("body", DataKind.String, 2) },
        });
        return _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["ham"] = false }, "Label").Fit(raw).Transform(raw);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void TextTeacherDistillsIntoASmallerTextStudentWithItsOwnVocabularyAndUnlabeledMails()
    {
        var mails = TestData.Sample(_ml, Mails(), 0.4);
        var parts = _ml.Data.TrainTestSplit(mails, 0.5, seed: 3);
        var (train, rest) = (_ml.Data.Cache(parts.TrainSet), _ml.Data.TrainTestSplit(parts.TestSet, 0.5, seed: 3));
        var test = _ml.Data.Cache(rest.TestSet);
        var unlabeled = _ml.Data.Cache(TestData.DropLabel(_ml, rest.TrainSet));

        // Teacher: word 1–2-grams and character 3-grams of subject and body, a 100-tree FastTree.
        var teacher = _ml.Transforms.Text.FeaturizeText("Features", new TextFeaturizingEstimator.Options
            {
                WordFeatureExtractor = new WordBagEstimator.Options { NgramLength = 2 },
                CharFeatureExtractor = new WordBagEstimator.Options { NgramLength = 3 },
            }, "subject", "body")
            .Append(_ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 16, numberOfTrees: 100))
            .Fit(train);
        // Student: word unigrams of the body alone and a linear model: a different featurization of the same raw columns.
        var student = _ml.Transforms.Text.FeaturizeText("Words", new TextFeaturizingEstimator.Options
            {
                WordFeatureExtractor = new WordBagEstimator.Options { NgramLength = 1 }, CharFeatureExtractor = null,
            }, "body")
            .Append(_ml.BinaryClassification.Trainers.SdcaLogisticRegression(new Microsoft.ML.Trainers.SdcaLogisticRegressionBinaryTrainer.Options
            {
                FeatureColumnName = "Words", ExampleWeightColumnName = "Weight", NumberOfThreads = 1, // one thread: SDCA is then deterministic
            }));

        using var distilled = _ml.Compression().Distill(teacher, student, new DistillationOptions { UnlabeledData = unlabeled })
            .WithEvaluationData(test).Fit(train);
        var row = distilled.Report.Stages[1];
        Console.WriteLine(distilled.Report);
        StringAssert.Contains(row.Description, "from UnlabeledData");
        Assert.IsTrue(row.EvaluationAgreement > 0.9, $"agreement {row.EvaluationAgreement}");
        double teacherAuc = _ml.BinaryClassification.Evaluate(teacher.Transform(test)).AreaUnderRocCurve;
        double auc = _ml.BinaryClassification.Evaluate(distilled.Transform(test)).AreaUnderRocCurve;
        Assert.AreEqual(row.EvaluationMetric!.Value, auc, 1e-9);
        Assert.IsTrue(auc > teacherAuc - 0.03, $"student {auc:F4}, teacher {teacherAuc:F4}");
        Assert.IsNotNull(row.BaselineEvaluationMetric, "labels-only baseline of the same text student");

        // The student reads the raw text: a PredictionEngine on a mail the model never saw.
        var engine = _ml.Model.CreatePredictionEngine<Mail, Prediction>(distilled);
        var prediction = engine.Predict(new Mail { subject = "Cash in on your home equity", body = "Refinance now at the lowest rates! Click here to apply, limited offer, act now." });
        Assert.IsTrue(prediction.Probability is > 0 and < 1);
        Assert.IsTrue(distilled.Report.Final.ZipBytes < distilled.Report.Stages[0].ZipBytes, distilled.Report.ToString());
    }

    private sealed class Mail
    {
        public bool Label { get; set; }
        public string subject { get; set; } = "";
        public string body { get; set; } = "";
    }

    private sealed class Prediction
    {
        public bool PredictedLabel { get; set; }
        public float Probability { get; set; }
    }
}
