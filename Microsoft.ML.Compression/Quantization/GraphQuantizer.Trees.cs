using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>Tree ensembles: leaf values snapped to the INT8/INT4/FP16 grid.</summary>
internal static partial class GraphQuantizer
{
    private static string QuantizeTrees(List<NodeProto> nodes, QuantizationOptions options)
    {
        var (worst, leaves) = RoundTreeLeaves(nodes, options.Precision);
        return $"tree ensemble: {leaves} leaf values snapped to {TreeGrid(options.Precision)}, split thresholds kept exact; ONNX Runtime's tree operators take float32 leaves only, so they stay float32 in the file, with few distinct values that the zip compresses (largest leaf error {worst:G3}).";
    }

    /// <summary>The grid <see cref="RoundTreeLeaves"/> puts leaves on, for the report.</summary>
    internal static string TreeGrid(Precision precision) => precision switch
    {
        Precision.Float16 => "FP16",
        Precision.Int4 => "a symmetric INT4 grid (one scale per ensemble)",
        _ => "a symmetric INT8 grid (one scale per ensemble)",
    };

    /// <summary>
    /// Snaps the leaf values of each TreeEnsembleRegressor node to FP16, or to a symmetric INT8/INT4 grid with one
    /// scale per node (split thresholds stay exact: rounding them would change decisions); written back to the nodes.
    /// </summary>
    internal static (double Worst, int Leaves) RoundTreeLeaves(IEnumerable<NodeProto> nodes, Precision precision)
    {
        double worst = 0;
        int leaves = 0;
        foreach (var node in nodes)
        {
            var ensemble = new TreeEnsembleNode(node);
            Func<float, float> round;
            if (precision == Precision.Float16)
                round = v => (float)(Half)v;
            else
            {
                float max = ensemble.LeafValues.Select(Math.Abs).DefaultIfEmpty(0f).Max();
                float levels = precision == Precision.Int4 ? 7f : 127f;
                float scale = max > 0 ? max / levels : 1f;
                round = v => MathF.Round(v / scale) * scale;
            }
            foreach (var v in ensemble.LeafValues) { worst = Math.Max(worst, Math.Abs(v - round(v))); leaves++; }
            ensemble.RoundLeaves(round);
            ensemble.WriteBack();
        }
        return (worst, leaves);
    }
}
