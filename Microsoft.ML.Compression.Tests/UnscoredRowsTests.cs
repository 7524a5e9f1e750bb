using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// A linear teacher scores a row with a missing feature value NaN: such rows teach nothing. They are left out of
/// the transfer set and counted in the report; a teacher that scores no row at all is refused.
/// </summary>
[TestClass]
public sealed class UnscoredRowsTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    private sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public bool Label { get; set; }
        public float Target { get; set; }
    }

    /// <summary>Spam rows; every <paramref name="every"/>-th one with its 4th feature missing.</summary>
    private static IDataView WithMissing(int every)
    {
        var spam = TestData.SpamBool(_ml);
        var rows = spam.GetColumn<float[]>("Features").Zip(spam.GetColumn<bool>("Label")).Select((p, i) =>
        {
            var f = (float[])p.First.Clone();
            if (i % every == 0) f[3] = float.NaN;
            return new Row { Features = f, Label = p.Second, Target = p.Second ? 1 : 0 };
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(Row));
        schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 57);
        return _ml.Data.Cache(_ml.Data.LoadFromEnumerable(rows, schema));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void RowsTheTeacherScoresNaNAreLeftOutAndCounted()
    {
        var data = WithMissing(10);
        var teacher = _ml.BinaryClassification.Trainers.SdcaLogisticRegression(maximumNumberOfIterations: 20).Fit(data);
        int nan = teacher.Transform(data).GetColumn<float>("Probability").Count(float.IsNaN);
        Assert.IsTrue(nan > 0, "the linear teacher scores rows with a missing value NaN");
        foreach (var student in new IEstimator<ITransformer>[]
        {
            _ml.BinaryClassification.Trainers.FastTree(exampleWeightColumnName: "Weight", numberOfTrees: 10), // weighted rows
            _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 10), // copies
        })
        {
            using var distilled = _ml.Compression().Distill(teacher, student, new DistillationOptions { Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } }).Fit(data);
            var row = distilled.Report.Stages[1];
            StringAssert.Contains(row.Description, $"({nan} left out: the teacher scored them NaN");
            Assert.IsTrue(row.Agreement > 0.85, $"agreement {row.Agreement}");
        }
        // The same for logit regression (one regression target per scored row).
        var logit = new DistillationOptions { BinaryTargets = BinaryTargets.LogitRegression, RegressionStudent = _ml.Regression.Trainers.FastTree(numberOfTrees: 10), Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } };
        using var regressed = _ml.Compression().Distill(teacher, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 10), logit).Fit(data);
        StringAssert.Contains(regressed.Report.Stages[1].Description, $"({nan} left out");
    }

    [TestMethod]
    public void RegressionRowsTheTeacherScoresNaNAreLeftOut()
    {
        var spam = WithMissing(10);
        var data = _ml.Transforms.CopyColumns("Label", "Target").Fit(spam).Transform(spam); // a Single label
        data = _ml.Transforms.DropColumns("Target").Fit(data).Transform(data);
        var teacher = _ml.Regression.Trainers.Sdca(maximumNumberOfIterations: 20).Fit(data);
        int nan = teacher.Transform(data).GetColumn<float>("Score").Count(float.IsNaN);
        using var distilled = _ml.Compression().Distill(teacher, _ml.Regression.Trainers.FastTree(numberOfTrees: 10), new DistillationOptions { Selection = { ChooseOnValidation = false, TrainLabelOnlyBaseline = false } }).Fit(data);
        StringAssert.Contains(distilled.Report.Stages[1].Description, $"({nan} left out: the teacher scored them NaN or infinite");
        Assert.IsTrue(distilled.Transform(data).GetColumn<float>("Score").All(float.IsFinite), "the tree student scores every row");
    }

    [TestMethod]
    public void ATeacherThatScoresNoRowIsRefusedWithWhatToDo()
    {
        var data = WithMissing(1);
        var teacher = _ml.BinaryClassification.Trainers.SdcaLogisticRegression(maximumNumberOfIterations: 5).Fit(WithMissing(10));
        var e = Assert.ThrowsExactly<DataMismatchException>(() => _ml.Compression().Distill(teacher, _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5)).Fit(data));
        StringAssert.Contains(e.Message, "ReplaceMissingValues");
    }
}
