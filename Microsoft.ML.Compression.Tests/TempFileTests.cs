using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// No temporary file outlives the object that needs it: ML.NET's OnnxTransformer copies every graph it is given as
/// bytes into <see cref="MLContext.TempFilePath"/> and deletes the copy only when it is disposed. Each test points
/// its own MLContext at an empty folder and counts the files there after Fit + Save + Load + Dispose.
/// </summary>
[TestClass]
public sealed class TempFileTests
{
    private static string SpamMlp => TestData.Network("spam_mlp");

    private static (MLContext ml, string folder) PrivateContext()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlcompression-tempfiletests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return (new MLContext(seed: 1) { TempFilePath = folder }, folder);
    }

    private static string[] Left(string folder) => Directory.GetFiles(folder, "*", SearchOption.AllDirectories);

    /// <summary>Fits, scores, saves, loads (as a CompressedModel when it has a graph) and disposes everything.</summary>
    private static void Cycle(MLContext ml, IEstimator<CompressedModel> estimator, IDataView data)
    {
        using var zip = new MemoryStream();
        using (var model = estimator.Fit(data))
        {
            TestData.Scores(model.Transform(data));
            ml.Model.Save(model, data.Schema, zip);
            zip.Position = 0;
            if (model.OnnxModel != null)
            {
                using var loaded = ml.Compression().LoadModel(zip, out _);
                TestData.Scores(loaded.Transform(data));
                return;
            }
        }
        var native = ml.Model.Load(zip, out _);
        TestData.Scores(native.Transform(data));
        (native as IDisposable)?.Dispose();
    }

    private static void AssertNoneLeft(string folder, string what)
    {
        var left = Left(folder);
        Assert.AreEqual(0, left.Length, $"{what} left {left.Length} file(s) in the temp folder: {string.Join(", ", left.Select(Path.GetFileName))}");
    }

    /// <summary>Fit + Save + Load + Dispose of <paramref name="estimator"/>, then the temp folder must be empty.</summary>
    private static void AssertCycleLeavesNothing(MLContext ml, string folder, string what, IEstimator<CompressedModel> estimator, IDataView data)
    {
        Cycle(ml, estimator, data);
        AssertNoneLeft(folder, what);
    }

    private static void InPrivateFolder(Action<MLContext, string> test)
    {
        var (ml, folder) = PrivateContext();
        try { test(ml, folder); }
        finally { Directory.Delete(folder, recursive: true); }
    }

    private static IEstimator<ITransformer> Student(MLContext ml) => ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 5, numberOfLeaves: 4);

    [TestMethod]
    public void AGraphFileOnnxRuntimeTakesForItsOwnFormatIsRecognisedForARetry() => InPrivateFolder((ml, folder) =>
    {
        // ML.NET names the graph file of a loaded model with Path.GetRandomFileName(); one name in 32,768 ends in
        // ".ort", which ONNX Runtime reads as its flatbuffer format. Here the name is given that extension outright.
        var path = Path.Combine(folder, "graph.ort");
        File.Copy(SpamMlp, path);
        var data = TestData.Head(ml, TestData.Spam(ml), 8);
        var e = Assert.Throws<Exception>(() => ml.Transforms.ApplyOnnxModel(path).Fit(data));
        Assert.IsTrue(Microsoft.ML.Compression.Native.ModelLoading.IsOrtFormatMisread(e), e.ToString());
    });

    [TestCategory("Slow")]
    [TestMethod]
    public void TreeModelStagesLeaveNoTemporaryFiles() => InPrivateFolder((ml, folder) =>
    {
        var (train, _) = TestData.Split(ml, TestData.SpamBool(ml));
        train = TestData.Head(ml, train, 600);
        var teacher = ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 10, numberOfLeaves: 8).Fit(train);
        AssertCycleLeavesNothing(ml, folder, "Prune (ONNX form)", ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 }), train);
        AssertCycleLeavesNothing(ml, folder, "Quantize (ONNX form)", ml.Compression().Quantize(teacher, new QuantizationOptions { Form = ModelForm.Onnx }), train);
        AssertCycleLeavesNothing(ml, folder, "Distill", ml.Compression().Distill(teacher, Student(ml)), train);
        AssertCycleLeavesNothing(ml, folder, "Distill + Quantize", ml.Compression().Distill(teacher, Student(ml)).Append(ml.Compression().Quantize(new QuantizationOptions { Form = ModelForm.Onnx })), train);
    });

    [TestCategory("Slow")]
    [TestMethod]
    public void NetworkStagesLeaveNoTemporaryFiles() => InPrivateFolder((ml, folder) =>
    {
        var data = TestData.Head(ml, ml.Data.ShuffleRows(TestData.Spam(ml), seed: 1), 400);
        AssertCycleLeavesNothing(ml, folder, "Prune", ml.Compression().Prune(SpamMlp, new PruningOptions { TargetSparsity = 0.5 }), data);
        AssertCycleLeavesNothing(ml, folder, "Quantize", ml.Compression().Quantize(SpamMlp), data);
        AssertCycleLeavesNothing(ml, folder, "static Quantize", ml.Compression().Quantize(SpamMlp, new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }), data);
        var student = ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label").Append(Student(ml));
        AssertCycleLeavesNothing(ml, folder, "Distill", ml.Compression().Distill(SpamMlp, student, new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }), data);
    });

    [TestMethod]
    public void FailedFitLeavesNoTemporaryFiles() => InPrivateFolder((ml, folder) =>
    {
        var data = TestData.Head(ml, ml.Data.ShuffleRows(TestData.Spam(ml), seed: 1), 200);
        // Evaluation data without the network's input fails after the graphs of the original model were built and scored.
        var wrong = ml.Transforms.DropColumns("Features").Fit(data).Transform(data);
        Assert.ThrowsExactly<DataMismatchException>(() => ml.Compression().Prune(SpamMlp, new PruningOptions { TargetSparsity = 0.5 }).WithEvaluationData(wrong).Fit(data));
        Assert.ThrowsExactly<DataMismatchException>(() => ml.Compression().Quantize(SpamMlp, new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).WithEvaluationData(wrong).Fit(data));
        Assert.ThrowsExactly<DataMismatchException>(() => ml.Compression().Prune(SpamMlp).Fit(wrong));
        AssertNoneLeft(folder, "a failed Fit");
    });

    [TestMethod]
    public void ModelsThatAreNeverDisposedRemoveTheirFilesWhenFinalized() => InPrivateFolder((ml, folder) =>
    {
        var data = TestData.Head(ml, ml.Data.ShuffleRows(TestData.Spam(ml), seed: 1), 200);
        int held = FitAndLoadWithoutDisposing(ml, data);
        Assert.IsTrue(held >= 2, $"the fitted and the loaded model hold their graphs as files ({held} found)");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        AssertNoneLeft(folder, "models dropped without Dispose, after finalization");
    });

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static int FitAndLoadWithoutDisposing(MLContext ml, IDataView data)
    {
        var model = ml.Compression().Quantize(SpamMlp).Fit(data);
        using var zip = new MemoryStream();
        ml.Model.Save(model, data.Schema, zip);
        zip.Position = 0;
        var loaded = ml.Compression().LoadModel(zip, out _);
        TestData.Scores(loaded.Transform(data));
        return Left(ml.TempFilePath).Length;
    }
}
