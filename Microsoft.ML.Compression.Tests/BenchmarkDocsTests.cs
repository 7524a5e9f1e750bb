using Benchmarks.Common;
using Benchmarks.Reporting;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// docs/benchmarks.md is generated from docs/benchmarks.template.md and the result files in docs/benchmark-results
/// (examples/Benchmarks --render-docs): the committed page must be exactly what the committed files render to, so a
/// figure in it always comes from a result file and nobody edits it by hand.
/// </summary>
[TestClass]
public sealed class BenchmarkDocsTests
{
    [TestMethod]
    public void EveryPlaceholderOfTheTemplateHasAResultFile()
    {
        var (template, records, _) = Committed();
        var placeholders = BenchmarkDocs.Placeholders(template);
        Assert.IsTrue(placeholders.Count >= 20, $"only {placeholders.Count} placeholders found");
        var missing = BenchmarkDocs.Missing(template, records);
        Assert.AreEqual(0, missing.Count, "placeholders without a result file: " + string.Join(", ", missing));
    }

    [TestMethod]
    public void CommittedPageIsTheRenderedTemplate()
    {
        var (template, records, page) = Committed();
        string rendered = BenchmarkDocs.Render(template, records);
        string committed = page.Replace("\r\n", "\n");
        if (rendered == committed) return;
        var a = rendered.Split('\n');
        var b = committed.Split('\n');
        int line = Enumerable.Range(0, Math.Min(a.Length, b.Length)).FirstOrDefault(i => a[i] != b[i], Math.Min(a.Length, b.Length));
        Assert.Fail($"docs/benchmarks.md differs from its template and result files at line {line + 1}: regenerate it with `{BenchmarkDocs.Command}` "
            + $"(edit the prose in docs/benchmarks.template.md).\n  rendered:  {(line < a.Length ? a[line] : "(end)")}\n  committed: {(line < b.Length ? b[line] : "(end)")}");
    }

    [TestMethod]
    public void EveryResultFileHoldsAComparableTable()
    {
        var (_, records, _) = Committed();
        foreach (var r in records.Values)
        {
            Assert.AreEqual(10, r.Run.Date.Length, $"{r.Scenario}: date {r.Run.Date}");
            Assert.IsTrue(r.Run.Cpu.Length > 0 && r.Run.Cores > 0, $"{r.Scenario}: no CPU");
            Assert.IsFalse(r.Run.Quick, $"{r.Scenario}: a --quick run is a smoke test, not figures to commit");
            Assert.IsTrue(r.Result.Rows.Count > 0 || r.Result.Sensitivity?.Count > 0, $"{r.Scenario}: no figures");
            foreach (var row in r.Result.Rows)
                Assert.AreEqual(r.Result.Variants.Length, row.Values.Length, $"{r.Scenario}, {row.Metric}: one value per variant");
        }
    }

    [TestMethod]
    public void ASavedRecordLoadsWithTheSameNumbersAndReplacesOnlyItsOwnFile()
    {
        string folder = Path.Combine(Path.GetTempPath(), "benchmark-results-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = new ScenarioResult { Name = "x", Variants = new[] { "a", "b" } };
            result.Add("AUC (test)", "AUC", true, "F4", 0.97651234, null);
            result.Notes.Add("note");
            ResultFiles.Save(folder, new ScenarioRecord { Scenario = "other one", Run = new RunInfo { Date = "2026-01-01", Cpu = "c", Cores = 2 }, Result = result });
            ResultFiles.Save(folder, new ScenarioRecord { Scenario = "Spam trees", Run = new RunInfo { Date = "2026-01-01", Cpu = "c", Cores = 2 }, Result = result });
            var updated = new ScenarioResult { Name = "y", Variants = new[] { "a" } };
            updated.Add("trees", "count", false, "F0", 100);
            ResultFiles.Save(folder, new ScenarioRecord { Scenario = "Spam trees", Run = new RunInfo { Date = "2026-02-02", Cpu = "c", Cores = 2 }, Result = updated });

            CollectionAssert.AreEquivalent(new[] { "other-one.json", "spam-trees.json" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray());
            var loaded = ResultFiles.Load(folder);
            Assert.AreEqual(0.97651234, loaded["other one"].Result.Rows[0].Values[0]);
            Assert.IsNull(loaded["other one"].Result.Rows[0].Values[1]);
            Assert.AreEqual(1, loaded["other one"].Result.Notes.Count);
            Assert.AreEqual(100.0, loaded["spam trees"].Result.Rows[0].Values[0]);
            Assert.AreEqual("2026-02-02", loaded["spam trees"].Run.Date);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void APlaceholderWithoutAResultFileIsRefused()
    {
        var records = new Dictionary<string, ScenarioRecord>(StringComparer.OrdinalIgnoreCase);
        Assert.ThrowsExactly<InvalidDataException>(() => BenchmarkDocs.Render("# T\n\n{{table: nowhere}}\n", records));
    }

    private static (string Template, Dictionary<string, ScenarioRecord> Records, string Page) Committed()
    {
        string docs = Path.Combine(RepositoryRoot(), "docs");
        return (File.ReadAllText(Path.Combine(docs, "benchmarks.template.md")), ResultFiles.Load(Path.Combine(docs, "benchmark-results")),
            File.ReadAllText(Path.Combine(docs, "benchmarks.md")));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ML.Compression.sln"))) return dir.FullName;
        throw new InvalidOperationException("ML.Compression.sln was not found above the test's output folder.");
    }
}
