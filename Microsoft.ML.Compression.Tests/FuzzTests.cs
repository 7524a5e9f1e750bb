using Microsoft.ML;
using Microsoft.ML.Compression.Fuzzing;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// Seeded fuzzing: mutated ONNX files go through Quantize and Prune, mutated saved zips through LoadModel and
/// scoring. Every outcome must be a result or an exception under <see cref="CompressionException"/>; the test prints
/// how many of each kind it saw. The mutations are those of a hostile or damaged file: wrong sizes, types and
/// dimensions, missing or duplicated tensors, unknown operators, broken attributes, external data pointing anywhere,
/// non-finite weights, flipped and cut bytes, damaged zip entries and reports (tools/Fuzzing/Mutations.cs, shared
/// with the benchmark app's long fuzz run, <c>--only fuzz</c>).
/// </summary>
[TestClass]
public sealed class FuzzTests
{
    private const int Seed = 20261206, OnnxTrials = 600, ZipTrials = 300;
    private static MLContext _ml = null!;
    private static IDataView _data = null!;
    private static byte[] _spam = null!, _spamZip = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _data = TestData.Head(_ml, _ml.Data.ShuffleRows(TestData.Spam(_ml), seed: 1), 64);
        _spam = File.ReadAllBytes(TestData.Network("spam_mlp"));
        using var model = _ml.Compression().Quantize(new MemoryStream(_spam)).Fit(_data);
        using var zip = new MemoryStream();
        _ml.Model.Save(model, _data.Schema, zip);
        _spamZip = zip.ToArray();
    }

    /// <summary>Counts outcomes: "ok", the typed exception's name, or "UNTYPED ..." with the raw exception type.</summary>
    private sealed class Tally
    {
        public readonly SortedDictionary<string, int> Counts = new();
        public readonly List<string> Untyped = new();
        public void Run(string trial, Action action)
        {
            string outcome;
            try { action(); outcome = "ok"; }
            catch (CompressionException e) { outcome = e.GetType().Name; }
            catch (Exception e)
            {
                outcome = "UNTYPED " + e.GetType().Name;
                var at = (e.StackTrace ?? "").Split('\n').FirstOrDefault(l => l.Contains("Microsoft.ML.Compression.") && !l.Contains(".Tests."))?.Trim();
                var inner = e;
                while (inner.InnerException != null) inner = inner.InnerException;
                var cause = inner == e ? "" : $" <- {inner.GetType().Name}: {inner.Message.Split('\n')[0]}";
                Untyped.Add($"{trial}: {e.GetType().Name}: {e.Message.Split('\n')[0]} [{at}]{cause}");
            }
            Counts[outcome] = Counts.GetValueOrDefault(outcome) + 1;
            if (Environment.GetEnvironmentVariable("MLCOMPRESSION_FUZZ_TRACE") == "1") Console.WriteLine($"trace {trial}: {outcome}");
        }
        public override string ToString() => string.Join(", ", Counts.Select(c => $"{c.Key} {c.Value}"));
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void MutatedOnnxModelsEndInAResultOrATypedError()
    {
        var random = new Random(Seed);
        var tally = new Tally();
        for (int i = 0; i < OnnxTrials; i++)
        {
            var (bytes, what) = Mutations.MutatedOnnx(random, _spam);
            int stage = i % 10 == 9 ? 3 : i % 3;
            tally.Run($"#{i} {what} → {new[] { "Quantize", "static Quantize", "Prune", "Distill" }[stage]}", () =>
            {
                using var model = stage switch
                {
                    0 => _ml.Compression().Quantize(new MemoryStream(bytes)).Fit(_data),
                    1 => _ml.Compression().Quantize(new MemoryStream(bytes), new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 32 } }).Fit(_data),
                    2 => _ml.Compression().Prune(new MemoryStream(bytes), new PruningOptions { TargetSparsity = 0.5 }).Fit(_data),
                    _ => _ml.Compression().Distill(new MemoryStream(bytes), Student(), new DistillationOptions { Selection = { TrainLabelOnlyBaseline = false } }).Fit(_data),
                };
                TestData.Scores(model.Transform(_data));
            });
        }
        Console.WriteLine($"{OnnxTrials} mutated ONNX models: {tally}");
        foreach (var u in tally.Untyped) Console.WriteLine(u);
        Assert.AreEqual(0, tally.Untyped.Count, string.Join("\n", tally.Untyped.Take(20)));
    }

    [TestMethod]
    [TestCategory("Slow")]
    public void MutatedSavedZipsEndInAModelOrATypedError()
    {
        var random = new Random(Seed + 1);
        var tally = new Tally();
        for (int i = 0; i < ZipTrials; i++)
        {
            var (bytes, what) = Mutations.MutatedZip(random, _spamZip);
            tally.Run($"#{i} {what}", () =>
            {
                using var model = _ml.Compression().LoadModel(new MemoryStream(bytes), out _);
                TestData.Scores(model.Transform(_data));
            });
        }
        Console.WriteLine($"{ZipTrials} mutated zips: {tally}");
        foreach (var u in tally.Untyped) Console.WriteLine(u);
        Assert.AreEqual(0, tally.Untyped.Count, string.Join("\n", tally.Untyped.Take(20)));
    }

    private static IEstimator<ITransformer> Student()
        => _ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label")
            .Append(_ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 3, numberOfLeaves: 4, minimumExampleCountPerLeaf: 2));
}
