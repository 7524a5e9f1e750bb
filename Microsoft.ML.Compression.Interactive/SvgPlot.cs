using System.Globalization;
using System.Net;
using System.Text;

namespace Microsoft.ML.Compression.Interactive;

/// <summary>
/// A minimal inline-SVG chart (frame, four ticks per axis, axis titles, lines, points and a legend) for the notebook
/// formatters. Drawn by hand so that the package's kernel extension needs no plotting library; the optional
/// Microsoft.ML.Compression.Plotting assembly draws the same charts with ScottPlot as files.
/// </summary>
internal sealed class SvgPlot
{
    /// <summary>Category10, the palette of the ScottPlot charts, so that both kinds of plot look alike.</summary>
    public static readonly string[] Palette = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" };

    private readonly StringBuilder _body = new();
    private readonly List<(string Label, string Color, bool Dashed)> _legend = new();
    private readonly int _width, _height, _left, _right, _top, _bottom;
    private double _xMin, _xMax = 1, _yMin, _yMax = 1;
    private string _xTitle = "", _yTitle = "", _xFormat = "0.#", _yFormat = "0.####";

    public SvgPlot(int width = 640, int height = 360, int left = 70, int right = 170, int top = 20, int bottom = 50)
        => (_width, _height, _left, _right, _top, _bottom) = (width, height, left, right, top, bottom);

    /// <summary>The x range and title; a degenerate range is widened so that every point still has a place.</summary>
    public SvgPlot XAxis(double min, double max, string title, string tickFormat = "0.#")
    {
        (_xMin, _xMax) = Widen(min, max);
        (_xTitle, _xFormat) = (title, tickFormat);
        return this;
    }

    /// <summary>The y range (padded by 8 % each side) and title.</summary>
    public SvgPlot YAxis(double min, double max, string title, string tickFormat = "0.####")
    {
        (_yMin, _yMax) = Widen(min, max);
        double pad = (_yMax - _yMin) * 0.08;
        (_yMin, _yMax) = (_yMin - pad, _yMax + pad);
        (_yTitle, _yFormat) = (title, tickFormat);
        return this;
    }

    public double X(double v) => _left + (v - _xMin) / (_xMax - _xMin) * (_width - _left - _right);
    public double Y(double v) => _top + (_yMax - v) / (_yMax - _yMin) * (_height - _top - _bottom);

