namespace Microsoft.ML.Compression.Tests;

/// <summary>CompressionReport.ToHtml: one table row per stage, descriptions listed, text escaped.</summary>
[TestClass]
public sealed class ReportHtmlTests
{
    [TestMethod]
    public void ToHtmlHasOneRowPerStageAndEscapesText()
    {
        var report = new CompressionReport
        {
            Task = ModelTask.BinaryClassification,
            MetricName = "AUC",
            Stages = new[]
            {
                new StageReport { Stage = "Teacher", Description = "the model", ParameterCount = 100, NonZeroCount = 100, ZipBytes = 5000, Metric = 0.9, EvaluationMetric = 0.85 },
                new StageReport { Stage = "Distill", Description = "student <FastTree> & \"soft\" targets", ParameterCount = 10, NonZeroCount = 8, ZipBytes = 900, Metric = 0.88,
                                  Agreement = 0.95, EvaluationAgreement = 0.93, BaselineMetric = 0.87 },
                new StageReport { Stage = "Prune<script>", Description = "pruned", ParameterCount = 10, NonZeroCount = 4, ZipBytes = 600 },
            },
        };
        string html = report.ToHtml();
        Assert.AreEqual(1 + 3, System.Text.RegularExpressions.Regex.Matches(html, "<tr>").Count, html); // header + 3 stages
        StringAssert.Contains(html, "<th>AUC (eval)</th>");
        StringAssert.Contains(html, "student &lt;FastTree&gt; &amp; &quot;soft&quot; targets");
        StringAssert.Contains(html, "Prune&lt;script&gt;");
        Assert.IsFalse(html.Contains("<script>"));
        StringAssert.Contains(html, "60.0"); // sparsity of the last row
        StringAssert.Contains(html, "agreement 0.9500 / 0.9300");
        StringAssert.Contains(html, "same student on the labels alone");
        Assert.AreEqual(2, System.Text.RegularExpressions.Regex.Matches(html, "<li>").Count); // one per stage after the input model
    }
}
