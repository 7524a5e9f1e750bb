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
        // A native ML.NET linear model stores float32 weights: the report says so, and that they sit on the INT8 grid.
        Assert.AreEqual(32.0, compressed.Report.Final.BitsPerWeight!.Value, 0.01);
        StringAssert.Contains(compressed.Report.Final.Description, "INT8 grid");
        using var onnx = _ml.Compression().Quantize(_teacher, new QuantizationOptions { Precision = Precision.Int8, Form = ModelForm.Onnx }).Fit(_train);
        Assert.IsTrue(onnx.Report.Final.BitsPerWeight < 9, $"bits/weight {onnx.Report.Final.BitsPerWeight}");
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
        using var compressed = _ml.Compression().Quantize(_teacher, new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(_train);
        StringAssert.Contains(compressed.Report.Final.Description, "weight-only");
        Assert.AreEqual(teacherAuc, _ml.BinaryClassification.Evaluate(compressed.Transform(_test)).AreaUnderRocCurve, 0.005);
    }
}
