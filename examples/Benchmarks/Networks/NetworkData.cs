using Microsoft.ML;
using Microsoft.ML.Data;

namespace Benchmarks.Networks;

/// <summary>A CSV of Label + F numeric columns, as an IDataView (Label text, Features float[F]) and as plain arrays.</summary>
public sealed class NetworkData
{
    public required IDataView View { get; init; }
    public required int[] Labels { get; init; }
    public required float[][] Features { get; init; }
    public int FeatureCount => Features[0].Length;

    public static NetworkData Load(MLContext ml, string path, int featureCount, Func<string, int> classOf)
    {
        var view = ml.Data.Cache(ml.Data.LoadFromTextFile(path, new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' },
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, featureCount) },
        }));
        return new NetworkData
        {
            View = view,
            Labels = view.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => classOf(l.ToString())).ToArray(),
            Features = view.GetColumn<VBuffer<float>>("Features").Select(v => v.DenseValues().ToArray()).ToArray(),
        };
    }

    /// <summary>Share of rows whose largest logit in the model's Score column is the true class.</summary>
    public double Accuracy(ITransformer model)
    {
        var logits = model.Transform(View).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        int right = 0;
        for (int i = 0; i < logits.Length; i++)
            if (Array.IndexOf(logits[i], logits[i].Max()) == Labels[i]) right++;
        return right / (double)logits.Length;
    }
}

/// <summary>PredictionEngine input: the raw features (its vector size is set at run time by a SchemaDefinition).</summary>
public sealed class NetworkInput
{
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>PredictionEngine output: the network's logits.</summary>
public sealed class NetworkOutput
{
    public float[] Score { get; set; } = Array.Empty<float>();
}
