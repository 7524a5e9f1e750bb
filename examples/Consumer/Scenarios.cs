// Shared by examples/CompressedModels (which writes the models) and examples/Consumer (which reads them back):
// the scenario list, the file names in the output folder, the CSV loaders of the data files (as the tests define
// them in Microsoft.ML.Compression.Tests/TestData.cs), the typed rows for a PredictionEngine and the prediction CSV
// format. It uses Microsoft.ML only, so the Consumer compiles it without the compression library.
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Examples.CompressedModels;

public enum ScenarioKind { Binary, Multiclass, Regression }

/// <summary>One compressed model: its name (the file stem in the output folder), its data file and its task.</summary>
public sealed record Scenario(string Name, string DataFile, ScenarioKind Kind, string Description)
{
    public string ZipPath(string dir) => Path.Combine(dir, Name + ".zip");

    /// <summary>The scored rows: the data file's header and the first 200 test rows, byte for byte.</summary>
    public string InputPath(string dir) => Path.Combine(dir, Name + ".input.csv");

    /// <summary>The compressing app's predictions on <see cref="InputPath"/>: see <see cref="PredictionCsv"/>.</summary>
    public string PredictionsPath(string dir) => Path.Combine(dir, Name + ".predictions.csv");
}

public static class Scenarios
{
    public const string Churn = "wa_churn.csv", Letter = "letter.csv", Cps = "cps1988.csv", Mails = "spamassassin_3000.csv";

    public static readonly Scenario[] All =
    {
        new("binary-fasttree", Churn, ScenarioKind.Binary, "wa_churn, FastTree 200 trees, Prune(0.8) + Quantize(Int8)"),
        new("binary-distilled-lightgbm", Churn, ScenarioKind.Binary, "wa_churn, FastTree teacher distilled into LightGBM 50 trees, Prune + Quantize(Int8)"),
        new("multiclass-letter-lightgbm", Letter, ScenarioKind.Multiclass, "letter A-Z, MapValueToKey + LightGBM multiclass + MapKeyToValue, Prune"),
        new("regression-cps-fasttree", Cps, ScenarioKind.Regression, "cps1988 wages, FastTree regression 200 trees, Prune + Quantize(Int8)"),
        new("linear-churn-sdca", Churn, ScenarioKind.Binary, "wa_churn, SDCA logistic regression (calibrated), Prune(0.5)"),
        new("text-spam-lbfgs", Mails, ScenarioKind.Binary, "spamassassin text, FeaturizeText + L-BFGS logistic regression, Prune(0.5)"),
    };
}

/// <summary>The CSV loaders of the data files, column for column as Microsoft.ML.Compression.Tests/TestData.cs reads them.</summary>
public static class DataFiles
{
    public static readonly string[] ChurnNumeric = { "female", "senior_citizen", "partner", "dependents", "tenure", "phone_service", "paperless_billing", "monthly_charges", "total_charges" };
    public static readonly string[] ChurnCategorical = { "multiple_lines", "internet_service", "online_security", "online_backup", "device_protection", "tech_support", "streaming_tv", "streaming_movies", "contract", "payment_method" };

    /// <summary>Loads <paramref name="path"/>, a copy (or a subset of the rows) of data file <paramref name="dataFile"/>.</summary>
    public static IDataView Load(MLContext ml, string dataFile, string path) => ml.Data.LoadFromTextFile(path, Options(dataFile, path));

    public static TextLoader.Options Options(string dataFile, string path) => dataFile switch
    {
        // Telco churn: Label "Yes"/"No", numeric columns (11 missing total_charges as NaN) and categorical strings.
        Scenarios.Churn => new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true, MissingRealsAsNaNs = true,
            Columns = File.ReadLines(path).First().Split(',')
                .Select((name, i) => new TextLoader.Column(name, ChurnNumeric.Contains(name) ? DataKind.Single : DataKind.String, i)).ToArray(),
        },
        // Letter recognition: Label A..Z, 16 numeric features.
        Scenarios.Letter => new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("Features", DataKind.Single, 1, 16) },
        },
        // CPS 1988 wages: Label (wage), education, experience, and categorical ethnicity, smsa, region, parttime.
        Scenarios.Cps => new TextLoader.Options
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
        },
        // SpamAssassin: Label "spam"/"ham", raw subject and body text.
        Scenarios.Mails => new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { ',' }, AllowQuoting = true,
            Columns = new[] { new TextLoader.Column("Label", DataKind.String, 0), new TextLoader.Column("subject", DataKind.String, 1), new TextLoader.Column("body", DataKind.String, 2) },
        },
        _ => throw new ArgumentException($"unknown data file {dataFile}"),
    };
}

