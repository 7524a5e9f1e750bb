using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Transforms.Text;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// A Transformer network (spam_transformer, token ids in) teaches a tree student that reads the same token ids
/// through its own featurization (a bag of token n-grams), with unlabeled e-mails as extra transfer rows.
/// </summary>
[TestClass]
public sealed class TransformerTeacherTests
{
    private static readonly MLContext _ml = new(seed: 1);

    private static IDataView Tokens(string file)
    {
        var raw = TestData.SpamTokens(_ml, file);
        return _ml.Data.Cache(_ml.Transforms.Conversion.ConvertType("Label", outputKind: DataKind.Boolean).Fit(raw).Transform(raw));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void ATransformerTeachesATreeStudentOverABagOfTokenNgramsBetterThanItsLabels()
    {
        var train = Tokens("spamassassin_tokens_calib_512.csv");
        var test = Tokens("spamassassin_tokens_test_1000.csv");
        var extra = Tokens("spamassassin_tokens_transfer_2000.csv");
        var unlabeled = _ml.Transforms.DropColumns("Label").Fit(extra).Transform(_ml.Data.TakeRows(extra, 800));
        var student = _ml.Transforms.Conversion.MapValueToKey("Tokens", "Features")
            .Append(_ml.Transforms.Text.ProduceNgrams("Bag", "Tokens", ngramLength: 2, useAllLengths: true, maximumNgramsCount: 4000, weighting: NgramExtractingEstimator.WeightingCriteria.Tf))
            .Append(_ml.Transforms.NormalizeLpNorm("Bag"))
            .Append(_ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options
            {
                FeatureColumnName = "Bag", ExampleWeightColumnName = "Weight", NumberOfTrees = 20, NumberOfLeaves = 16, NumberOfThreads = 1,
            }));
        using var distilled = _ml.Compression().Distill(TestData.Network("spam_transformer"), student, new DistillationOptions { UnlabeledData = unlabeled, Selection = { ChooseOnValidation = false } })
            .WithEvaluationData(test).Fit(train);
        var (teacherRow, row) = (distilled.Report.Stages[0], distilled.Report.Stages[1]);
        Console.WriteLine(distilled.Report);
        StringAssert.Contains(teacherRow.Description, "2 logits");
        StringAssert.Contains(row.Description, "512 training rows + 800 from UnlabeledData");
        Assert.IsTrue(row.EvaluationAgreement > 0.9, $"agreement {row.EvaluationAgreement}");
        Assert.IsTrue(row.EvaluationMetric > row.BaselineEvaluationMetric, $"distilled AUC {row.EvaluationMetric} vs labels only {row.BaselineEvaluationMetric}");
        Assert.IsTrue(row.ZipBytes * 10 < teacherRow.ZipBytes, $"zip {row.ZipBytes} vs the Transformer's {teacherRow.ZipBytes}");
    }
}
