using Examples.Shared;
using System.Diagnostics;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Compression;
using Onnx;

namespace Benchmarks.Trees;

/// <summary>Size of the tree ensembles of one model as ONNX.</summary>
public sealed record TreeSize(int Trees, int Nodes, long OnnxBytes);

/// <summary>Throughput of one model, from <see cref="TreeModelMeasure.ThroughputInTurns"/>.</summary>
public sealed record Throughput(double BatchRowsPerSecond, double BatchCpuMicrosecondsPerRow, double EngineRowsPerSecond, double EngineCpuMicrosecondsPerRow);

/// <summary>
/// Tree counts, node counts and ONNX bytes of tree models, and their scoring throughput measured in turns (one pass
/// of each model per round) with the process's CPU time beside the wall time, so that load from other jobs on a
/// shared machine hits every model alike and shows less in the figures.
/// </summary>
public static class TreeModelMeasure
{
    /// <summary>The ONNX export of an ML.NET model, or the graph a compressed model runs.</summary>
    public static byte[] Onnx(MLContext ml, ITransformer model, IDataView data)
    {
        if (model is CompressedModel c && c.OnnxModel is { } bytes) return bytes;
        using var stream = new MemoryStream();
        ml.Model.ConvertToOnnx(model, data, stream);
        return stream.ToArray();
    }

    /// <summary>
    /// Trees and nodes (leaves included) of every tree ensemble in <paramref name="onnx"/>: TreeEnsembleRegressor
    /// lists every node; an opset-5 TreeEnsemble lists branches only, and a binary tree has one leaf more than branches.
    /// </summary>
    public static TreeSize Size(byte[] onnx)
    {
        var model = ModelProto.Parser.ParseFrom(onnx);
        int trees = 0, nodes = 0;
        foreach (var node in model.Graph.Node)
        {
            var attr = node.Attribute.ToDictionary(a => a.Name);
            if (node.OpType == "TreeEnsembleRegressor" || node.OpType == "TreeEnsembleClassifier")
            {
                trees += attr["nodes_treeids"].Ints.Distinct().Count();
                nodes += attr["nodes_treeids"].Ints.Count;
            }
            else if (node.OpType == "TreeEnsemble")
            {
                int roots = attr["tree_roots"].Ints.Count;
                trees += roots;
                nodes += 2 * attr["nodes_featureids"].Ints.Count + roots;
            }
        }
        return new TreeSize(trees, nodes, onnx.Length);
    }

    /// <summary>
    /// Batch Transform (all of <paramref name="test"/>, every prediction column read) and PredictionEngine (one row
    /// per call over <paramref name="rows"/>) of each model, in turns for <see cref="Settings.Runs"/> ×
    /// <see cref="Settings.SecondsPerRun"/> seconds per model (at least 5 rounds); medians of the per-pass figures.
    /// </summary>
    public static Throughput[] ThroughputInTurns<TIn>(MLContext ml, Settings s, IReadOnlyList<ITransformer> models, IDataView test, IReadOnlyList<TIn> rows)
        where TIn : class
    {
        var engines = models.Select(m => ml.Model.CreateSharedPredictionEngine<TIn, BinaryPrediction>(m, test.Schema)).ToList();
        try
        {
            var output = new BinaryPrediction();
            long EnginePass(int k) { foreach (var row in rows) engines[k].Predict(row, ref output); return rows.Count; }
            long BatchPass(int k) => BinaryModelMeasure.ScoreAll(models[k], test);
            for (int k = 0; k < models.Count; k++) { BatchPass(k); EnginePass(k); }
            var batch = models.Select(_ => (Wall: new List<double>(), Cpu: new List<double>())).ToArray();
            var engine = models.Select(_ => (Wall: new List<double>(), Cpu: new List<double>())).ToArray();
            var process = Process.GetCurrentProcess();
            void Time(Func<long> pass, (List<double> Wall, List<double> Cpu) into)
            {
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                long t0 = Stopwatch.GetTimestamp();
                long n = pass();
                double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                process.Refresh();
                into.Wall.Add(n / wall);
                into.Cpu.Add((process.TotalProcessorTime - cpu0).TotalMicroseconds / n);
            }
            var clock = Stopwatch.StartNew();
            for (int round = 0; batch[0].Wall.Count < 5 || clock.Elapsed.TotalSeconds < models.Count * s.Runs * s.SecondsPerRun * 2; round++)
                for (int j = 0; j < models.Count; j++)
                {
                    // Each round starts at the next model, and each pass after a pause: ONNX Runtime's worker
                    // threads spin for a while after a batch, taking a core (of 2) from whatever runs next.
                    int k = (j + round) % models.Count;
                    Thread.Sleep(20);
                    Time(() => BatchPass(k), batch[k]);
                    Thread.Sleep(20);
                    Time(() => EnginePass(k), engine[k]);
                }
            return Enumerable.Range(0, models.Count).Select(k => new Throughput(
                Timing.Median(batch[k].Wall), Timing.Median(batch[k].Cpu), Timing.Median(engine[k].Wall), Timing.Median(engine[k].Cpu))).ToArray();
        }
        finally
        {
            foreach (var e in engines) e.Dispose();
        }
    }
}
