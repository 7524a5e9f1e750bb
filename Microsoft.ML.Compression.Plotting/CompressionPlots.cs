using ScottPlot;

namespace Microsoft.ML.Compression.Plotting;

/// <summary>
/// Charts of compression results drawn with ScottPlot 5: each method builds a <see cref="Plot"/> from the library's
/// own result types, which you can save (<see cref="Save"/>), show in a notebook (<c>plot.GetSvgHtml(w, h)</c>) or
/// restyle before either. ScottPlot draws with SkiaSharp; on Linux its self-contained native library comes from the
/// SkiaSharp.NativeAssets.Linux.NoDependencies package that ScottPlot brings, so only a font must be installed.
/// </summary>
/// <example>
/// <code>
/// var sweep = ml.Compression().PruningSensitivity("mlp.onnx", calibration, Accuracy, 0.5, 0.8, 0.9);
/// CompressionPlots.Save(CompressionPlots.PruningSensitivity(sweep, "accuracy"), "out/sensitivity");
/// CompressionPlots.Save(CompressionPlots.TensorErrors(quantized.Report.Final), "out/sqnr", height: CompressionPlots.TensorErrorsHeight(quantized.Report.Final));
/// // in a .NET Interactive notebook:
/// display(HTML(CompressionPlots.StageBars(quantized.Report).GetSvgHtml(900, 500)));
/// </code>
/// </example>
public static partial class CompressionPlots
{
    /// <summary>Default image width in pixels.</summary>
    public const int DefaultWidth = 900;

    /// <summary>Default image height in pixels.</summary>
    public const int DefaultHeight = 560;

    /// <summary>
    /// Writes <paramref name="pathWithoutExtension"/>.png and .svg (creating the folder) and returns both paths.
    /// </summary>
    /// <example><code>var (png, svg) = CompressionPlots.Save(plot, Path.Combine("out", "plot-sensitivity"));</code></example>
    public static (string Png, string Svg) Save(Plot plot, string pathWithoutExtension, int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(plot);
        if (string.IsNullOrWhiteSpace(pathWithoutExtension)) throw new ArgumentException("Give the path of the files without their extension.", nameof(pathWithoutExtension));
        var dir = Path.GetDirectoryName(Path.GetFullPath(pathWithoutExtension));
        if (dir != null) Directory.CreateDirectory(dir);
        string png = pathWithoutExtension + ".png", svg = pathWithoutExtension + ".svg";
        plot.SavePng(png, width, height);
        plot.SaveSvg(svg, width, height);
        return (png, svg);
    }
}
