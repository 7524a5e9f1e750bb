using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

[TestClass]
public sealed class LinearModelTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        _teacher = _ml.Transforms.NormalizeMeanVariance("Features")
            .Append(_ml.BinaryClassification.Trainers.SdcaLogisticRegression())
            .Fit(_train);
    }

    [TestMethod]
    public void Int8WeightOnlyLinearModelKeepsAucWithinHalfAPoint()
    {
        var teacherAuc = _ml.BinaryClassification.Evaluate(_teacher.Transform(_test)).AreaUnderRocCurve;
        using var compressed = _ml.Compression().Quantize(_teacher, new QuantizationOptions { Precision = Precision.Int8 }).Fit(_train);
        var metrics = _ml.BinaryClassification.Evaluate(compressed.Transform(_test));
        Assert.AreEqual(teacherAuc, metrics.AreaUnderRocCurve, 0.005);
        Assert.IsTrue(compressed.Report.Final.BitsPerWeight < 9, $"bits/weight {compressed.Report.Final.BitsPerWeight}");
    }

    [TestMethod]
    public void QuantizedModelOutputsTheColumnTypesBinaryEvaluatorsNeed()
    {
        using var compressed = _ml.Compression().Quantize(_teacher).Fit(_train);
        var schema = compressed.Transform(_test).Schema;
        Assert.AreEqual(NumberDataViewType.Single, schema["Score"].Type);
        Assert.AreEqual(NumberDataViewType.Single, schema["Probability"].Type);
        Assert.AreEqual(BooleanDataViewType.Instance, schema["PredictedLabel"].Type);
        Assert.IsNull(schema.GetColumnOrNull("CompressedScore"));
    }

    [TestMethod]
    public void StaticModeOnALinearModelFallsBackToWeightOnlyAndSaysSo()
    {
        var teacherAuc = _ml.BinaryClassification.Evaluate(_teacher.Transform(_test)).AreaUnderRocCurve;
        using var compressed = _ml.Compression().Quantize(_teacher, new QuantizationOptions { Mode = QuantizationMode.Static }).Fit(_train);
        StringAssert.Contains(compressed.Report.Final.Description, "weight-only");
        Assert.AreEqual(teacherAuc, _ml.BinaryClassification.Evaluate(compressed.Transform(_test)).AreaUnderRocCurve, 0.005);
    }
}
