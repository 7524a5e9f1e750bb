using Microsoft.ML.Compression.Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>N:M sparsity: in every group of M consecutive inputs of an output, only the N most important weights stay.</summary>
internal static class SemiStructured
{
    public static void Apply(float[] values, float[] importance, IList<long> dims, int outputAxis, int n, int m)
    {
        var channelOf = WeightTensors.ChannelOf(dims, outputAxis);
        // Elements of each output in flat (row-major) order are its inputs in order; group them M at a time.
        var perOutput = new Dictionary<int, List<int>>();
        for (int i = 0; i < values.Length; i++)
        {
            if (!perOutput.TryGetValue(channelOf[i], out var list)) perOutput[channelOf[i]] = list = new List<int>();
            list.Add(i);
        }
        foreach (var inputs in perOutput.Values)
            for (int start = 0; start < inputs.Count; start += m)
            {
                var group = inputs.Skip(start).Take(m).ToList();
                foreach (var i in group.OrderByDescending(i => importance[i]).Skip(n)) values[i] = 0f;
            }
    }
}
