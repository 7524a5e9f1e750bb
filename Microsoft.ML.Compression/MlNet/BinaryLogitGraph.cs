using Microsoft.ML.Compression.Pipeline;
using Onnx;

namespace Microsoft.ML.Compression.MlNet;

/// <summary>
/// Turns an exported regression graph that learned the teacher's logit divided by the temperature into a binary
/// <see cref="PredictorGraph"/>: Score = T × output (an estimate of the teacher's own logit), Probability =
/// sigmoid(Score), PredictedLabel = Score &gt; 0. Why ONNX: ML.NET has no public way to make a binary classifier out
/// of a regressor it trained, while a graph with the binary contract runs through the same head as every exported
/// calibrated binary predictor (and later stages prune or quantize its trees like any other).
/// </summary>
internal static class BinaryLogitGraph
{
    public static PredictorGraph FromRegression(PredictorGraph regressor, double temperature)
    {
        if (regressor.Task != ModelTask.Regression)
            throw new InvalidOperationException("Binary logit regression needs a regression graph.");
        var model = regressor.Model.Clone();
        model.ProducerName = "Microsoft.ML.Compression (binary logit regression)";
        var g = model.Graph;
        // The regression output becomes an inner value; the binary outputs are made from it under the head's names.
        var learned = OnnxGraphEditor.UniqueName(g, "logit_over_temperature");
        PredictorExporter.RenameValue(g, HeadColumns.Score, learned);
        g.Output.Clear();

        string Name(string stem) => OnnxGraphEditor.UniqueName(g, stem);
        var t = Name("logit_temperature");
        g.Initializer.Add(OnnxTensors.Float(t, new[] { (float)temperature }));
        g.Node.Add(OnnxGraphEditor.Node("Mul", new[] { learned, t }, new[] { HeadColumns.Score }, Name("logit_unsoften")));
        g.Node.Add(OnnxGraphEditor.Node("Sigmoid", new[] { HeadColumns.Score }, new[] { HeadColumns.Probability }, Name("logit_sigmoid")));
        // ML.NET's calibrated binary predictors decide on the score, positive when it is above 0.
        var zero = Name("logit_zero");
        g.Initializer.Add(OnnxTensors.Float(zero, new[] { 0f }));
        g.Node.Add(OnnxGraphEditor.Node("Greater", new[] { HeadColumns.Score, zero }, new[] { HeadColumns.PredictedLabel }, Name("logit_decision")));

        g.Output.Add(OnnxGraphEditor.TensorValue(HeadColumns.Score, OnnxType.Float, 1));
        g.Output.Add(OnnxGraphEditor.TensorValue(HeadColumns.Probability, OnnxType.Float, 1));
        g.Output.Add(OnnxGraphEditor.TensorValue(HeadColumns.PredictedLabel, OnnxType.Bool, 1));
        return new PredictorGraph
        {
            Model = model, Task = ModelTask.BinaryClassification, FeatureColumn = regressor.FeatureColumn, FeatureCount = regressor.FeatureCount,
            HasProbability = true,
        };
    }
}