    /// <summary>A polyline through <paramref name="points"/> (in data units), listed in the legend when labelled.</summary>
    public SvgPlot Line(IEnumerable<(double X, double Y)> points, string color, string? legend = null, bool dashed = false, double width = 2)
    {
        var list = points.ToList();
        if (list.Count > 1)
            _body.Append($"<polyline class=\"series\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{F(width)}\"{(dashed ? " stroke-dasharray=\"5,4\"" : "")} points=\"")
                 .Append(string.Join(" ", list.Select(p => $"{F(X(p.X))},{F(Y(p.Y))}"))).Append("\"/>");
        if (legend != null) _legend.Add((legend, color, dashed));
        return this;
    }

    /// <summary>A point with a hover title and an optional text label beside it.</summary>
    public SvgPlot Point(double x, double y, string color, double radius = 4, string? title = null, string? label = null, string labelColor = "#000")
    {
        _body.Append($"<circle cx=\"{F(X(x))}\" cy=\"{F(Y(y))}\" r=\"{F(radius)}\" fill=\"{color}\">");
        if (title != null) _body.Append("<title>").Append(E(title)).Append("</title>");
        _body.Append("</circle>");
        if (label != null)
            _body.Append($"<text x=\"{F(X(x) + 7)}\" y=\"{F(Y(y) - 5)}\" fill=\"{labelColor}\">").Append(E(label)).Append("</text>");
        return this;
    }

    public string ToSvg()
    {
        var sb = new StringBuilder();
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{_width}\" height=\"{_height}\" font-family=\"sans-serif\" font-size=\"11\">");
        int plotWidth = _width - _left - _right, plotHeight = _height - _top - _bottom;
        sb.Append($"<rect x=\"{_left}\" y=\"{_top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" fill=\"none\" stroke=\"#888\"/>");
        for (int i = 0; i <= 4; i++)
        {
            double xv = _xMin + (_xMax - _xMin) * i / 4, yv = _yMin + (_yMax - _yMin) * i / 4;
            sb.Append($"<text x=\"{F(X(xv))}\" y=\"{_height - _bottom + 15}\" text-anchor=\"middle\">{F(xv, _xFormat)}</text>");
            sb.Append($"<text x=\"{_left - 5}\" y=\"{F(Y(yv) + 4)}\" text-anchor=\"end\">{F(yv, _yFormat)}</text>");
        }
        sb.Append($"<text x=\"{_left + plotWidth / 2}\" y=\"{_height - 12}\" text-anchor=\"middle\">").Append(E(_xTitle)).Append("</text>");
        sb.Append($"<text transform=\"translate(14,{_top + plotHeight / 2}) rotate(-90)\" text-anchor=\"middle\">").Append(E(_yTitle)).Append("</text>");
        sb.Append(_body);
        for (int i = 0; i < _legend.Count; i++)
        {
            var (label, color, dashed) = _legend[i];
            int y = _top + 10 + 16 * i, x = _width - _right + 10;
            sb.Append($"<line x1=\"{x}\" y1=\"{y}\" x2=\"{x + 18}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"2\"{(dashed ? " stroke-dasharray=\"5,4\"" : "")}/>");
            sb.Append($"<text x=\"{x + 23}\" y=\"{y + 4}\">").Append(E(Shorten(label, 24))).Append("</text>");
        }
        return sb.Append("</svg>").ToString();
    }

    /// <summary>
    /// Horizontal bars, one per labelled value, longest at the top of the list given (callers sort); for values
    /// whose names do not fit under an x axis, such as tensor names.
    /// </summary>
    public static string HorizontalBars(IReadOnlyList<(string Label, double Value)> bars, string valueTitle, string color, string valueFormat = "0.#")
    {
        const int width = 640, left = 230, right = 60, rowHeight = 16, top = 10;
        int height = top + rowHeight * bars.Count + 40;
        double max = Math.Max(bars.Select(b => b.Value).DefaultIfEmpty(0).Max(), 1e-9);
        var sb = new StringBuilder($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">");
        for (int i = 0; i < bars.Count; i++)
        {
            var (label, value) = bars[i];
            double y = top + i * rowHeight, length = Math.Max(0, value) / max * (width - left - right);
            sb.Append($"<text x=\"{left - 5}\" y=\"{F(y + 11)}\" text-anchor=\"end\">").Append(E(Shorten(label, 36))).Append("</text>");
            sb.Append($"<rect class=\"bar\" x=\"{left}\" y=\"{F(y + 2)}\" width=\"{F(length)}\" height=\"{rowHeight - 4}\" fill=\"{color}\"><title>")
              .Append(E($"{label}: {F(value, valueFormat)}")).Append("</title></rect>");
            sb.Append($"<text x=\"{F(left + length + 4)}\" y=\"{F(y + 11)}\">{F(value, valueFormat)}</text>");
        }
        sb.Append($"<text x=\"{left + (width - left - right) / 2}\" y=\"{height - 12}\" text-anchor=\"middle\">").Append(E(valueTitle)).Append("</text>");
        return sb.Append("</svg>").ToString();
    }

    private static (double, double) Widen(double min, double max)
        => max - min > 1e-12 ? (min, max) : (min - Math.Max(Math.Abs(min) * 0.01, 1e-4), max + Math.Max(Math.Abs(max) * 0.01, 1e-4));

    private static string Shorten(string s, int max) => s.Length <= max ? s : "…" + s[^(max - 1)..];

    public static string E(string s) => WebUtility.HtmlEncode(s);
    public static string F(double v, string format = "0.#") => v.ToString(format, CultureInfo.InvariantCulture);
}
