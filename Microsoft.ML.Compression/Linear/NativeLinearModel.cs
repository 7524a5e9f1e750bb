using Microsoft.ML.Compression.Native;

namespace Microsoft.ML.Compression.Linear;

/// <summary>
/// A linear predictor as ML.NET saves it, read into dense weights [class][feature] and biases and written back in
/// the same form (dense stays dense; sparse stays sparse, with only the non-zero weights). Binary and regression
/// models (<c>LinearModelParameters</c>: logistic regression, SDCA, averaged perceptron, OGD, Poisson, …) have one
/// class; multiclass ones (<c>LinearMulticlassModelParametersBase</c>: maximum entropy, SDCA non-calibrated) K.
/// The bytes after the weights are kept as they are.
/// </summary>
internal sealed class NativeLinearModel
{
    private static readonly HashSet<string> SingleOutput = new() { "Linear2CExec", "LinearRegressionExec", "PoissonRegressionExec" };
    private static readonly HashSet<string> Multiclass = new() { "MultiClassLRExec", "MulticlassLinear" };

    public static bool IsLinear(ModelFile file) => SingleOutput.Contains(file.LoaderSignature) || Multiclass.Contains(file.LoaderSignature);

    public required string Signature { get; init; }
    public required float[][] Weights { get; init; }
    public required float[] Biases { get; init; }
    public int FeatureCount => Weights[0].Length;
    public int ClassCount => Weights.Length;
    private bool _sparse;
    private byte[] _rest = Array.Empty<byte>();

    public static NativeLinearModel Read(ModelFile file, string source)
    {
        var r = new ModelBlockReader(file.ModelBlock, source);
        r.Expect(r.Int() == sizeof(float), "the float size");
        return SingleOutput.Contains(file.LoaderSignature) ? ReadSingle(r, file.LoaderSignature) : ReadMulticlass(r, file.LoaderSignature);
    }

    private static NativeLinearModel ReadSingle(ModelBlockReader r, string signature)
    {
        float bias = r.Float();
        int length = r.Int();
        r.Expect(length > 0 && length <= 1 << 28, "the feature count");
        int indexCount = r.Int();
        r.Expect(indexCount >= 0 && indexCount < length, "the index count");
        var indices = r.Ints(indexCount);
        var values = r.Floats();
        r.Expect(values.Length == indexCount || (indexCount == 0 && values.Length == length), "the weight count");
        var weights = new float[length];
        if (indexCount == 0) values.CopyTo(weights, 0);
        else
            for (int i = 0; i < indexCount; i++)
            {
                r.Expect(indices[i] >= 0 && indices[i] < length && (i == 0 || indices[i] > indices[i - 1]), "the weight indices");
                weights[indices[i]] = values[i];
            }
        return new NativeLinearModel { Signature = signature, Weights = new[] { weights }, Biases = new[] { bias }, _sparse = indexCount > 0, _rest = r.Rest() };
    }

    private static NativeLinearModel ReadMulticlass(ModelBlockReader r, string signature)
    {
        int features = r.Int(), classes = r.Int();
        // The weights are held dense: bound them (a corrupt block could claim any size; 2^28 floats is 1 GB).
        r.Expect(features >= 1 && classes >= 1 && (long)features * classes <= 1L << 28, "the model's size");
        var biases = r.Floats(classes);
        int starts = r.Int();
        var weights = new float[classes][];
        if (starts == 0)
        {
            r.Expect(r.Int() == 0, "the index count");
            r.Expect(r.Int() == classes * features, "the weight count");
            for (int k = 0; k < classes; k++) weights[k] = r.Floats(features);
        }
        else
        {
            r.Expect(starts == classes + 1, "the row starts");
            var start = r.Ints(starts);
            for (int k = 0; k < classes; k++) r.Expect(start[k] <= start[k + 1], "the row starts");
            r.Expect(start[0] == 0 && r.Int() == start[classes], "the index count");
            var indices = new int[classes][];
            for (int k = 0; k < classes; k++) indices[k] = r.Ints(start[k + 1] - start[k]);
            r.Expect(r.Int() == start[classes], "the weight count");
            for (int k = 0; k < classes; k++)
            {
                var values = r.Floats(start[k + 1] - start[k]);
                weights[k] = new float[features];
                for (int i = 0; i < values.Length; i++)
                {
                    r.Expect(indices[k][i] >= 0 && indices[k][i] < features, "the weight indices");
                    weights[k][indices[k][i]] = values[i];
                }
            }
        }
        return new NativeLinearModel { Signature = signature, Weights = weights, Biases = biases, _sparse = starts != 0, _rest = r.Rest() };
    }

    /// <summary>The same model (form, bytes after the weights) with other weights and biases.</summary>
    public NativeLinearModel With(float[][] weights, float[] biases)
        => new() { Signature = Signature, Weights = weights, Biases = biases, _sparse = _sparse, _rest = _rest };

    public byte[] Write()
    {
        var w = new ModelBlockWriter();
        w.Int(sizeof(float));
        if (SingleOutput.Contains(Signature))
        {
            var weights = Weights[0];
            w.Float(Biases[0]);
            w.Int(weights.Length);
            var nonZero = Enumerable.Range(0, weights.Length).Where(i => weights[i] != 0f).ToArray();
            // ML.NET reads a sparse vector only with fewer indices than features.
            if (_sparse && nonZero.Length < weights.Length)
            {
                w.Ints(nonZero);
                w.Floats(nonZero.Select(i => weights[i]).ToArray());
            }
            else
            {
                w.Ints(Array.Empty<int>());
                w.Floats(weights);
            }
        }
        else
        {
            w.Int(FeatureCount);
            w.Int(ClassCount);
            w.Floats(Biases, count: false);
            if (!_sparse)
            {
                w.Int(0);
                w.Int(0);
                w.Int(ClassCount * FeatureCount);
                foreach (var row in Weights) w.Floats(row, count: false);
            }
            else
            {
                var nonZero = Weights.Select(row => Enumerable.Range(0, row.Length).Where(i => row[i] != 0f).ToArray()).ToArray();
                w.Int(ClassCount + 1);
                int total = 0;
                w.Int(0);
                foreach (var idx in nonZero) { total += idx.Length; w.Int(total); }
                w.Int(total);
                foreach (var idx in nonZero) w.Ints(idx, count: false);
                w.Int(total);
                for (int k = 0; k < ClassCount; k++) w.Floats(nonZero[k].Select(i => Weights[k][i]).ToArray(), count: false);
            }
        }
        w.Bytes(_rest);
        return w.ToArray();
    }
}
