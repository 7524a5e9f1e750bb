using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Distillation accepts every kind of ML.NET trainer as the student: boosted and bagged trees, GAMs and linear
/// models, with or without an example-weight column (without one the soft targets arrive as proportional copies).
/// </summary>
[TestClass]
public sealed class StudentTrainerTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;
    private static double _teacherAuc;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        _teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 200, numberOfLeaves: 16).Fit(_train);
        _teacherAuc = _ml.BinaryClassification.Evaluate(_teacher.Transform(_test)).AreaUnderRocCurve;
    }

    private static IEnumerable<object[]> BinaryStudents() => new[]
    {
        new object[] { "GAM (copies)" }, new object[] { "FastForest (weights)" }, new object[] { "SDCA logistic (weights)" },
        new object[] { "L-BFGS logistic (copies)" }, new object[] { "averaged perceptron (copies)" }, new object[] { "linear SVM (copies)" },
    };

    private static IEstimator<ITransformer> Student(string name) => name switch
    {
        "GAM (copies)" => _ml.BinaryClassification.Trainers.Gam(numberOfIterations: 200),
        "FastForest (weights)" => _ml.BinaryClassification.Trainers.FastForest(exampleWeightColumnName: "Weight", numberOfTrees: 20),
        // Linear students want scaled features: the normalizer is part of the student chain, as in any ML.NET pipeline.
        "SDCA logistic (weights)" => _ml.Transforms.NormalizeMeanVariance("Features")
            .Append(_ml.BinaryClassification.Trainers.SdcaLogisticRegression(exampleWeightColumnName: "Weight", maximumNumberOfIterations: 30)),
        "L-BFGS logistic (copies)" => _ml.Transforms.NormalizeMeanVariance("Features").Append(_ml.BinaryClassification.Trainers.LbfgsLogisticRegression()),
        "averaged perceptron (copies)" => _ml.Transforms.NormalizeMeanVariance("Features").Append(_ml.BinaryClassification.Trainers.AveragedPerceptron()),
        "linear SVM (copies)" => _ml.Transforms.NormalizeMeanVariance("Features").Append(_ml.BinaryClassification.Trainers.LinearSvm()),
        _ => throw new ArgumentException(name),
    };

    // data/spam.csv keeps Spambase's order, all spam rows first: the online learners (SDCA, perceptron, linear SVM)
    // pin that the transfer set reaches them shuffled (read in file order, the SVM scored AUC 0.39 and the perceptron 0.90).
    [TestMethod]
    [TestCategory("Slow")] // six student kinds, 1–2 s each: 8 s of the fast tier's minute
    [DynamicData(nameof(BinaryStudents))]
    public void EveryBinaryTrainerKindLearnsTheTeachersSoftTargets(string student)
    {
        using var distilled = _ml.Compression().Distill(_teacher, Student(student), new DistillationOptions { Selection = { ChooseOnValidation = false } }).WithEvaluationData(_test).Fit(_train);
        var row = distilled.Report.Stages[1];
        double auc = Auc(distilled.Transform(_test));
        Console.WriteLine($"{student}: teacher {_teacherAuc:F4}, distilled {auc:F4}, labels only {row.BaselineEvaluationMetric:F4}, agreement (test) {row.EvaluationAgreement:F4}; {row.Description}");
        StringAssert.Contains(row.Description, student.EndsWith("(weights)") ? "weighted rows" : "copies");
        // Each kind learns what it can: it must stay close to the same trainer fitted on the labels (the report's baseline) and mostly agree with the teacher.
        Assert.IsNotNull(row.BaselineEvaluationMetric, "the labels-only student of the same kind is reported beside it");
        Assert.IsTrue(auc > row.BaselineEvaluationMetric!.Value - 0.02, $"{student}: distilled {auc}, labels only {row.BaselineEvaluationMetric}");
        Assert.IsTrue(auc > 0.85 && row.EvaluationAgreement > 0.8, $"{student}: AUC {auc}, agreement {row.EvaluationAgreement}");
    }

    // FastForest and the perceptron have no calibrator, so no Probability column: ML.NET evaluates them without one.
    private static double Auc(IDataView scored) => scored.Schema.GetColumnOrNull("Probability") != null
        ? _ml.BinaryClassification.Evaluate(scored).AreaUnderRocCurve
        : _ml.BinaryClassification.EvaluateNonCalibrated(scored).AreaUnderRocCurve;

    [TestMethod]
    public void AGamStudentWithAWeightColumnIsRejectedBeforeTrainingBecauseMlNetsGamThenLearnsAConstant()
    {
        var gam = _ml.BinaryClassification.Trainers.Gam(exampleWeightColumnName: "Weight");
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_teacher, gam));
        StringAssert.Contains(e.Message, "without exampleWeightColumnName");
        Assert.ThrowsExactly<ArgumentException>(() => _ml.Compression().Distill(_teacher, _ml.Regression.Trainers.Gam(exampleWeightColumnName: "W")));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void RegressionGamAndFastForestStudentsFollowTheTeachersScore()
    {
        var (train, test) = TestData.Split(_ml, TestData.Cps(_ml));
        var featurize = _ml.Transforms.Categorical.OneHotEncoding(new[] { new InputOutputColumnPair("region"), new InputOutputColumnPair("parttime") })
            .Append(_ml.Transforms.Concatenate("Features", "education", "experience", "region", "parttime"));
        var teacher = featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 200, numberOfLeaves: 16)).Fit(train);
        double teacherRmse = _ml.Regression.Evaluate(teacher.Transform(test)).RootMeanSquaredError;
        foreach (var (name, trainer) in new (string, IEstimator<ITransformer>)[]
        {
            ("GAM", _ml.Regression.Trainers.Gam(numberOfIterations: 200)),
            ("FastForest", _ml.Regression.Trainers.FastForest(numberOfTrees: 20)),
        })
        {
            using var distilled = _ml.Compression().Distill(teacher, featurize.Append(trainer)).Fit(train);
            double rmse = _ml.Regression.Evaluate(distilled.Transform(test)).RootMeanSquaredError;
            Console.WriteLine($"cps1988 {name}: teacher RMSE {teacherRmse:F1}, distilled {rmse:F1}");
            Assert.IsTrue(rmse < teacherRmse * 1.1, $"{name}: teacher {teacherRmse}, distilled {rmse}");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MulticlassLinearAndOneVersusAllStudentsLearnTheTeachersDistribution()
    {
        var (all, test) = TestData.Split(_ml, TestData.Letter(_ml));
        var train = _ml.Data.TakeRows(all, 1500); // 26 classes: up to 26 weighted rows per row, keep the linear fits quick
        var toKey = _ml.Transforms.Conversion.MapValueToKey("Label");
        var teacher = toKey.Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfLeaves: 16, numberOfIterations: 100)).Fit(train);
        var scale = toKey.Append(_ml.Transforms.NormalizeMeanVariance("Features"));
        foreach (var (name, trainer) in new (string, IEstimator<ITransformer>)[]
        {
            ("L-BFGS maximum entropy (weights)", _ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(exampleWeightColumnName: "Weight")),
            ("SDCA maximum entropy (weights)", _ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(exampleWeightColumnName: "Weight", maximumNumberOfIterations: 20)),
            ("one-versus-all perceptron (copies)", _ml.MulticlassClassification.Trainers.OneVersusAll(_ml.BinaryClassification.Trainers.AveragedPerceptron())),
        })
        {
            using var distilled = _ml.Compression().Distill(teacher, scale.Append(trainer)).WithEvaluationData(test).Fit(train);
            var row = distilled.Report.Stages[1];
            double acc = _ml.MulticlassClassification.Evaluate(distilled.Transform(test)).MicroAccuracy;
            Console.WriteLine($"letter {name}: distilled {acc:F4}, labels only {row.BaselineEvaluationMetric:F4}, agreement (test) {row.EvaluationAgreement:F4}");
            Assert.IsNotNull(row.BaselineEvaluationMetric, name);
            Assert.IsTrue(acc > row.BaselineEvaluationMetric!.Value - 0.03, $"{name}: distilled {acc}, labels only {row.BaselineEvaluationMetric}");
        }
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void OnlineRegressionStudentsFollowTheTeachersScore()
    {
        var (train, test) = TestData.Split(_ml, TestData.Cps(_ml));
        var featurize = _ml.Transforms.Categorical.OneHotEncoding(new[] { new InputOutputColumnPair("region"), new InputOutputColumnPair("parttime") })
            .Append(_ml.Transforms.Concatenate("Features", "education", "experience", "region", "parttime"))
            .Append(_ml.Transforms.NormalizeMeanVariance("Features"));
        var teacher = featurize.Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 200, numberOfLeaves: 16)).Fit(train);
        foreach (var (name, trainer) in new (string, IEstimator<ITransformer>)[]
        {
            ("SDCA", _ml.Regression.Trainers.Sdca(maximumNumberOfIterations: 30)),
            ("online gradient descent", _ml.Regression.Trainers.OnlineGradientDescent()),
        })
        {
            using var distilled = _ml.Compression().Distill(teacher, featurize.Append(trainer)).WithEvaluationData(test).Fit(train);
            var row = distilled.Report.Stages[1];
            double rmse = _ml.Regression.Evaluate(distilled.Transform(test)).RootMeanSquaredError;
            Console.WriteLine($"cps1988 {name}: distilled RMSE {rmse:F1}, labels only {row.BaselineEvaluationMetric:F1}");
            Assert.IsTrue(rmse < row.BaselineEvaluationMetric!.Value * 1.05, $"{name}: distilled {rmse}, labels only {row.BaselineEvaluationMetric}");
        }
    }
}
