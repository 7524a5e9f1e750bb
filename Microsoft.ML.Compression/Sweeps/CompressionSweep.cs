namespace Microsoft.ML.Compression;

/// <summary>
/// Runs a grid of compression chains on one teacher, for example pruning sparsities × quantization precisions
/// (optionally after distilling into each of a few students), measures each with the ML.NET task metric of its
/// <see cref="CompressionReport"/>, and returns every point with the size/metric Pareto front.
/// Each grid point is the chain Distill(student) → Prune(sparsity) → Quantize(precision), leaving out a stage that
/// would do nothing (no student, sparsity 0, precision null); the point with no stage at all is the teacher itself.
/// </summary>
/// <example>
/// <code>
/// var sweep = new CompressionSweep(ml, teacher)
/// {
///     Sparsities = new[] { 0.0, 0.5, 0.8 },
///     Precisions = new Precision?[] { null, Precision.Int8 },
///     Students = new[] { ("FastTree 20", (IEstimator&lt;ITransformer&gt;)ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20)) },
/// };
/// SweepResult result = sweep.Run(train, test);
/// foreach (var p in result.ParetoFront) Console.WriteLine(p);
/// SweepPoint? best = result.SmallestWithin(0.01);   // smallest model within 1 AUC point of the teacher
/// </code>
/// </example>
public sealed class CompressionSweep
{
    private readonly MLContext _ml;
    private readonly ITransformer _teacher;

    /// <summary>A sweep over compressions of <paramref name="teacher"/>, a trained ML.NET pipeline ending in a predictor.</summary>
    /// <example><code>var sweep = new CompressionSweep(ml, teacher) { Sparsities = new[] { 0.0, 0.5 } };</code></example>
    public CompressionSweep(MLContext mlContext, ITransformer teacher)
    {
        _ml = mlContext ?? throw new ArgumentNullException(nameof(mlContext));
        _teacher = teacher ?? throw new ArgumentNullException(nameof(teacher));
    }

    /// <summary>Pruning target sparsities to try; 0 means no pruning stage. Default: 0, 0.5.</summary>
    /// <example><code>var sweep = new CompressionSweep(ml, teacher) { Sparsities = new[] { 0.0, 0.5, 0.8, 0.9 } }; // 0: no pruning stage</code></example>
    public IReadOnlyList<double> Sparsities { get; init; } = new[] { 0.0, 0.5 };

    /// <summary>Quantization precisions to try; null means no quantization stage. Default: none, INT8.</summary>
    /// <example><code>var sweep = new CompressionSweep(ml, teacher) { Precisions = new Precision?[] { null, Precision.Float16, Precision.Int8 } }; // null: no quantization</code></example>
    public IReadOnlyList<Precision?> Precisions { get; init; } = new Precision?[] { null, Precision.Int8 };

    /// <summary>
    /// Students to distill the teacher into before pruning and quantizing, each with a name for the results; empty
    /// (the default) compresses the teacher itself. With students, the grid also runs on the teacher itself unless
    /// <see cref="IncludeUndistilled"/> is false.
    /// </summary>
    /// <example>
    /// <code>
    /// var sweep = new CompressionSweep(ml, teacher)
    /// {
    ///     Students = new[] { ("FastTree 20", (IEstimator&lt;ITransformer&gt;)ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 20)) },
    /// };
    /// </code>
    /// </example>
    public IReadOnlyList<(string Name, IEstimator<ITransformer> Student)> Students { get; init; } = Array.Empty<(string, IEstimator<ITransformer>)>();

    /// <summary>With <see cref="Students"/>: also run the grid on the teacher itself, without distillation. Default true.</summary>
    /// <example><code>var sweep = new CompressionSweep(ml, teacher) { Students = students, IncludeUndistilled = false }; // only the distilled chains</code></example>
    public bool IncludeUndistilled { get; init; } = true;

    /// <summary>Options of the distillation stage (defaults when null).</summary>
    /// <example><code>var sweep = new CompressionSweep(ml, teacher) { Students = students, DistillationOptions = new DistillationOptions { Temperature = 2 } };</code></example>
    public DistillationOptions? DistillationOptions { get; init; }

    /// <summary>Pruning options for a sparsity; default <c>s =&gt; new PruningOptions { TargetSparsity = s }</c>.</summary>
    /// <example><code>var sweep = new CompressionSweep(ml, teacher) { PruningOptionsFor = s =&gt; new PruningOptions { TargetSparsity = s, Trees = { LeafPruningTolerance = 0.1 } } };</code></example>
    public Func<double, PruningOptions> PruningOptionsFor { get; init; } = s => new PruningOptions { TargetSparsity = s };

