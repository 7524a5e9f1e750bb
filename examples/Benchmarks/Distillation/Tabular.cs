using Microsoft.ML;
using Microsoft.ML.Data;
using Benchmarks.Common;
using Microsoft.ML.Trainers.LightGbm;

namespace Benchmarks.Distillation;

/// <summary>A CSV of data/ (first column Label) turned into one float vector Features and a label, in memory.</summary>
public static class Tabular
{
    /// <summary>
    /// The binary scenarios' large teacher: LightGBM up to 1000 trees (200 quick) × 64 leaves, learning rate 0.03,
    /// early-stopped on <paramref name="valid"/> after 100 rounds without gain; one thread.
    /// </summary>
    public static ITransformer LargeBinaryTeacher(MLContext ml, Settings s, IDataView train, IDataView valid)
        => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
        {
            NumberOfIterations = s.Quick ? 200 : 1000, NumberOfLeaves = 64, LearningRate = 0.03, EarlyStoppingRound = 100,
            MinimumExampleCountPerLeaf = 10, NumberOfThreads = 1, Seed = 1,
        }).Fit(train, valid);

    /// <summary>The binary scenarios' student: LightGBM <paramref name="trees"/> × 16 leaves, one thread, optional example weights.</summary>
    public static LightGbmBinaryTrainer BinaryStudent(MLContext ml, int trees, double learningRate, string? weight, int minimumLeafSize = 10, string featureColumn = "Features")
        => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
        {
            NumberOfIterations = trees, NumberOfLeaves = 16, LearningRate = learningRate, MinimumExampleCountPerLeaf = minimumLeafSize,
            NumberOfThreads = 1, Seed = 1, ExampleWeightColumnName = weight, FeatureColumnName = featureColumn,
        });

    /// <summary><see cref="BinaryStudent"/> reading Letter's features and their pairwise differences (<see cref="PairwiseDifferences"/>).</summary>
    public static IEstimator<ITransformer> ObliqueStudent(MLContext ml, int trees, double learningRate, string? weight, int minimumLeafSize = 10)
        => PairwiseDifferences.Estimator(ml).Append(BinaryStudent(ml, trees, learningRate, weight, minimumLeafSize, "Oblique"));

    /// <summary>
    /// The regression student of <see cref="BinaryTargets.LogitRegression"/>: LightGBM <paramref name="trees"/> × 16 leaves,
    /// one thread, the same shape as <see cref="BinaryStudent"/>.
    /// </summary>
    public static LightGbmRegressionTrainer LogitStudent(MLContext ml, int trees, double learningRate, int minimumLeafSize = 10)
        => ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
        {
            NumberOfIterations = trees, NumberOfLeaves = 16, LearningRate = learningRate, MinimumExampleCountPerLeaf = minimumLeafSize,
            NumberOfThreads = 1, Seed = 1,
        });

    /// <summary>
    /// Loads <paramref name="file"/>: columns whose every value parses as a number are numeric (empty = NaN, then
    /// the mean), the others are one-hot encoded; everything is concatenated into Features. The featurization is
    /// fitted once on the whole file (the benchmark compares predictors, not featurizers).
    /// </summary>
    public static (IDataView data, int featureCount) Load(MLContext ml, string file, DataKind labelKind)
    {
        var path = Benchmarks.Common.Settings.DataPath(file);
        var lines = File.ReadLines(path).ToList();
        var header = lines[0].Split(',');
        var numeric = Enumerable.Range(0, header.Length).Select(i => i > 0 && lines.Skip(1).All(l =>
        {
            var v = l.Split(',')[i];
            return v.Length == 0 || float.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _);
        })).ToArray();
        var columns = header.Select((name, i) => new TextLoader.Column(name, i == 0 ? labelKind : numeric[i] ? DataKind.Single : DataKind.String, i)).ToArray();
        var raw = ml.Data.LoadFromTextFile(path, new TextLoader.Options { HasHeader = true, Separators = new[] { ',' }, MissingRealsAsNaNs = true, Columns = columns });
        var num = header.Where((_, i) => i > 0 && numeric[i]).ToArray();
        var cat = header.Where((_, i) => i > 0 && !numeric[i]).ToArray();
        IEstimator<ITransformer> f = ml.Transforms.ReplaceMissingValues(num.Select(c => new InputOutputColumnPair(c + "#", c)).ToArray());
        if (cat.Length > 0) f = f.Append(ml.Transforms.Categorical.OneHotEncoding(cat.Select(c => new InputOutputColumnPair(c + "#", c)).ToArray()));
        f = f.Append(ml.Transforms.Concatenate("Features", num.Concat(cat).Select(c => c + "#").ToArray()))
            .Append(ml.Transforms.SelectColumns("Label", "Features"));
        var featurized = f.Fit(raw).Transform(raw);
        var cached = ml.Data.Cache(featurized);
        return (cached, ((VectorDataViewType)cached.Schema["Features"].Type).Size);
    }

    /// <summary>Rows of a featurized binary data set for a PredictionEngine.</summary>
    public static List<FeatureRow> Rows(MLContext ml, IDataView data)
    {
        var def = SchemaDefinition.Create(typeof(FeatureRow));
        def["Features"].ColumnType = data.Schema["Features"].Type;
        return ml.Data.CreateEnumerable<FeatureRow>(data, reuseRowObject: false, schemaDefinition: def).ToList();
    }

    /// <summary>Trees in a fitted tree predictor (LightGBM, FastTree; calibrated or not), or null.</summary>
    public static int? TreeCount(ITransformer model)
    {
        var last = model is TransformerChain<ITransformer> chain ? chain.LastTransformer : model;
        static object? Prop(object? o, string name) => o?.GetType().GetProperties().FirstOrDefault(p => p.Name == name && p.GetIndexParameters().Length == 0)?.GetValue(o);
        object? p = Prop(last, "Model");
        p = Prop(p, "SubModel") ?? p;
        var trees = Prop(Prop(p, "TrainedTreeEnsemble"), "Trees") as System.Collections.ICollection;
        return trees?.Count;
    }
}

/// <summary>One row of a featurized binary data set: what a PredictionEngine is fed (the label is not read).</summary>
public sealed class FeatureRow
{
    public bool Label { get; set; }
    public float[] Features { get; set; } = Array.Empty<float>();
}
