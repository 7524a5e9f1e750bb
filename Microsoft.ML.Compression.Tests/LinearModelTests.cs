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
        // The INT8 grid: every weight an integer multiple (within float rounding) of one scale, the largest |w| / 127.
        var weights = TestData.LinearWeights(compressed.Transformers);
        float scale = weights.Max(Math.Abs) / 127;
        Assert.IsTrue(weights.All(w => Math.Abs(w / scale - Math.Round(w / scale)) < 1e-3), string.Join(", ", weights.Select(w => w / scale)));
        Assert.IsFalse(TestData.LinearWeights(_teacher).All(w => Math.Abs(w / scale - Math.Round(w / scale)) < 1e-3), "the teacher's weights were not on it");
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
