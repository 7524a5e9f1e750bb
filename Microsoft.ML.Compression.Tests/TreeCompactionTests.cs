using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>Tree ensembles stored as ai.onnx.ml opset-5 TreeEnsemble: same scores, smaller files.</summary>
[TestClass]
public sealed class TreeCompactionTests
{
    private static MLContext _ml = null!;

    [ClassInitialize]
    public static void Init(TestContext _) => _ml = new MLContext(seed: 1);

    /// <summary>A trained predictor (no featurization), the feature rows it scores, and its feature count.</summary>
    private static (ITransformer Predictor, float[][] Rows, int Features) Trained(string task, int trees)
    {
        IDataView data;
        ITransformer predictor;
        switch (task)
        {
            case "binary":
                data = _ml.Data.Cache(TestData.SpamBool(_ml));
                predictor = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: trees, numberOfLeaves: 16).Fit(data);
                break;
            case "forest":
                data = _ml.Data.Cache(TestData.SpamBool(_ml));
                predictor = _ml.BinaryClassification.Trainers.FastForest(numberOfTrees: trees, numberOfLeaves: 16).Fit(data);
                break;
            case "multiclass":
                var letter = TestData.Head(_ml, TestData.Letter(_ml), 2000);
                data = _ml.Data.Cache(_ml.Transforms.Conversion.MapValueToKey("Label").Fit(letter).Transform(letter));
                predictor = _ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
                {
                    NumberOfIterations = trees, NumberOfLeaves = 8, NumberOfThreads = 1, Seed = 1,
                }).Fit(data);
                break;
            default:
                var cps = TestData.Cps(_ml);
                data = _ml.Data.Cache(_ml.Transforms.Categorical.OneHotEncoding("region")
                    .Append(_ml.Transforms.Concatenate("Features", "education", "experience", "region")).Fit(cps).Transform(cps));
                predictor = _ml.Regression.Trainers.FastTree(numberOfTrees: trees, numberOfLeaves: 16).Fit(data);
                break;
        }
        var rows = data.GetColumn<VBuffer<float>>("Features").Take(1000).Select(v => v.DenseValues().ToArray()).ToArray();
        return (predictor, rows, rows[0].Length);
    }

    private static ModelProto Export(ITransformer predictor, int features)
    {
        using var stream = new MemoryStream();
        _ml.Model.ConvertToOnnx(predictor, PredictorExporter.FeatureOnlyView(_ml, "Features", features), stream);
        var model = OnnxModelIO.Parse(stream.ToArray(), "test");
        // Keep the prediction outputs only (the slot-name LabelEncoders are not part of the predictor).
        var keep = model.Graph.Output.Where(o => !o.Name.StartsWith("Features", StringComparison.Ordinal) && !o.Name.StartsWith("mlnet.", StringComparison.Ordinal)).ToList();
        model.Graph.Output.Clear();
        model.Graph.Output.Add(keep);
        OnnxGraphEditor.RemoveDeadNodes(model.Graph);
        return model;
    }

    /// <summary>Every float output of the model on the rows, by output name, as ONNX Runtime computes it.</summary>
    private static Dictionary<string, float[]> Run(ModelProto model, float[][] rows)
    {
        using var session = new InferenceSession(OnnxModelIO.ToBytes(model));
        var input = new DenseTensor<float>(rows.SelectMany(r => r).ToArray(), new[] { rows.Length, rows[0].Length });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input) });
        return results.Where(r => r.Value is Tensor<float>).ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }

    private static double MaxRelativeDifference(Dictionary<string, float[]> a, Dictionary<string, float[]> b)
    {
        CollectionAssert.AreEquivalent(a.Keys.ToList(), b.Keys.ToList());
        return a.Keys.Max(k => a[k].Zip(b[k]).Max(p => Math.Abs(p.First - p.Second) / Math.Max(1.0, Math.Abs(p.First))));
    }

    private static long Deflated(byte[] bytes)
    {
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        using (var entry = archive.CreateEntry("model.onnx", CompressionLevel.Optimal).Open()) entry.Write(bytes);
        return zip.Length;
    }

    [TestMethod]
    [DataRow("binary"), DataRow("forest"), DataRow("multiclass"), DataRow("regression")]
    public void CompactTreeEnsembleScoresIdenticallyAndIsSmaller(string task)
    {
        var (predictor, rows, features) = Trained(task, 30);
        var original = Export(predictor, features);
        var compact = original.Clone();
        Assert.IsNull(TreeEnsembleCompactor.Compact(compact));
        Assert.IsFalse(compact.Graph.Node.Any(n => n.OpType == "TreeEnsembleRegressor"));
        Assert.AreEqual(5, compact.OpsetImport.Single(o => o.Domain == "ai.onnx.ml").Version);
        var before = Run(original, rows);
        var after = Run(compact, rows);
        double diff = MaxRelativeDifference(before, after);
        long b = OnnxModelIO.ToBytes(original).Length, a = OnnxModelIO.ToBytes(compact).Length;
        Console.WriteLine($"{task}: ONNX {b} -> {a} bytes, deflated {Deflated(OnnxModelIO.ToBytes(original))} -> {Deflated(OnnxModelIO.ToBytes(compact))}; max relative score difference {diff:G3}");
        Assert.AreEqual(0.0, diff, 1e-6);
        Assert.IsTrue(a < 0.6 * b, $"{b} -> {a}");

        // Expand gives the opset-2 form back (what the pruner and quantizer edit); compacting it again is stable.
        var expanded = compact.Clone();
        Assert.IsTrue(TreeEnsembleCompactor.Expand(expanded));
        Assert.AreEqual(0.0, MaxRelativeDifference(before, Run(expanded, rows)), 1e-6);
        Assert.IsNull(TreeEnsembleCompactor.Compact(expanded));
        Assert.AreEqual(a, OnnxModelIO.ToBytes(expanded).Length);
    }

    /// <summary>A hand-made ensemble with what ML.NET's exports lack: a one-leaf tree, equal leaves under a root, all six comparison modes, missing-value tracking, base values, two targets.</summary>
    private static ModelProto Synthetic(string aggregate, int targets)
    {
        var nodes = new (long Tree, long Node, long Feature, string Mode, float Value, long True, long False, long Missing)[]
        {
            (0, 0, 0, "LEAF", 0, 0, 0, 0),
            (1, 0, 0, "BRANCH_LT", 0.3f, 1, 2, 1), (1, 1, 0, "LEAF", 0, 0, 0, 0), (1, 2, 1, "BRANCH_GTE", -0.2f, 3, 4, 0),
            (1, 3, 0, "LEAF", 0, 0, 0, 0), (1, 4, 0, "LEAF", 0, 0, 0, 0),
            (2, 0, 2, "BRANCH_LEQ", 0.1f, 1, 2, 0), (2, 1, 0, "LEAF", 0, 0, 0, 0), (2, 2, 0, "LEAF", 0, 0, 0, 0),
            (3, 0, 0, "BRANCH_GT", 0.5f, 1, 2, 1), (3, 1, 1, "BRANCH_NEQ", 0f, 3, 4, 0), (3, 2, 0, "LEAF", 0, 0, 0, 0),
            (3, 3, 2, "BRANCH_EQ", 1f, 5, 6, 1), (3, 4, 0, "LEAF", 0, 0, 0, 0), (3, 5, 0, "LEAF", 0, 0, 0, 0), (3, 6, 0, "LEAF", 0, 0, 0, 0),
        };
        var leaves = new (long Tree, long Node, long Target, float Weight)[]
        {
            (0, 0, 0, 0.5f), (1, 1, 1, 0.25f), (1, 3, 1, 0.25f), (1, 4, 0, -1.5f), (2, 1, 0, 0.25f), (2, 2, 0, 0.25f),
            (3, 2, 1, 1f), (3, 4, 0, 2f), (3, 5, 1, -0.125f), (3, 6, 0, 0.5f),
        };
        var node = OnnxGraphEditor.Node("TreeEnsembleRegressor", new[] { "X" }, new[] { "Y" }, "trees", "ai.onnx.ml")
            .WithInts("nodes_treeids", nodes.Select(x => x.Tree)).WithInts("nodes_nodeids", nodes.Select(x => x.Node))
            .WithInts("nodes_featureids", nodes.Select(x => x.Feature)).WithInts("nodes_truenodeids", nodes.Select(x => x.True))
            .WithInts("nodes_falsenodeids", nodes.Select(x => x.False)).WithInts("nodes_missing_value_tracks_true", nodes.Select(x => x.Missing))
            .WithInts("target_treeids", leaves.Select(x => x.Tree)).WithInts("target_nodeids", leaves.Select(x => x.Node))
            .WithInts("target_ids", leaves.Select(x => targets == 1 ? 0 : x.Target)).WithInt("n_targets", targets);
        AttributeProto Floats(string name, IEnumerable<float> v) { var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats }; a.Floats.Add(v); return a; }
        AttributeProto Text(string name, string v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(v) };
        var modes = new AttributeProto { Name = "nodes_modes", Type = AttributeProto.Types.AttributeType.Strings };
        modes.Strings.Add(nodes.Select(x => Google.Protobuf.ByteString.CopyFromUtf8(x.Mode)));
        node.Attribute.Add(new[] { modes, Floats("nodes_values", nodes.Select(x => x.Value)), Floats("target_weights", leaves.Select(x => x.Weight)),
            Floats("base_values", targets == 1 ? new[] { 0.75f } : new[] { 0f, 0f }), Text("aggregate_function", aggregate), Text("post_transform", "NONE") });
        var model = new ModelProto { IrVersion = 6, Graph = new GraphProto { Name = "synthetic" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 12 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 2 });
        model.Graph.Node.Add(node);
        model.Graph.Input.Add(OnnxGraphEditor.TensorValue("X", OnnxType.Float, -1, 3));
        model.Graph.Output.Add(OnnxGraphEditor.TensorValue("Y", OnnxType.Float, -1, targets));
        return model;
    }

    [TestMethod]
    [DataRow("SUM", 1), DataRow("AVERAGE", 1), DataRow("SUM", 2), DataRow("AVERAGE", 2)]
    public void HandMadeEnsembleWithEdgeCasesScoresIdentically(string aggregate, int targets)
    {
        var model = Synthetic(aggregate, targets);
        var random = new Random(5);
        var special = new[] { float.NaN, 0.3f, -0.2f, 0.1f, 0.5f, 0f, 1f };
        var rows = Enumerable.Range(0, 2000).Select(_ => Enumerable.Range(0, 3)
            .Select(_ => random.Next(3) == 0 ? special[random.Next(special.Length)] : (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
        var before = Run(model, rows);
        var compact = model.Clone();
        Assert.IsNull(TreeEnsembleCompactor.Compact(compact));
        Assert.AreEqual(0.0, MaxRelativeDifference(before, Run(compact, rows)), 0.0);
        Assert.AreEqual(targets == 1, compact.Graph.Node.Any(n => n.OpType == "Add" && n.Input.Any(i => i.EndsWith("_tree_base_values"))));
        var tree = compact.Graph.Node.Single(n => n.OpType == "TreeEnsemble");
        Assert.AreEqual(4, OnnxGraphEditor.Attribute(tree, "tree_roots")!.Ints.Count);

        var expanded = compact.Clone();
        Assert.IsTrue(TreeEnsembleCompactor.Expand(expanded));
        Assert.AreEqual(0.0, MaxRelativeDifference(before, Run(expanded, rows)), 0.0);
        CollectionAssert.AreEqual(targets == 1 ? new[] { 0.75f } : new[] { 0f, 0f }, new TreeEnsembleNode(expanded.Graph.Node.Single(n => n.OpType == "TreeEnsembleRegressor")).BaseValues);
        Assert.IsFalse(expanded.Graph.Node.Any(n => n.Input.Any(i => i.EndsWith("_tree_base_values"))));
    }

    [TestMethod]
    public void BaseValuesOfTargetsThatSomeLeavesSkipAreNotFoldedIntoAnAdd()
    {
        // ONNX Runtime outputs 0, not the base value, for a target no reached leaf wrote to; an Add would not.
        var model = Synthetic("SUM", 2);
        var node = model.Graph.Node.Single();
        var b = OnnxGraphEditor.Attribute(node, "base_values")!;
        b.Floats[1] = -0.5f;
        var why = TreeEnsembleCompactor.Compact(model);
        StringAssert.Contains(why, "base value for target 1");
        Assert.AreEqual("TreeEnsembleRegressor", model.Graph.Node.Single().OpType);
        Assert.AreEqual(2, model.OpsetImport.Single(o => o.Domain == "ai.onnx.ml").Version);
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void PrunedAndQuantizedTreesAreStoredCompactAndSurviveSaveAndLoad()
    {
        var (train, test) = TestData.Split(_ml, TestData.SpamBool(_ml));
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 60, numberOfLeaves: 16).Fit(train);
        using var compressed = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5, Trees = { Storage = TreeStorage.Compact } })
            .Append(_ml.Compression().Quantize(new QuantizationOptions { Form = ModelForm.Onnx, Precision = Precision.Int8, Trees = { Storage = TreeStorage.Compact } })).Fit(train);
        var graph = OnnxModelIO.Parse(compressed.OnnxModel!, "test");
        Assert.IsTrue(graph.Graph.Node.Any(n => n.OpType == "TreeEnsemble"), string.Join(", ", graph.Graph.Node.Select(n => n.OpType)));
        Assert.AreEqual(5, graph.OpsetImport.Single(o => o.Domain == "ai.onnx.ml").Version);
        Console.WriteLine(compressed.Report);
        foreach (var stage in compressed.Report.Stages.Skip(1)) StringAssert.Contains(stage.Description, "opset-5 TreeEnsemble (lossless)");

        // The quantized stage (which re-expanded and re-compacted the pruned trees) against the same graph in opset 2.
        var rows = test.GetColumn<VBuffer<float>>("Features").Select(v => v.DenseValues().ToArray()).ToArray();
        var expanded = graph.Clone();
        TreeEnsembleCompactor.Expand(expanded);
        Assert.AreEqual(0.0, MaxRelativeDifference(Run(expanded, rows), Run(graph, rows)), 1e-6);
        Assert.IsTrue(OnnxModelIO.ToBytes(graph).Length < 0.6 * OnnxModelIO.ToBytes(expanded).Length);

        var path = Path.Combine(Path.GetTempPath(), $"compact-trees-{Guid.NewGuid():N}.zip");
        try
        {
            _ml.Model.Save(compressed, train.Schema, path);
            var loaded = _ml.Model.Load(path, out _);
            var expected = TestData.Scores(compressed.Transform(test));
            var actual = TestData.Scores(loaded.Transform(test));
            // The compressed model scores through the batch scorer, the loaded one row by row through OnnxTransformer:
            // ONNX Runtime sums the trees in another order (last float bit).
            for (int i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], actual[i], 1e-6 * Math.Max(1, Math.Abs(expected[i])));
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    [DataRow(false), DataRow(true)]
    public void AutoStorageKeepsTheFormThatSavesSmaller(bool quantize)
    {
        var (train, _) = TestData.Split(_ml, TestData.SpamBool(_ml));
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 40, numberOfLeaves: 16).Fit(train);
        IEstimator<CompressedModel> stage = quantize ? _ml.Compression().Quantize(teacher, new QuantizationOptions { Form = ModelForm.Onnx }) : _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5 });
        using var compressed = stage.Fit(train);
        var graph = OnnxModelIO.Parse(compressed.OnnxModel!, "test");
        var other = graph.Clone();
        bool compact = TreeEnsembleCompactor.IsCompact(graph);
        if (compact) TreeEnsembleCompactor.Expand(other);
        else Assert.IsNull(TreeEnsembleCompactor.Compact(other));
        long chosen = TreeEnsembleCompactor.Deflated(OnnxModelIO.ToBytes(graph)), alternative = TreeEnsembleCompactor.Deflated(OnnxModelIO.ToBytes(other));
        Console.WriteLine($"{(quantize ? "INT8" : "float")}: {(compact ? "opset 5" : "opset 2")} chosen, deflated {chosen} vs {alternative}\n{compressed.Report.Final.Description}");
        Assert.IsTrue(compact ? chosen <= alternative : chosen < alternative);
        StringAssert.Contains(compressed.Report.Final.Description, compact ? "Stored as ai.onnx.ml opset-5 TreeEnsemble" : "Trees kept as TreeEnsembleRegressor");
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void MulticlassPrunedCompactScoresAsClassic()
    {
        var letter = TestData.Head(_ml, TestData.Letter(_ml), 1500);
        var keyed = _ml.Data.Cache(_ml.Transforms.Conversion.MapValueToKey("Label").Fit(letter).Transform(letter));
        var teacher = _ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
            { NumberOfIterations = 10, NumberOfLeaves = 8, NumberOfThreads = 1, Seed = 1 }).Fit(keyed);
        float[][] Scores(TreeStorage storage, out string description)
        {
            using var pruned = _ml.Compression().Prune(teacher, new PruningOptions { Form = ModelForm.Onnx, TargetSparsity = 0.5, Trees = { Storage = storage } }).Fit(keyed);
            description = pruned.Report.Final.Description;
            return pruned.Transform(keyed).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        }
        var compact = Scores(TreeStorage.Compact, out var compactNote);
        var classic = Scores(TreeStorage.Classic, out _);
        StringAssert.Contains(compactNote, "opset-5 TreeEnsemble (lossless)");
        double worst = compact.Zip(classic).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        Assert.AreEqual(0.0, worst, 1e-6);
    }

    [TestMethod]
    public void ClassicStorageKeepsTheExportedOperator()
    {
        var (train, _) = TestData.Split(_ml, TestData.SpamBool(_ml));
        var teacher = _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 10, numberOfLeaves: 8).Fit(train);
        using var compressed = _ml.Compression().Quantize(teacher, new QuantizationOptions { Form = ModelForm.Onnx, Trees = { Storage = TreeStorage.Classic } }).Fit(train);
        var graph = OnnxModelIO.Parse(compressed.OnnxModel!, "test");
        Assert.IsTrue(graph.Graph.Node.Any(n => n.OpType == "TreeEnsembleRegressor"));
        Assert.AreEqual(2, graph.OpsetImport.Single(o => o.Domain == "ai.onnx.ml").Version);
    }

    /// <summary>Bytes of an ML.NET model zip holding the graph in an OnnxTransformer (loaded, fitted and saved).</summary>
    private static long SavedZipBytes(ModelProto model, int features)
    {
        var path = Path.Combine(Path.GetTempPath(), $"trees-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, OnnxModelIO.ToBytes(model));
            var view = PredictorExporter.FeatureOnlyView(_ml, "Features", features);
            using var transformer = _ml.Transforms.ApplyOnnxModel(model.Graph.Output.Select(o => o.Name).ToArray(), new[] { "Features" }, path).Fit(view);
            _ml.Data.CreateEnumerable<object>(transformer.Transform(view), reuseRowObject: false).GetType(); // loads and runs
            using var zip = new MemoryStream();
            _ml.Model.Save(transformer, view.Schema, zip);
            return zip.Length;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The measurements quoted in the README (set COMPRESSION_MEASURE=1; about a minute).</summary>
    [TestMethod]
    public void MeasureCompactionOnLargeModels()
    {
        if (Environment.GetEnvironmentVariable("COMPRESSION_MEASURE") != "1") Assert.Inconclusive("set COMPRESSION_MEASURE=1 to measure");
        var spam = _ml.Data.Cache(TestData.SpamBool(_ml));
        var letterRaw = TestData.Letter(_ml);
        var letter = _ml.Data.Cache(_ml.Transforms.Conversion.MapValueToKey("Label").Fit(letterRaw).Transform(letterRaw));
        var cpsRaw = TestData.Cps(_ml);
        var cps = _ml.Data.Cache(_ml.Transforms.Categorical.OneHotEncoding("region")
            .Append(_ml.Transforms.Concatenate("Features", "education", "experience", "region")).Fit(cpsRaw).Transform(cpsRaw));
        var models = new (string Name, Func<ITransformer> Train, IDataView Data)[]
        {
            ("spam FastTree 500 trees", () => _ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 500).Fit(spam), spam),
            ("spam FastForest 100 trees", () => _ml.BinaryClassification.Trainers.FastForest(numberOfTrees: 100).Fit(spam), spam),
            ("letter LightGBM 100 iterations x 26 classes", () => _ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
                { NumberOfIterations = 100, NumberOfLeaves = 16, NumberOfThreads = 1, Seed = 1 }).Fit(letter), letter),
            ("cps1988 FastTree regression 500 trees", () => _ml.Regression.Trainers.FastTree(numberOfTrees: 500).Fit(cps), cps),
        };
        Console.WriteLine("| model | leaves | ONNX opset 2 | ONNX opset 5 | saved zip opset 2 | saved zip opset 5 | Auto | opset 5, leaves not shared: ONNX / zip | max rel. score diff |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---|---:|---:|");
        foreach (var (name, train, data) in models)
        {
            var predictor = train();
            var rows = data.GetColumn<VBuffer<float>>("Features").Select(v => v.DenseValues().ToArray()).ToArray();
            int features = rows[0].Length;
            var float2 = Export(predictor, features);
            var int8 = float2.Clone();
            foreach (var node in TreeEnsembleNode.FindAll(int8.Graph).ToList())
            {
                var e = new TreeEnsembleNode(node);
                float max = e.LeafValues.Select(Math.Abs).DefaultIfEmpty(0f).Max();
                float scale = max > 0 ? max / 127f : 1f;
                e.RoundLeaves(v => MathF.Round(v / scale) * scale);
                e.WriteBack();
            }
            foreach (var (kind, opset2) in new[] { ("float", float2), ("INT8 leaves", int8) })
            {
                var opset5 = opset2.Clone();
                Assert.IsNull(TreeEnsembleCompactor.Compact(opset5));
                var unshared = opset2.Clone();
                Assert.IsNull(TreeEnsembleCompactor.Compact(unshared, shareLeaves: false));
                double diff = MaxRelativeDifference(Run(opset2, rows), Run(opset5, rows));
                var auto = opset2.Clone();
                TreeEnsembleCompactor.Store(auto, TreeStorage.Auto);
                long zip2 = SavedZipBytes(opset2, features), zip5 = SavedZipBytes(opset5, features);
                Console.WriteLine($"| {name}, {kind} | {TreeEnsembleNode.FindAll(opset2.Graph).Sum(n => new TreeEnsembleNode(n).LeafValues.Count())} | {OnnxModelIO.ToBytes(opset2).Length:N0} | {OnnxModelIO.ToBytes(opset5).Length:N0} | " +
                    $"{zip2:N0} | {zip5:N0} | {(TreeEnsembleCompactor.IsCompact(auto) ? "opset 5" : "opset 2")} | {OnnxModelIO.ToBytes(unshared).Length:N0} / {SavedZipBytes(unshared, features):N0} | {diff:G3} |");
                Assert.AreEqual(zip5 < zip2 - 200, TreeEnsembleCompactor.IsCompact(auto) || Math.Abs(zip5 - zip2) < 200, "Auto follows the saved size");
                Assert.AreEqual(0.0, diff, 1e-6);
            }
        }
    }
}
