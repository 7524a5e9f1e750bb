using Examples.Shared;
using Benchmarks.Common;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Benchmarks.Trees;

/// <summary>The model's prediction for one row (binary classification).</summary>
public sealed class BinaryPrediction
{
    public bool PredictedLabel { get; set; }
    public float Score { get; set; }
    public float Probability { get; set; }
}

/// <summary>What is measured for each binary classifier of a tree scenario.</summary>
public sealed record BinaryFigures(double Auc, long ZipBytes, double BatchRowsPerSecond, double EngineRowsPerSecond, double EngineBytesPerRow);

/// <summary>AUC, saved-zip size, batch Transform throughput and PredictionEngine throughput of one binary model.</summary>
public static class BinaryModelMeasure
{
    public static BinaryFigures Measure<TIn>(MLContext ml, Settings s, ITransformer model, DataViewSchema inputSchema, IDataView test, IReadOnlyList<TIn> rows)
        where TIn : class
    {
        double auc = ml.BinaryClassification.Evaluate(model.Transform(test)).AreaUnderRocCurve;

        long zipBytes;
        using (var zip = new MemoryStream())
        {
            ml.Model.Save(model, inputSchema, zip);
            zipBytes = zip.Length;
        }

        double batch = Timing.RowsPerSecond(s, () => ScoreAll(model, test));

        using var engine = ml.Model.CreateSharedPredictionEngine<TIn, BinaryPrediction>(model, test.Schema);
        var output = new BinaryPrediction();
        int next = 0;
        void One() { engine.Predict(rows[next], ref output); next = (next + 1) % rows.Count; }
        double engineRate = Timing.RowsPerSecond(s, () => { for (int i = 0; i < rows.Count; i++) One(); return rows.Count; });
        double bytesPerRow = MemoryScope.AllocatedBytesPerCall(One);
        return new BinaryFigures(auc, zipBytes, batch, engineRate, bytesPerRow);
    }

    /// <summary>Transforms the whole test set and reads every prediction column of every row.</summary>
    public static long ScoreAll(ITransformer model, IDataView test)
    {
        var scored = model.Transform(test);
        var cols = new[] { "PredictedLabel", "Score", "Probability" }.Select(c => scored.Schema[c]).ToArray();
        using var cursor = scored.GetRowCursor(cols);
        var label = cursor.GetGetter<bool>(cols[0]);
        var score = cursor.GetGetter<float>(cols[1]);
        var prob = cursor.GetGetter<float>(cols[2]);
        bool l = false; float sc = 0, p = 0;
        long n = 0;
        while (cursor.MoveNext()) { label(ref l); score(ref sc); prob(ref p); n++; }
        return n;
    }

    /// <summary>Adds the rows of a teacher-vs-compressed comparison to <paramref name="result"/>.</summary>
    public static void AddRows(ScenarioResult result, BinaryFigures a, BinaryFigures b)
    {
        result.Add("AUC (test)", "AUC", true, "F4", a.Auc, b.Auc);
        result.Add("saved zip", "bytes", false, "F0", a.ZipBytes, b.ZipBytes);
        result.Add("batch Transform", "rows/s", true, "F0", a.BatchRowsPerSecond, b.BatchRowsPerSecond);
        result.Add("PredictionEngine", "rows/s", true, "F0", a.EngineRowsPerSecond, b.EngineRowsPerSecond);
        result.Add("PredictionEngine managed allocations", "bytes/row", false, "F0", a.EngineBytesPerRow, b.EngineBytesPerRow);
    }
}