/// <summary>
/// The prediction CSV: a header "Score,PredictedLabel", then one line per input row: the Score values (all classes
/// for multiclass) joined with ';' in round-trip format, a comma, and PredictedLabel as text (bool: True/False;
/// empty for regression, which has none).
/// </summary>
public static class PredictionCsv
{
    public const string Header = "Score,PredictedLabel";

    public static string Format(float[] score, string label)
        => string.Join(";", score.Select(s => s.ToString("R", CultureInfo.InvariantCulture))) + "," + label;

    public static void Write(string path, IEnumerable<(float[] Score, string Label)> rows)
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var (score, label) in rows) sb.Append(Format(score, label)).Append('\n');
        File.WriteAllText(path, sb.ToString());
    }

    public static List<(float[] Score, string Label)> Read(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0] != Header) throw new InvalidDataException($"{path}: header is not '{Header}'");
        return lines.Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            int comma = l.IndexOf(',');
            var score = l[..comma].Split(';').Select(s => float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
            return (score, l[(comma + 1)..]);
        }).ToList();
    }

    /// <summary>Score and PredictedLabel of every row of a scored data view (batch scoring).</summary>
    public static List<(float[] Score, string Label)> FromScored(IDataView scored)
    {
        var scoreCol = scored.Schema["Score"];
        var labelCol = scored.Schema.GetColumnOrNull("PredictedLabel");
        var cols = labelCol is { } l ? new[] { scoreCol, l } : new[] { scoreCol };
        using var cursor = scored.GetRowCursor(cols);
        Func<float[]> score;
        if (scoreCol.Type is VectorDataViewType)
        {
            var get = cursor.GetGetter<VBuffer<float>>(scoreCol);
            VBuffer<float> v = default;
            score = () => { get(ref v); return v.DenseValues().ToArray(); };
        }
        else
        {
            var get = cursor.GetGetter<float>(scoreCol);
            float f = 0;
            score = () => { get(ref f); return new[] { f }; };
        }
        Func<string> label = () => "";
        if (labelCol is { } lc)
        {
            if (lc.Type is BooleanDataViewType)
            {
                var get = cursor.GetGetter<bool>(lc); bool b = false;
                label = () => { get(ref b); return b.ToString(); };
            }
            else if (lc.Type is TextDataViewType)
            {
                var get = cursor.GetGetter<ReadOnlyMemory<char>>(lc); ReadOnlyMemory<char> t = default;
                label = () => { get(ref t); return t.ToString(); };
            }
            else throw new InvalidDataException($"PredictedLabel has type {lc.Type}, not Boolean or Text");
        }
        var rows = new List<(float[], string)>();
        while (cursor.MoveNext()) rows.Add((score(), label()));
        return rows;
    }
}

/// <summary>A typed prediction of a PredictionEngine, as the prediction CSV writes it.</summary>
public interface IPrediction
{
    float[] GetScore();
    string GetLabel();
}

public sealed class BinaryPrediction : IPrediction
{
    public bool PredictedLabel { get; set; }
    public float Score { get; set; }
    public float[] GetScore() => new[] { Score };
    public string GetLabel() => PredictedLabel.ToString();
}

public sealed class MulticlassPrediction : IPrediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
    public float[] GetScore() => Score;
    public string GetLabel() => PredictedLabel;
}

public sealed class RegressionPrediction : IPrediction
{
    public float Score { get; set; }
    public float[] GetScore() => new[] { Score };
    public string GetLabel() => "";
}

/// <summary>One row of letter.csv.</summary>
public sealed class LetterRow
{
    public string Label { get; set; } = "";
    [VectorType(16)]
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>One row of cps1988.csv.</summary>
public sealed class CpsRow
{
    public float Label { get; set; }
    public float education { get; set; }
    public float experience { get; set; }
    public string ethnicity { get; set; } = "";
    public string smsa { get; set; } = "";
    public string region { get; set; } = "";
    public string parttime { get; set; } = "";
}

/// <summary>One e-mail of spamassassin_3000.csv.</summary>
public sealed class MailRow
{
    public string Label { get; set; } = "";
    public string subject { get; set; } = "";
    public string body { get; set; } = "";
}