    /// <summary>Quantization options for a precision; default <c>p =&gt; new QuantizationOptions { Precision = p }</c>.</summary>
    /// <example><code>var sweep = new CompressionSweep(ml, teacher) { QuantizationOptionsFor = p =&gt; new QuantizationOptions { Precision = p, Trees = { Storage = TreeStorage.Compact } } };</code></example>
    public Func<Precision, QuantizationOptions> QuantizationOptionsFor { get; init; } = p => new QuantizationOptions { Precision = p };

    /// <summary>Keep each point's <see cref="CompressedModel"/> in <see cref="SweepPoint.Model"/> (dispose them yourself); default false: only the reports are kept.</summary>
    /// <example>
    /// <code>
    /// var result = new CompressionSweep(ml, teacher) { KeepModels = true }.Run(train, test);
    /// var smallest = result.Points.Where(p =&gt; p.Model != null).MinBy(p =&gt; p.SizeBytes)!; // the teacher point has no model
    /// ml.Model.Save(smallest.Model!, train.Schema, "smallest.zip"); // dispose every p.Model when done
    /// </code>
    /// </example>
    public bool KeepModels { get; init; }

    /// <summary>Receives one line per chain as it finishes (optional).</summary>
    /// <example><code>var sweep = new CompressionSweep(ml, teacher) { Progress = new Progress&lt;string&gt;(Console.WriteLine) }; // one line per chain</code></example>
    public IProgress<string>? Progress { get; init; }

    /// <summary>
    /// Runs every chain of the grid: fitted on <paramref name="trainData"/>, its metric taken on
    /// <paramref name="evaluationData"/> (held-out data; without it, on the fit data).
    /// </summary>
    /// <example><code>var result = sweep.Run(train, test); Console.WriteLine(result);</code></example>
    public SweepResult Run(IDataView trainData, IDataView? evaluationData = null)
    {
        if (trainData == null) throw new ArgumentNullException(nameof(trainData));
        if (Sparsities.Count == 0 || Precisions.Count == 0)
            throw new ArgumentException("Give at least one sparsity (0 = no pruning) and one precision (null = no quantization).");
        foreach (var s in Sparsities)
            if (s < 0 || s >= 1) throw new ArgumentOutOfRangeException(nameof(Sparsities), s, "Sparsities must be in [0, 1).");

        var students = new List<(string? Name, IEstimator<ITransformer>? Student)>();
        if (Students.Count == 0 || IncludeUndistilled) students.Add((null, null));
        students.AddRange(Students.Select(s => ((string?)s.Name, (IEstimator<ITransformer>?)s.Student)));

        var points = new List<SweepPoint>();
        CompressionReport? any = null;
        foreach (var (name, student) in students)
            foreach (var sparsity in Sparsities.Distinct())
                foreach (var precision in Precisions.Distinct())
                {
                    var stages = new List<CompressionStageEstimator>();
                    if (student != null)
                        stages.Add(stages.Count == 0 ? _ml.Compression().Distill(_teacher, student, DistillationOptions) : _ml.Compression().Distill(student, DistillationOptions));
                    if (sparsity > 0)
                        stages.Add(stages.Count == 0 ? _ml.Compression().Prune(_teacher, PruningOptionsFor(sparsity)) : _ml.Compression().Prune(PruningOptionsFor(sparsity)));
                    if (precision is Precision p)
                        stages.Add(stages.Count == 0 ? _ml.Compression().Quantize(_teacher, QuantizationOptionsFor(p)) : _ml.Compression().Quantize(QuantizationOptionsFor(p)));
                    if (stages.Count == 0) continue; // the teacher itself: added below from a report's first row

                    var estimator = new CompressionEstimator(_ml, stages, null);
                    if (evaluationData != null) estimator = estimator.WithEvaluationData(evaluationData);
                    var model = estimator.Fit(trainData);
                    any ??= model.Report;
                    var point = new SweepPoint(name, sparsity, precision, model.Report, model.Report.Final, KeepModels ? model : null);
                    if (!KeepModels) model.Dispose();
                    points.Add(point);
                    Progress?.Report(point.ToString());
                }

        if (any == null)
            throw new ArgumentException("The grid holds no compression: give a sparsity above 0, a precision, or a student.");
        var teacher = new SweepPoint(null, 0, null, any, any.Original, null) { IsTeacher = true };
        points.Insert(0, teacher);
        return new SweepResult(any.MetricName, any.HigherIsBetter, teacher, points);
    }
}

