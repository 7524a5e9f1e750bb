namespace Microsoft.ML.Compression;

/// <summary>The text-featurization settings of <see cref="PruningOptions"/> (<see cref="PruningOptions.Text"/>).</summary>
/// <example><code>new PruningOptions { TargetSparsity = 0.9, Text = { PruneFeaturizerVocabulary = true } }</code></example>
public sealed class TextPruningOptions
{
    /// <summary>
    /// Also remove, from the featurization before a linear predictor (ML.NET's <c>FeaturizeText</c>), the n-grams
    /// whose coefficients pruning set to zero, so the saved model really loses the vocabulary that dominates it.
    /// The featurization is exported with <c>mlContext.Model.ConvertToOnnx</c>, its n-gram pools and token
    /// dictionaries are cut to what the kept coefficients read, and from then on it runs in ONNX Runtime as an
    /// OnnxTransformer (the case normalization stays ML.NET's <c>NormalizeText</c>). Its L2 normalization then spans
    /// the kept n-grams only, so with <see cref="PruningOptions.Reconstruct"/> (default) the kept coefficients and the bias are refitted
    /// by least squares to reproduce the original model's scores on the fit data. Default false: the featurization
    /// stays the user's own transformers.
    /// </summary>
    /// <remarks>
    /// Needs a featurization ML.NET can export: <c>FeaturizeText</c> exports only with
    /// <c>KeepDiacritics = true</c> (and the default <c>KeepNumbers</c>/<c>KeepPunctuations</c>, no stop-word
    /// removal) and a single input text column per <c>FeaturizeText</c> (featurize each column separately and
    /// <c>Concatenate</c> the results); otherwise <see cref="UnsupportedModelException"/> says what fails. Character
    /// n-grams of characters outside the Basic Multilingual Plane (emoji) differ slightly: ML.NET counts UTF-16
    /// code units, ONNX Runtime code points.
    /// </remarks>
    /// <example>
    /// <code>
    /// var teacher = ml.Transforms.Text.FeaturizeText("Features", new TextFeaturizingEstimator.Options { KeepDiacritics = true }, "body")
    ///     .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression()).Fit(train);
    /// var pruned = ml.Compression().Prune(teacher, new PruningOptions { TargetSparsity = 0.9, Text = { PruneFeaturizerVocabulary = true } }).Fit(train);
    /// </code>
    /// </example>
    public bool PruneFeaturizerVocabulary { get; set; }

    internal TextPruningOptions Copy() => (TextPruningOptions)MemberwiseClone();
}
