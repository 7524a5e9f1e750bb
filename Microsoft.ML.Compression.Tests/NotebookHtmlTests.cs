using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.ML;
using Microsoft.ML.Compression.Interactive;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The notebook extension's HTML: a pruning sensitivity sweep and a report display as their plots (inline SVG) plus
/// tables, through .NET Interactive's own formatter lookup.
/// </summary>
[TestClass]
public sealed class NotebookHtmlTests
{
    private static int Count(string html, string pattern) => Regex.Matches(html, pattern).Count;

    private static List<LayerSensitivity> Sweep() => new()
    {
        new LayerSensitivity { Layer = "fc1.weight", Weights = 1024, Baseline = 0.9, Metric = new Dictionary<double, double> { [0.5] = 0.9, [0.8] = 0.88, [0.9] = 0.7 } },
        new LayerSensitivity { Layer = "fc2.weight", Weights = 256, Baseline = 0.9, Metric = new Dictionary<double, double> { [0.5] = 0.89, [0.8] = 0.85, [0.9] = 0.5 } },
    };

    [TestMethod]
    public void ASensitivitySweepShowsOneLinePerLayerAndItsTable()
    {
        CompressionFormatters.Register();
        var sweep = Sweep();
        string html = sweep.ToDisplayString(HtmlFormatter.MimeType);
        Assert.AreEqual(3, Count(html, "<polyline class=\"series\""), "a line per layer and the dashed unpruned line");
        Assert.AreEqual(6, Count(html, "<circle "), "a point per layer and sparsity");
        Assert.AreEqual(2, Count(html, "<tr><td>fc"), "a table row per layer");
        StringAssert.Contains(html, "<th>90 %</th>");
        // The same through the interface type PruningSensitivity is declared with.
        Assert.AreEqual(html, SensitivityHtml.Format(sweep));
    }

    [TestCategory("Slow")]
    [TestMethod]
    public void AReportShowsSizeBarsPerStageAndTheWorstTensorsSqnr()
    {
        CompressionFormatters.Register();
        var ml = new MLContext(seed: 1);
        var data = TestData.Head(ml, TestData.Letter(ml), 300);
        using var quantized = ml.Compression().Quantize(TestData.Network("letter_mlp"), Precision.Int8).Fit(data);
        var report = quantized.Report;
        int tensors = report.Stages.Sum(s => s.TensorErrors?.Count ?? 0);
        Assert.IsTrue(tensors > 0, "the Quantize stage measured its tensors");
        string html = ((object)quantized).ToDisplayString(HtmlFormatter.MimeType);
        StringAssert.StartsWith(html, report.ToHtml(), "the report's own table comes first");
        Assert.AreEqual(report.Stages.Count + Math.Min(ReportHtml.MaxTensors, tensors), Count(html, "<rect class=\"bar\""));
        var worst = report.Stages.SelectMany(s => s.TensorErrors ?? Array.Empty<TensorError>()).OrderBy(e => e.SqnrDb).First();
        StringAssert.Contains(html, $"{worst.Name}: {worst.SqnrDb.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)}");
    }
}
