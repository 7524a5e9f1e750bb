using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Tests;

/// <summary>The real data subsets committed under Data/ (see Data/README.md), loaded the way an ML.NET user would.</summary>
internal static class TestData
{
    public static string Path(string file) => System.IO.Path.Combine(AppContext.BaseDirectory, "Data", file);

    /// <summary>An ONNX network of Data/models/ (see tools/), e.g. Network("letter_mlp").</summary>
    public static string Network(string name) => Path(System.IO.Path.Combine("models", name + ".onnx"));

    public static readonly string[] SpamFeatures = Enumerable.Range(1, 57).Select(i => $"F{i}").ToArray();

    /// <summary>Spambase: Label "spam"/"nonspam", 57 numeric features.</summary>
    public static IDataView Spam(MLContext ml) => ml.Data.LoadFromTextFile(Path("spam.csv"), new TextLoader.Options
    {
        HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
        Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 57) },
    });

    /// <summary>Spam with a Boolean label, as most ML.NET samples have it.</summary>
    public static IDataView SpamBool(MLContext ml)
    {
        var raw = Spam(ml);
        return ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["spam"] = true, ["nonspam"] = false }, "Label")
            .Fit(raw).Transform(raw);
    }

    /// <summary>Letter recognition: Label A..Z, 16 numeric features (data/letter.csv, or another Letter file of data/).</summary>
    public static IDataView Letter(MLContext ml, string file = "letter.csv") => ml.Data.LoadFromTextFile(Path(file), new TextLoader.Options
    {
        HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
        Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 16) },
    });

    /// <summary>Fashion-MNIST subsets: Label (class id 0–9) then 784 raw pixels 0–255 as the float vector Features.</summary>
    public static IDataView Fashion(MLContext ml, string file) => ml.Data.LoadFromTextFile(Path(file), new TextLoader.Options
    {
        HasHeader = true, Separators = new[] { ',' },
        Columns = new[] { new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, 784) },
    });

    /// <summary>
    /// SpamAssassin e-mails as token ids for models/spam_transformer.onnx: Label 0 = ham, 1 = spam, then the first
    /// 128 token ids (0 = padding) as the float vector Features (see data/README.md for the tokenizer).
    /// </summary>
    public static IDataView SpamTokens(MLContext ml, string file) => ml.Data.LoadFromTextFile(Path(file), new TextLoader.Options
    {
        HasHeader = true, Separators = new[] { ',' },
        Columns = new[] { new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, 128) },
    });

    /// <summary>One tokenized e-mail as a token-id network takes it: Int64 ids and attention mask, padded to 128.</summary>
    public sealed class TokenRow
    {
        public float Label { get; set; }
        [VectorType(128), ColumnName("input_ids")] public long[] InputIds { get; set; } = Array.Empty<long>();
        [VectorType(128), ColumnName("attention_mask")] public long[] AttentionMask { get; set; } = Array.Empty<long>();
    }

    /// <summary>
    /// The SpamAssassin token-id rows as Int64 columns <c>input_ids</c> and <c>attention_mask</c> (1 where the id is
    /// not &lt;pad&gt; = 0), the inputs of models/spam_token_transformer.onnx; Label 0 = ham, 1 = spam.
    /// </summary>
    public static IDataView SpamTokenIds(MLContext ml, string file, int maxRows = int.MaxValue)
    {
        var rows = File.ReadLines(Path(file)).Skip(1).Take(maxRows).Select(line =>
        {
            var fields = line.Split(',');
            var ids = fields.Skip(1).Select(long.Parse).ToArray();
            return new TokenRow { Label = float.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture), InputIds = ids, AttentionMask = ids.Select(id => id != 0 ? 1L : 0L).ToArray() };
        }).ToList();
        return ml.Data.LoadFromEnumerable(rows);
    }

    /// <summary>CPS 1988 wages: Label (wage), education, experience, and categorical ethnicity, smsa, region, parttime.</summary>
    public static IDataView Cps(MLContext ml) => ml.Data.LoadFromTextFile(Path("cps1988.csv"), new TextLoader.Options
    {
        HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
        Columns = new[]
        {
            new TextLoader.Column("Label", DataKind.Single, 0),
            new TextLoader.Column("education", DataKind.Single, 1),
            new TextLoader.Column("experience", DataKind.Single, 2),
            new TextLoader.Column("ethnicity", DataKind.String, 3),
            new TextLoader.Column("smsa", DataKind.String, 4),
            new TextLoader.Column("region", DataKind.String, 5),
            new TextLoader.Column("parttime", DataKind.String, 6),
        },
    });

    public static readonly string[] ChurnNumeric = { "female", "senior_citizen", "partner", "dependents", "tenure", "phone_service", "paperless_billing", "monthly_charges", "total_charges" };
    public static readonly string[] ChurnCategorical = { "multiple_lines", "internet_service", "online_security", "online_backup", "device_protection", "tech_support", "streaming_tv", "streaming_movies", "contract", "payment_method" };

    /// <summary>Telco churn: Label "Yes"/"No", numeric columns (11 missing total_charges as NaN) and categorical strings.</summary>
    public static IDataView Churn(MLContext ml)
    {
        var header = File.ReadLines(Path("wa_churn.csv")).First().Split(',');
        return ml.Data.LoadFromTextFile(Path("wa_churn.csv"), new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true, MissingRealsAsNaNs = true,
            Columns = header.Select((name, i) => new TextLoader.Column(name, ChurnNumeric.Contains(name) ? DataKind.Single : DataKind.String, i)).ToArray(),
        });
    }

    /// <summary>Churn featurization shared by teacher and student: Yes/No → Boolean label, one-hot categoricals, NaN → mean.</summary>
    public static IEstimator<ITransformer> ChurnFeaturize(MLContext ml) =>
        ml.Transforms.Conversion.MapValue("Label", new Dictionary<string, bool> { ["Yes"] = true, ["No"] = false }, "Label")
            .Append(ml.Transforms.Categorical.OneHotEncoding(ChurnCategorical.Select(c => new InputOutputColumnPair(c + "_onehot", c)).ToArray()))
            .Append(ml.Transforms.ReplaceMissingValues(ChurnNumeric.Select(c => new InputOutputColumnPair(c + "_filled", c)).ToArray()))
            .Append(ml.Transforms.Concatenate("Features", ChurnCategorical.Select(c => c + "_onehot").Concat(ChurnNumeric.Select(c => c + "_filled")).ToArray()));

    /// <summary>Single-threaded LightGBM regression (OpenMP threads spin badly on a busy 2-core machine): the regression student of logit and per-class distillation tests.</summary>
    public static Microsoft.ML.Trainers.LightGbm.LightGbmRegressionTrainer LightGbmRegressor(MLContext ml, int leaves, int iterations)
        => ml.Regression.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmRegressionTrainer.Options
        {
            NumberOfLeaves = leaves, NumberOfIterations = iterations, NumberOfThreads = 1, MinimumExampleCountPerLeaf = 5,
        });

    /// <summary>The weights of the last linear predictor of <paramref name="model"/> (a calibrated one's inner model).</summary>
    public static float[] LinearWeights(ITransformer model)
    {
        static IEnumerable<ITransformer> Flatten(ITransformer t) => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : new[] { t };
        var parameters = Flatten(model).OfType<ISingleFeaturePredictionTransformer<object>>().Last().Model;
        var linear = parameters as Microsoft.ML.Trainers.LinearModelParameters
            ?? (Microsoft.ML.Trainers.LinearModelParameters)parameters.GetType().GetProperties().First(p => p.Name == "SubModel").GetValue(parameters)!;
        return linear.Weights.ToArray();
    }

    /// <summary>The first <paramref name="rows"/> rows, cached.</summary>
    public static IDataView Head(MLContext ml, IDataView data, int rows) => ml.Data.Cache(ml.Data.TakeRows(data, rows));

    /// <summary>A random fraction of the rows, cached (the files keep their source order, often sorted by class).</summary>
    public static IDataView Sample(MLContext ml, IDataView data, double fraction, int seed = 3)
        => ml.Data.Cache(ml.Data.TrainTestSplit(data, 1 - fraction, seed: seed).TrainSet);

    /// <summary>LETTER.p2: a Letter file with the Boolean label A–M (true) against N–Z.</summary>
    public static IDataView LetterP2(MLContext ml, string file)
    {
        var raw = Letter(ml, file);
        var p2 = Enumerable.Range('A', 26).ToDictionary(c => ((char)c).ToString(), c => c <= 'M');
        return ml.Data.Cache(ml.Transforms.Conversion.MapValue("Label", p2, "Label").Fit(raw).Transform(raw));
    }

    public static IDataView DropLabel(MLContext ml, IDataView data) => ml.Transforms.DropColumns("Label").Fit(data).Transform(data);

    public static (IDataView train, IDataView test) Split(MLContext ml, IDataView data, double testFraction = 0.3)
    {
        var split = ml.Data.TrainTestSplit(data, testFraction, seed: 7);
        return (ml.Data.Cache(split.TrainSet), ml.Data.Cache(split.TestSet));
    }

    /// <summary>Reads a Single column (or the first slot of a vector) into an array.</summary>
    public static float[] Scores(IDataView scored, string column = "Score")
    {
        var col = scored.Schema[column];
        if (col.Type is VectorDataViewType)
            return scored.GetColumn<VBuffer<float>>(col).Select(v => v.GetValues()[0]).ToArray();
        return scored.GetColumn<float>(col).ToArray();
    }

    /// <summary>
    /// Accuracy of a network's logits (the "Score" vector, argmax) against the label: letters A..Z map to 0..25,
    /// numeric labels (Fashion-MNIST class ids) are used as they are.
    /// </summary>
    /// <summary>The Score vector of every row.</summary>
    public static float[][] Logits(ITransformer model, IDataView data)
        => model.Transform(data).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();

    public static double LogitAccuracy(ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        var labels = data.Schema["Label"].Type == TextDataViewType.Instance
            ? scored.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.Span[0] - 'A').ToArray()
            : scored.GetColumn<float>("Label").Select(l => (int)l).ToArray();
        var logits = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        return labels.Zip(logits).Count(p => Array.IndexOf(p.Second, p.Second.Max()) == p.First) / (double)labels.Length;
    }

    /// <summary>Root mean squared difference between two models' scores on <paramref name="data"/> (fidelity).</summary>
    public static double ScoreRmse(ITransformer reference, ITransformer model, IDataView data)
    {
        var t = Scores(reference.Transform(data));
        var c = Scores(model.Transform(data));
        return Math.Sqrt(t.Zip(c).Average(p => (p.First - p.Second) * (p.First - p.Second)));
    }
}
