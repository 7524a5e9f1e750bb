using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pruning;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Leaf/node pruning of tree ensembles: collapses within the tolerance, refit, storage forms, bad options.</summary>
[TestClass]
public sealed class TreeLeafPruningTests
{
    private static MLContext _ml = null!;
    private static IDataView _train = null!, _test = null!;
    private static ITransformer _teacher = null!;

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        (_train, _test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        _teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 60, numberOfLeaves: 16).Fit(_train);
    }

    private static int Nodes(CompressedModel model)
    {
        var graph = OnnxModelIO.Parse(model.OnnxModel!, "pruned");
        TreeEnsembleCompactor.Expand(graph);
        return TreeEnsembleNode.FindAll(graph.Graph).Sum(n => new TreeEnsembleNode(n).NodeCount);
    }

    private static double Rms(float[] a, float[] b) => Math.Sqrt(a.Zip(b).Average(p => (double)(p.First - p.Second) * (p.First - p.Second)));

    [TestMethod]
    [DataRow(TreeStorage.Classic)]
    [DataRow(TreeStorage.Compact)]
    public void CollapsedNodesKeepTheScoresOnTheCalibrationDataWithinTheTolerance(TreeStorage storage)
    {
        const double tolerance = 0.05;
        // TargetSparsity 0: every tree stays, so only leaf pruning moves the score.
        using var pruned = _ml.Compression().Prune(_teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0, Trees = { LeafPruningTolerance = tolerance, Storage = storage } }).Fit(_train);
        var teacher = TestData.Scores(_teacher.Transform(_train));
        var scores = TestData.Scores(pruned.Transform(_train));
        double mean = teacher.Average(v => (double)v);
        double sd = Math.Sqrt(teacher.Average(v => (v - mean) * (v - mean)));
        double change = Rms(teacher, scores);
        int teacherNodes = 60 * (2 * 16 - 1);
        int nodes = Nodes(pruned);
        Console.WriteLine($"{storage}: nodes {teacherNodes} -> {nodes}; RMS score change {change:G3} (allowed {tolerance * sd:G3}); {pruned.Report.Final.Description}");
        Assert.IsTrue(change > 0, "nothing was collapsed");
        Assert.IsTrue(change <= tolerance * sd * 1.001 + 1e-4, $"RMS change {change}, allowed {tolerance * sd}");
        Assert.IsTrue(nodes < 0.9 * teacherNodes, $"{nodes} nodes of {teacherNodes}");

        // The batch path and the one-row PredictionEngine score the edited trees alike.
        var rows = _ml.Data.CreateEnumerable<SpamFeatures>(_train, reuseRowObject: false).Take(50).ToList();
        using var engine = _ml.Model.CreatePredictionEngine<SpamFeatures, ScoreOnly>(pruned, inputSchema: _train.Schema);
        for (int i = 0; i < rows.Count; i++) Assert.AreEqual(scores[i], engine.Predict(rows[i]).Score, 1e-4f * Math.Max(1, Math.Abs(scores[i])));
    }

    [TestMethod]
    public void RefitLeavesReproducesTheTeacherBetterThanCollapsingAlone()
    {
        var options = new PruningOptions { TargetSparsity = 0.8, Trees = { LeafPruningTolerance = 0.05 } };
        using var collapsed = _ml.Compression().Prune(_teacher, options).Fit(_train);
        options.Trees.RefitLeaves = true;
        using var refit = _ml.Compression().Prune(_teacher, options).Fit(_train);
        var teacher = TestData.Scores(_teacher.Transform(_test));
        double a = Rms(teacher, TestData.Scores(collapsed.Transform(_test))), b = Rms(teacher, TestData.Scores(refit.Transform(_test)));
        Console.WriteLine($"test score RMSE vs teacher: collapsed {a:G3}, refitted {b:G3}; {refit.Report.Final.Description}");
        Assert.IsTrue(b < a, $"collapsed {a}, refitted {b}");
        StringAssert.Contains(refit.Report.Final.Description, "Leaves refitted");
    }

    [TestMethod]
    public void LeavesNoCalibrationRowReachesAreKept()
    {
        using var onnx = new MemoryStream();
        _ml.Model.ConvertToOnnx(_teacher, _train, onnx);
        var node = TreeEnsembleNode.FindAll(OnnxModelIO.Parse(onnx.ToArray(), "teacher").Graph).Single();
        var ensemble = new TreeEnsembleNode(node);
        // 40 rows reach only some of the 960 leaves.
        var sample = _ml.Data.CreateEnumerable<SpamFeatures>(_train, reuseRowObject: false).Take(40).Select(r => r.Features).ToArray();
        var reached = ensemble.Trees.Select(t => sample.Select(x => ensemble.LeafReached(t, x)).ToHashSet()).ToList();
        var unvisited = ensemble.Trees.SelectMany((t, k) => t.Leaves.Keys.Where(id => !reached[k].Contains(id)).Select(id => (t, id, ensemble.LeafValue(t, id)))).ToList();
        var reference = TreeLeafPruner.Scores(ensemble, sample);

        var result = TreeLeafPruner.Prune(ensemble, sample, reference, tolerance: 0.2, refit: false);

        Console.WriteLine($"{unvisited.Count} unvisited leaves; nodes {result.NodesBefore} -> {result.NodesAfter}");
        Assert.AreEqual(unvisited.Count, result.UnvisitedLeaves);
        Assert.IsTrue(unvisited.Count > 100, $"{unvisited.Count} unvisited leaves");
        Assert.IsTrue(result.NodesAfter < result.NodesBefore, "nothing was collapsed");
        foreach (var (tree, id, value) in unvisited)
            if (ensemble.Trees.Contains(tree))
            {
                Assert.IsTrue(tree.Leaves.ContainsKey(id) && ensemble.IsLeaf(tree, id), $"leaf {id} of tree {tree.Id} was merged away");
                Assert.AreEqual(value, ensemble.LeafValue(tree, id));
            }
    }

    [TestMethod]
    [DataRow(-0.1)]
    [DataRow(1.5)]
    [DataRow(double.NaN)]
    public void LeafPruningToleranceOutsideZeroToOneThrows(double tolerance)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Prune(_teacher, new PruningOptions { Trees = { LeafPruningTolerance = tolerance } }));
        Assert.AreEqual(nameof(TreePruningOptions.LeafPruningTolerance), e.ParamName);
    }

    public sealed class SpamFeatures
    {
        public bool Label { get; set; }
        [VectorType(57)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class ScoreOnly
    {
        public float Score { get; set; }
    }
}
