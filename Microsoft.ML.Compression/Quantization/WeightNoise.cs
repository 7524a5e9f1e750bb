using Microsoft.ML.Compression.Onnx;
using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// The noise 4-bit weights add to one layer's output with the float network's own input, computed from the weights
/// and a sample of recorded input vectors: ‖X·(Ŵ − W)‖² / ‖X·W‖². Measured layer by layer with exact inputs, so
/// it ranks what each layer's weights cost, independent of the noise other layers pass on (in a fully quantized
/// network that noise dominates, and a ReLU or LayerNorm after a layer can even shrink it, which makes "output SQNR
/// minus input SQNR" rank layers wrongly).
/// </summary>
internal static class WeightNoise
{
    /// <summary>Input vectors sampled per layer: enough for a stable ratio, few enough for seconds on a 6-layer BERT.</summary>
    private const int SampleVectors = 256;

    /// <summary>Noise-to-signal power of each weight's INT4 output (name → ratio), on up to <paramref name="maxRows"/> calibration rows.</summary>
    public static Dictionary<string, double> Int4(ModelProto floatModel, IReadOnlyList<WeightTensor> weights, GraphEditContext context, int maxRows, int blockSize)
    {
        var g = floatModel.Graph;
        var inputs = weights.Select(w => w.Consumer.Input[0]).Distinct().ToArray();
        var captured = TensorCapture.Capture(floatModel, inputs, context, Math.Min(maxRows, 64), maxFloats: 16L << 20);
        var result = new Dictionary<string, double>();
        foreach (var w in weights)
        {
            if (!captured.TryGetValue(w.Consumer.Input[0], out var rows) || rows.Length == 0) continue;
            var tensor = OnnxGraphEditor.Initializer(g, w.Name)!;
            var values = OnnxTensors.ReadFloats(tensor);
            bool transB = w.Consumer.OpType == "Gemm" && (OnnxGraphEditor.Attribute(w.Consumer, "transB")?.I ?? 0) == 1;
            // As [K, N]: input dimension first.
            int k = (int)tensor.Dims[transB ? 1 : 0], n = (int)tensor.Dims[transB ? 0 : 1];
            var weight = new float[values.Length];
            for (int r = 0; r < k; r++)
                for (int c = 0; c < n; c++) weight[r * n + c] = transB ? values[c * k + r] : values[r * n + c];
            var delta = Int4Delta(weight, k, n, blockSize);
            result[w.Name] = OutputNsr(weight, delta, k, n, Sample(rows, k));
        }
        return result;
    }

    /// <summary>Noise-to-signal power of an embedding table's rows stored INT4 in blocks of <paramref name="blockSize"/> along each row.</summary>
    public static double Int4Table(float[] table, long width, int blockSize)
    {
        double signal = 0, noise = 0;
        for (long from = 0; from < table.Length; from += blockSize)
        {
            float maxAbs = 0;
            for (long i = from; i < from + blockSize && i < table.Length; i++) maxAbs = Math.Max(maxAbs, Math.Abs(table[i]));
            float s = maxAbs > 0 ? maxAbs / 7f : 1f;
            for (long i = from; i < from + blockSize && i < table.Length; i++)
            {
                double d = Math.Clamp(MathF.Round(table[i] / s), -7, 7) * s - table[i];
                signal += (double)table[i] * table[i];
                noise += d * d;
            }
        }
        return signal > 0 ? noise / signal : 0;
    }

    /// <summary>Ŵ − W for symmetric 4-bit blocks of <paramref name="blockSize"/> along K in each output column (as MatMulNBits stores them).</summary>
    private static float[] Int4Delta(float[] w, int k, int n, int blockSize)
    {
        var delta = new float[w.Length];
        for (int c = 0; c < n; c++)
            for (int from = 0; from < k; from += blockSize)
            {
                int to = Math.Min(k, from + blockSize);
                float maxAbs = 0;
                for (int r = from; r < to; r++) maxAbs = Math.Max(maxAbs, Math.Abs(w[r * n + c]));
                float s = maxAbs > 0 ? maxAbs / 7f : 1f;
                for (int r = from; r < to; r++) delta[r * n + c] = Math.Clamp(MathF.Round(w[r * n + c] / s), -7, 7) * s - w[r * n + c];
            }
        return delta;
    }

    /// <summary>Up to <see cref="SampleVectors"/> input vectors of width <paramref name="k"/>, evenly spread over the recorded rows and positions.</summary>
    private static List<float[]> Sample(float[][] rows, int k)
    {
        long total = rows.Sum(r => (long)(r.Length / k));
        long step = Math.Max(1, total / SampleVectors);
        var sample = new List<float[]>();
        long index = 0;
        foreach (var row in rows)
            for (int v = 0; v + k <= row.Length; v += k, index++)
                if (index % step == 0 && sample.Count < SampleVectors) sample.Add(row.AsSpan(v, k).ToArray());
        return sample;
    }

    private static double OutputNsr(float[] w, float[] delta, int k, int n, List<float[]> xs)
    {
        double signal = 0, noise = 0;
        var y = new double[n];
        var e = new double[n];
        foreach (var x in xs)
        {
            Array.Clear(y);
            Array.Clear(e);
            for (int r = 0; r < k; r++)
            {
                float xr = x[r];
                if (xr == 0) continue;
                int row = r * n;
                for (int c = 0; c < n; c++)
                {
                    y[c] += xr * w[row + c];
                    e[c] += xr * delta[row + c];
                }
            }
            for (int c = 0; c < n; c++) { signal += y[c] * y[c]; noise += e[c] * e[c]; }
        }
        return signal > 0 ? noise / signal : 0;
    }
}
