using Microsoft.ML;
using Microsoft.ML.Compression.Pipeline;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The estimator contract of ML.NET's own TestEstimatorCore, run on every stage × task: the shape promised before
/// Fit is the fitted model's, Transform scores every row, Save + Load in a fresh MLContext (without this library's
/// catalog) gives the same scores and columns, and the model that went in scores as it did before.
/// </summary>
[TestClass]
public sealed class EstimatorContractTests
{
    private static MLContext _ml = null!;
    private static IDataView _spam = null!, _cps = null!, _letter = null!;
    private static ITransformer _binaryTrees = null!, _binaryLinear = null!, _regressionTrees = null!, _multiclassTrees = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _spam = TestData.Head(_ml, TestData.SpamBool(_ml), 600);
        _cps = TestData.Head(_ml, TestData.Cps(_ml), 800);
        _letter = TestData.Head(_ml, TestData.Letter(_ml), 1000);
        _binaryTrees = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 8).Fit(_spam);
        _binaryLinear = _ml.BinaryClassification.Trainers.SdcaLogisticRegression(maximumNumberOfIterations: 10).Fit(_spam);
        _regressionTrees = CpsFeatures().Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 20, numberOfLeaves: 8)).Fit(_cps);
        _multiclassTrees = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfLeaves: 8, numberOfIterations: 5)).Fit(_letter);
    }

    private static IEstimator<ITransformer> CpsFeatures() => _ml.Transforms.Concatenate("Features", "education", "experience");

    private static string LetterMlp => TestData.Network("letter_mlp");

    /// <summary>Every score the model writes, flattened (vector scores slot by slot).</summary>
    private static float[] AllScores(IDataView scored)
    {
        var column = scored.Schema["Score"];
        return column.Type is VectorDataViewType
            ? scored.GetColumn<VBuffer<float>>(column).SelectMany(v => v.DenseValues()).ToArray()
            : scored.GetColumn<float>(column).ToArray();
    }

    private static long CountRows(IDataView data)
    {
        long n = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext()) n++;
        return n;
    }

    private static List<string> Columns(DataViewSchema schema) => schema.Select(c => $"{c.Name}:{c.Type}").ToList();

    private static List<string> Describe(SchemaShape shape)
        => shape.Select(c => $"{c.Name}:{c.Kind}:{c.ItemType.RawType.Name}:{c.IsKey}").OrderBy(s => s, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Fit, transform, save, load (fresh context), schema and score checks for one estimator. <paramref name="source"/>
    /// is the model that went in (null for an ONNX file), whose scores must not change.
    /// </summary>
    private static void AssertContract(IEstimator<CompressedModel> estimator, IDataView data, ITransformer? source, double tolerance)
    {
        var sourceBefore = source is null ? null : AllScores(source.Transform(data));
        var promised = estimator.GetOutputSchema(OutputShape.FromSchema(_ml, data.Schema));

        using var fitted = estimator.Fit(data);
        var scored = fitted.Transform(data);
        Assert.AreEqual(CountRows(data), CountRows(scored), "Transform keeps every row");
        CollectionAssert.AreEqual(Describe(OutputShape.FromSchema(_ml, scored.Schema)), Describe(promised), "GetOutputSchema before Fit = the fitted model's schema");
        CollectionAssert.AreEqual(Columns(scored.Schema), Columns(fitted.GetOutputSchema(data.Schema)), "GetOutputSchema of the model = its Transform's schema");

        using var zip = new MemoryStream();
        _ml.Model.Save(fitted, data.Schema, zip);
        zip.Position = 0;
        var loaded = new MLContext(seed: 5).Model.Load(zip, out var inputSchema);
        Assert.AreEqual(data.Schema.Count, inputSchema.Count, "the zip keeps the input schema");
        var reloaded = loaded.Transform(data);
        CollectionAssert.AreEqual(Columns(scored.Schema), Columns(reloaded.Schema), "Load gives the same columns");
        var a = AllScores(scored);
        var b = AllScores(reloaded);
        Assert.AreEqual(a.Length, b.Length);
        double worst = a.Zip(b, (x, y) => Math.Abs(x - y) / (1 + Math.Abs(x))).DefaultIfEmpty().Max();
        Assert.IsTrue(worst <= tolerance, $"Save + Load moved a score by {worst} (relative)");
        Assert.IsTrue(a.All(float.IsFinite), "every score is finite");
        (loaded as IDisposable)?.Dispose();

        if (source is not null)
            CollectionAssert.AreEqual(sourceBefore, AllScores(source.Transform(data)), "the model that went in is not changed");
    }

    // The fast tier runs the cheap stage × task pairs; the rest (ONNX form, distillation, multiclass) run in the slow tier.
    [TestMethod]
    [DataRow("binary trees", "prune")]
    [DataRow("binary trees", "quantize")]
    [DataRow("binary trees", "prune+quantize")]
    [DataRow("binary linear", "prune")]
    [DataRow("binary linear", "quantize")]
    [DataRow("regression trees", "prune")]
    [DataRow("regression trees", "quantize")]
    [DataRow("regression trees", "distill")]
    [DataRow("network", "prune")]
    [DataRow("network", "quantize")]
    public void Stage(string task, string stage) => AssertContract(task, stage);

    [TestCategory("Slow")]
    [TestMethod]
    [DataRow("binary trees", "quantize onnx form")]
    [DataRow("binary trees", "distill")]
    [DataRow("binary linear", "distill")]
    [DataRow("regression trees", "quantize onnx form")]
    [DataRow("multiclass trees", "prune")]
    [DataRow("multiclass trees", "quantize")]
    [DataRow("multiclass trees", "prune+quantize")]
    [DataRow("multiclass trees", "distill")]
    [DataRow("network", "prune+quantize")]
    public void SlowerStage(string task, string stage) => AssertContract(task, stage);

    private static void AssertContract(string task, string stage)
    {
        switch (task)
        {
            case "binary trees":
                AssertContract(Estimator(stage, _binaryTrees, () => _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5, numberOfLeaves: 8)), _spam, _binaryTrees, 1e-5);
                break;
            case "binary linear":
                AssertContract(Estimator(stage, _binaryLinear, () => _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5, numberOfLeaves: 8)), _spam, _binaryLinear, 1e-5);
                break;
            case "regression trees":
                AssertContract(Estimator(stage, _regressionTrees, () => CpsFeatures().Append(_ml.Regression.Trainers.FastTree(numberOfTrees: 5, numberOfLeaves: 8))), _cps, _regressionTrees, 1e-5);
                break;
            case "multiclass trees":
                AssertContract(Estimator(stage, _multiclassTrees,
                    () => _ml.Transforms.Conversion.MapValueToKey("Label").Append(_ml.MulticlassClassification.Trainers.LightGbm(numberOfLeaves: 8, numberOfIterations: 3))),
                    _letter, _multiclassTrees, 1e-5);
                break;
            case "network":
                IEstimator<CompressedModel> network = stage switch
                {
                    "prune" => _ml.Compression().Prune(LetterMlp, 0.5),
                    "quantize" => _ml.Compression().Quantize(LetterMlp, Precision.Int8),
                    "prune+quantize" => _ml.Compression().Prune(LetterMlp, 0.5).Append(_ml.Compression().Quantize(Precision.Int8)),
                    _ => throw new ArgumentOutOfRangeException(nameof(stage)),
                };
                // ONNX Runtime may order float sums differently between two sessions of one graph.
                AssertContract(network, _letter, null, 1e-4);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(task));
        }
    }

    /// <summary>One stage (or a two-stage chain) over <paramref name="source"/>, with the catalog's simple overloads.</summary>
    private static IEstimator<CompressedModel> Estimator(string stage, ITransformer source, Func<IEstimator<ITransformer>> student) => stage switch
    {
        "prune" => _ml.Compression().Prune(source, 0.5),
        "quantize" => _ml.Compression().Quantize(source, Precision.Int8),
        "prune+quantize" => _ml.Compression().Prune(source, 0.5).Append(_ml.Compression().Quantize(Precision.Int8)),
        "quantize onnx form" => _ml.Compression().Quantize(source, new QuantizationOptions { Form = ModelForm.Onnx }),
        "distill" => _ml.Compression().Distill(source, student()),
        _ => throw new ArgumentOutOfRangeException(nameof(stage)),
    };
}