/// <summary>One chain of a <see cref="CompressionSweep"/> (or the teacher itself) and how it scored.</summary>
/// <example><code>foreach (var p in result.Points) Console.WriteLine($"{p.Name}: {p.SizeBytes} bytes, {p.Metric:F4}");</code></example>
public sealed class SweepPoint
{
    internal SweepPoint(string? student, double sparsity, Precision? precision, CompressionReport report, StageReport row, CompressedModel? model)
    {
        Student = student;
        Sparsity = sparsity;
        Precision = precision;
        Report = report;
        Row = row;
        Model = model;
    }

    /// <summary>True for the point that stands for the uncompressed teacher.</summary>
    /// <example><code>var compressedOnly = result.Points.Where(p =&gt; !p.IsTeacher);</code></example>
    public bool IsTeacher { get; init; }
    /// <summary>The student's name, or null when the teacher itself was compressed.</summary>
    /// <example><code>var distilled = result.Points.Where(p =&gt; p.Student == "FastTree 20"); // null: the teacher compressed itself</code></example>
    public string? Student { get; }
    /// <summary>The pruning target sparsity (0: no pruning stage).</summary>
    /// <example><code>var pruned = result.Points.Where(p =&gt; p.Sparsity &gt;= 0.8);</code></example>
    public double Sparsity { get; }
    /// <summary>The quantization precision, or null when there was no quantization stage.</summary>
    /// <example><code>var int8 = result.Points.Where(p =&gt; p.Precision == Precision.Int8); // null: no quantization stage</code></example>
    public Precision? Precision { get; }
    /// <summary>The chain's full report (for the teacher point: the report of a chain whose first row is the teacher).</summary>
    /// <example><code>Console.WriteLine(result.SmallestWithin(0.01)?.Report); // the whole chain's report table</code></example>
    public CompressionReport Report { get; }
    /// <summary>The report row of this point's model (the chain's last row; for the teacher, the first).</summary>
    /// <example>
    /// <code>
    /// var p = result.ParetoFront[0];
    /// Console.WriteLine($"{p.Name}: {p.Row.ParameterCount} parameters, {p.Row.BitsPerWeight:F1} bits/weight");
    /// </code>
    /// </example>
    public StageReport Row { get; }
    /// <summary>The compressed model, when the sweep ran with <see cref="CompressionSweep.KeepModels"/>.</summary>
    /// <example><code>foreach (var p in result.Points) p.Model?.Dispose(); // null for the teacher point, and for every point without KeepModels</code></example>
    public CompressedModel? Model { get; }
    /// <summary>The model's size: its saved zip, in bytes.</summary>
    /// <example><code>var smallest = result.Points.MinBy(p =&gt; p.SizeBytes);</code></example>
    public long SizeBytes => Row.ZipBytes;
    /// <summary>The task metric on the evaluation data (on the fit data when the sweep had none); null when it could not be measured.</summary>
    /// <example><code>var mostAccurate = result.Points.Where(p =&gt; p.Metric != null).MaxBy(p =&gt; p.Metric); // for a metric where higher is better</code></example>
    public double? Metric => Row.EvaluationMetric ?? Row.Metric;
    /// <summary>A short name such as "teacher", "prune 0.5 + Int8" or "FastTree 20 + prune 0.8".</summary>
    /// <example><code>foreach (var p in result.ParetoFront) Console.WriteLine(p.Name); // e.g. "teacher", "prune 0.5 + Int8"</code></example>
    public string Name => IsTeacher ? "teacher" : string.Join(" + ", new[]
    {
        Student,
        Sparsity > 0 ? $"prune {Sparsity:0.###}" : null,
        Precision?.ToString(),
    }.Where(s => s != null));

    /// <summary>One line: name, size, metric.</summary>
    /// <example><code>foreach (var p in result.Points) Console.WriteLine(p); // "prune 0.5 + Int8: 41230 bytes, AUC 0.9287"</code></example>
    public override string ToString() => $"{Name}: {SizeBytes} bytes, {Report.MetricName} {(Metric is double m ? m.ToString("F4") : "-")}";
}

/// <summary>All points of a <see cref="CompressionSweep"/>, the teacher first, and their Pareto front.</summary>
/// <example><code>var best = sweep.Run(train, test).SmallestWithin(0.01);</code></example>
public sealed class SweepResult
{
    internal SweepResult(string metricName, bool higherIsBetter, SweepPoint teacher, IReadOnlyList<SweepPoint> points)
    {
        MetricName = metricName;
        HigherIsBetter = higherIsBetter;
        Teacher = teacher;
        Points = points;
        ParetoFront = Pareto(points, higherIsBetter);
    }

