using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Benchmarks.Distillation;

/// <summary>
/// A student's own featurization for Letter's 16 numeric features: the features and their 120 pairwise
/// differences (column "Oblique", 136 values). A split on x_i − x_j is an oblique split for an axis-aligned tree,
/// which a 16-leaf tree otherwise spends several splits on; the labels-only student gets the same featurization.
/// One ML.NET CustomMapping (a delegate per row), saved under <see cref="Contract"/>.
/// </summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class PairwiseDifferences : CustomMappingFactory<PairwiseDifferences.Input, PairwiseDifferences.Output>
{
    public const string Contract = "Benchmarks.LetterPairwiseDifferences";
    private const int Width = 16, OutputWidth = Width + Width * (Width - 1) / 2;

    /// <summary>The featurizer, to put before a student's trainer (whose feature column is then "Oblique").</summary>
    public static IEstimator<ITransformer> Estimator(MLContext ml)
    {
        ml.ComponentCatalog.RegisterAssembly(typeof(PairwiseDifferences).Assembly); // a saved student loads by contract
        return ml.Transforms.CustomMapping(new PairwiseDifferences().GetMapping(), Contract);
    }

    public override Action<Input, Output> GetMapping() => (input, output) =>
    {
        var f = input.Features;
        var o = new float[OutputWidth];
        Array.Copy(f, o, Width);
        int k = Width;
        for (int i = 0; i < Width; i++)
            for (int j = i + 1; j < Width; j++)
                o[k++] = f[i] - f[j];
        output.Oblique = o;
    };

    public sealed class Input
    {
        [VectorType(Width)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class Output
    {
        [VectorType(OutputWidth)] public float[] Oblique { get; set; } = Array.Empty<float>();
    }
}
