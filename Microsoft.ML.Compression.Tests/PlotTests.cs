using Microsoft.ML.Compression.Plotting;
using ScottPlot;
using ScottPlot.Plottables;

namespace Microsoft.ML.Compression.Tests;

/// <summary>The optional plotting assembly: what each chart draws from the library's result types.</summary>
[TestClass]
public sealed class PlotTests
{
    private static LayerSensitivity Layer(string name, double baseline, params (double Sparsity, double Metric)[] points) => new()
    {
        Layer = name,
        Weights = 100,
        Baseline = baseline,
        Metric = points.ToDictionary(p => p.Sparsity, p => p.Metric),
    };

    [TestMethod]
    public void SensitivityPlotDrawsOneLinePerLayerStartingAtTheUnprunedMetric()
    {
        var sweep = new[]
        {
            Layer("fc1", 0.88, (0.9, 0.80), (0.5, 0.87)),   // out of order: the line must be sorted by sparsity
            Layer("fc2", 0.88, (0.5, 0.88), (0.9, 0.86)),
        };
        var plot = CompressionPlots.PruningSensitivity(sweep, "accuracy", tolerance: 0.01);

        var lines = plot.GetPlottables().OfType<Scatter>().ToList();
        Assert.AreEqual(2, lines.Count);
        var fc1 = lines[0].Data.GetScatterPoints().ToList();
        CollectionAssert.AreEqual(new[] { 0.0, 50.0, 90.0 }, fc1.Select(p => p.X).ToArray());
        CollectionAssert.AreEqual(new[] { 0.88, 0.87, 0.80 }, fc1.Select(p => p.Y).ToArray());
        StringAssert.StartsWith(lines[1].LegendText, "fc2");
        // The unpruned metric and the tolerance line below it.
        var levels = plot.GetPlottables().OfType<HorizontalLine>().Select(l => l.Y).OrderBy(y => y).ToArray();
        Assert.AreEqual(2, levels.Length);
        Assert.AreEqual(0.87, levels[0], 1e-12);
        Assert.AreEqual(0.88, levels[1], 1e-12);
    }

    [TestMethod]
    public void TensorErrorPlotHasOneBarPerTensorColoredByLevelWithExactTensorsCapped()
    {
        var errors = new[]
        {
            new TensorError { Name = "input", SqnrDb = 15 },
            new TensorError { Name = "hidden", SqnrDb = 31 },
            new TensorError { Name = "logits", SqnrDb = 52 },
            new TensorError { Name = "copy", SqnrDb = TensorError.MaxSqnrDb },
        };
        var plot = CompressionPlots.TensorErrors(errors);

        var bars = plot.GetPlottables().OfType<BarPlot>().Single().Bars.OrderByDescending(b => b.Position).ToList(); // first tensor at the top
        Assert.AreEqual(4, bars.Count);
        CollectionAssert.AreEqual(new[] { 15.0, 31.0, 52.0 }, bars.Take(3).Select(b => b.Value).ToArray());
        Assert.IsTrue(bars[3].Value > 52 && bars[3].Value < 100, $"exact tensor drawn at {bars[3].Value} dB");
        Assert.AreEqual(Colors.Crimson, bars[0].FillColor);
        Assert.AreEqual(Colors.Orange, bars[1].FillColor);
        Assert.AreEqual(Colors.SeaGreen, bars[2].FillColor);
        plot.GetSvgXml(600, 400); // tick labels are laid out when the plot is drawn
        var labels = plot.Axes.Left.TickGenerator.Ticks.Where(t => t.IsMajor).OrderByDescending(t => t.Position).Select(t => t.Label).ToArray();
        CollectionAssert.AreEqual(new[] { "input", "hidden", "logits", "copy" }, labels);
    }

    [TestMethod]
    public void TensorErrorPlotRefusesAnEmptyList()
        => Assert.ThrowsExactly<ArgumentException>(() => CompressionPlots.TensorErrors(Array.Empty<TensorError>()));

    [TestMethod]
    public void SaveWritesAPngAndAnSvg()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"plots-{Guid.NewGuid():N}");
        try
        {
            var plot = CompressionPlots.PruningSensitivity(new[] { Layer("fc1", 0.9, (0.5, 0.85)) });
            var (png, svg) = CompressionPlots.Save(plot, Path.Combine(folder, "sensitivity"), 400, 300);
            CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png).Take(4).ToArray());
            StringAssert.Contains(File.ReadAllText(svg), "<svg");
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