    /// <summary>Name of the metric ("AUC", "MicroAccuracy", "RMSE").</summary>
    /// <example><code>Console.WriteLine($"{result.MetricName} of the teacher: {result.Teacher.Metric:F4}");</code></example>
    public string MetricName { get; }
    /// <summary>False when a lower metric is better (RMSE).</summary>
    /// <example><code>Console.WriteLine($"{result.MetricName}: {(result.HigherIsBetter ? "higher" : "lower")} is better"); // RMSE: lower</code></example>
    public bool HigherIsBetter { get; }
    /// <summary>The uncompressed teacher.</summary>
    /// <example><code>Console.WriteLine($"teacher: {result.Teacher.SizeBytes} bytes, {result.Teacher.Metric:F4}");</code></example>
    public SweepPoint Teacher { get; }
    /// <summary>Every point, the teacher first, then the chains in grid order.</summary>
    /// <example><code>foreach (var p in result.Points.Skip(1)) Console.WriteLine($"{p.Name}: {p.SizeBytes} bytes, {p.Metric:F4}"); // Points[0] is the teacher</code></example>
    public IReadOnlyList<SweepPoint> Points { get; }
    /// <summary>
    /// The points no other point beats on both size and metric (smaller or equal size and better or equal metric,
    /// one of them strictly), smallest first; of points equal in both, only the first. Points without a metric are left out.
    /// </summary>
    /// <example>
    /// <code>
    /// var result = sweep.Run(train, test);
    /// foreach (var p in result.ParetoFront) Console.WriteLine(p); // smallest first
    /// </code>
    /// </example>
    public IReadOnlyList<SweepPoint> ParetoFront { get; }

    /// <summary>
    /// The smallest model (by <see cref="SweepPoint.SizeBytes"/>) whose metric is no worse than the teacher's by more
    /// than <paramref name="metricTolerance"/>, in the metric's own units (0.01 = one point of AUC or accuracy);
    /// ties go to the better metric. The teacher itself qualifies, so the answer is null only when the teacher has
    /// no metric.
    /// </summary>
    /// <example><code>var p = result.SmallestWithin(0.01); Console.WriteLine($"{p?.Name}: {p?.SizeBytes} bytes");</code></example>
    public SweepPoint? SmallestWithin(double metricTolerance)
    {
        if (metricTolerance < 0 || double.IsNaN(metricTolerance)) throw new ArgumentOutOfRangeException(nameof(metricTolerance), "The tolerance must be 0 or more.");
        if (Teacher.Metric is not double t) return null;
        return Points
            .Where(p => p.Metric is double m && (HigherIsBetter ? m >= t - metricTolerance : m <= t + metricTolerance))
            .OrderBy(p => p.SizeBytes)
            .ThenBy(p => HigherIsBetter ? -p.Metric!.Value : p.Metric!.Value)
            .FirstOrDefault();
    }

    /// <summary>A table: one line per point, Pareto-front points marked with '*'.</summary>
    /// <example><code>Console.WriteLine(sweep.Run(train, test)); // one line per point, '*' marks the Pareto front</code></example>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"{"",1} {"model",-34} {"zip bytes",10} {MetricName,10}");
        foreach (var p in Points)
            sb.AppendLine($"{(ParetoFront.Contains(p) ? "*" : " "),1} {p.Name,-34} {p.SizeBytes,10} {(p.Metric is double m ? m.ToString("F4") : "-"),10}");
        return sb.ToString();
    }

    private static List<SweepPoint> Pareto(IReadOnlyList<SweepPoint> points, bool higherIsBetter)
    {
        double Better(double m) => higherIsBetter ? m : -m; // larger is better after this
        var measured = points.Where(p => p.Metric != null).ToList();
        // q dominates p when it is no larger and no worse, and strictly one of them; of exact ties the earlier point
        // (the teacher, then the shorter chain in grid order) stays.
        bool Dominates(int qi, int pi)
        {
            SweepPoint q = measured[qi], p = measured[pi];
            if (q.SizeBytes > p.SizeBytes || Better(q.Metric!.Value) < Better(p.Metric!.Value)) return false;
            return q.SizeBytes < p.SizeBytes || Better(q.Metric!.Value) > Better(p.Metric!.Value) || qi < pi;
        }
        return Enumerable.Range(0, measured.Count)
            .Where(pi => !Enumerable.Range(0, measured.Count).Any(qi => qi != pi && Dominates(qi, pi)))
            .Select(pi => measured[pi])
            .OrderBy(p => p.SizeBytes)
            .ToList();
    }
}
