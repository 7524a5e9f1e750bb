using Microsoft.ML.Compression;

namespace Benchmarks.Common;

/// <summary>One measured quantity for every variant of a scenario (null where it does not apply).</summary>
public sealed record MetricRow(string Metric, string Unit, bool HigherIsBetter, double?[] Values, string Format = "F0");

/// <summary>One scenario: its variants side by side (the first is the baseline the ratios divide by).</summary>
public sealed class ScenarioResult
{
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public string[] Variants { get; init; } = Array.Empty<string>();
    /// <summary>Whether tables add a "variant ÷ baseline" column per variant (off for wide summary tables whose first column is no baseline).</summary>
    public bool Ratios { get; init; } = true;
    public List<MetricRow> Rows { get; } = new();
    public MemoryFigures? Memory { get; set; }
    public double Seconds { get; set; }
    public List<string> Notes { get; } = new();
    /// <summary>Per-layer pruning sensitivity, when the scenario sweeps it (tabulated and plotted).</summary>
    public IReadOnlyList<LayerSensitivity>? Sensitivity { get; set; }
    /// <summary>The metric of <see cref="Sensitivity"/>, e.g. "accuracy".</summary>
    public string? SensitivityMetric { get; set; }
    /// <summary>Per-tensor SQNR of each quantized variant (variant name → its Quantize row's tensors), tabulated and plotted.</summary>
    public Dictionary<string, IReadOnlyList<TensorError>> TensorErrors { get; } = new();

    public void Add(string metric, string unit, bool higherIsBetter, string format, params double?[] values)
    {
        if (values.Length != Variants.Length) throw new ArgumentException($"{metric}: {values.Length} values for {Variants.Length} variants.");
        Rows.Add(new MetricRow(metric, unit, higherIsBetter, values, format));
    }

    /// <summary>value ÷ baseline value, for every variant after the first.</summary>
    public static double? Ratio(MetricRow row, int variant)
        => row.Values[0] is double b && b != 0 && row.Values[variant] is double v ? v / b : null;
}

/// <summary>Everything one run produced, with the machine it ran on.</summary>
public sealed class BenchmarkReport
{
    public string Mode { get; init; } = "";
    public DateTimeOffset StartedAt { get; init; }
    public string Machine { get; init; } = "";
    public string Runtime { get; init; } = "";
    public int ProcessorCount { get; init; }
    public string Method { get; init; } = "";
    public List<ScenarioResult> Scenarios { get; } = new();
    public double TotalSeconds { get; set; }
}
