using Microsoft.ML.Compression.Trees;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// The default size of a tree student (<see cref="DistillationOptions.StudentLeafFraction"/>): at most a fraction of its
/// teacher's leaves (leaves make the saved bytes), no more trees than the teacher, and a per-row scoring cost no more
/// than the same fraction of the teacher's (ML.NET walks every tree for every row: the cost is the sum over the trees of
/// their mean leaf depth, <see cref="EnsembleSize.Cost"/>). So the student is both smaller and faster to score. Sizes
/// are counted from the saved models, over all ensembles.
/// </summary>
internal sealed record StudentSizeBudget(int TeacherTrees, int TeacherLeaves, double TeacherCost, double Fraction)
{
    /// <summary>The budget for a teacher of these ensembles, or null when the options ask for none (or for the explicit tree fraction instead).</summary>
    public static StudentSizeBudget? Of(DistillationOptions options, IReadOnlyList<EnsembleSize>? teacher)
        => teacher is { Count: > 0 } && options.StudentTreeFraction == null && !options.UsesRegressionStudent && options.StudentLeafFraction is double f
            ? new StudentSizeBudget(teacher.Sum(e => e.Trees), teacher.Sum(e => e.Leaves), teacher.Sum(e => e.Cost), f)
            : null;

    /// <summary>The leaves the student may keep.</summary>
    public int LeafBudget => Math.Max(1, (int)Math.Floor(Fraction * TeacherLeaves));

    /// <summary>The per-row cost (sum over trees of the mean leaf depth) the student may have.</summary>
    public double CostBudget => Fraction * TeacherCost;

    /// <summary>
    /// The trees a student of these ensembles keeps (tree selection keeps whole trees of the student's own shape): the
    /// fewest of the leaf budget over its leaves per tree, the cost budget over its cost per tree, and the teacher's
    /// trees; at least one per ensemble.
    /// </summary>
    public int TreesFor(IReadOnlyList<EnsembleSize> student) => Math.Max(student.Count, WantedTrees(student));

    /// <summary>
    /// Whether the budget is under one tree per ensemble of the student (e.g. a one-vs-all student of a teacher of a
    /// few trees): the student keeps one tree each, over the budget, and may be neither smaller nor faster.
    /// </summary>
    public bool BelowOneTreePerEnsemble(IReadOnlyList<EnsembleSize> student) => student.Count > 1 && WantedTrees(student) < student.Count;

    private int WantedTrees(IReadOnlyList<EnsembleSize> student)
    {
        int trees = Math.Max(1, student.Sum(e => e.Trees));
        double leavesPerTree = Math.Max(1, student.Sum(e => e.Leaves) / (double)trees);
        double costPerTree = student.Sum(e => e.Cost) / trees;
        int byLeaves = (int)Math.Floor(LeafBudget / leavesPerTree);
        int byCost = costPerTree > 0 ? (int)Math.Floor(CostBudget / costPerTree + 1e-9) : int.MaxValue; // + 1e-9: a cost that equals the budget fits it
        return Math.Min(TeacherTrees, Math.Min(byLeaves, byCost));
    }

    /// <summary>Whether the student is over the budget.</summary>
    public bool Exceeds(IReadOnlyList<EnsembleSize> student) => student.Sum(e => e.Trees) > TreesFor(student);

    /// <summary>The report's words for the budget.</summary>
    public string Describe(IReadOnlyList<EnsembleSize> student)
    {
        int trees = Math.Max(1, student.Sum(e => e.Trees));
        return $"default student size (StudentLeafFraction {Fraction:G3}): at most {LeafBudget} of the teacher's {TeacherLeaves} leaves, no more than its {TeacherTrees} trees, " +
               $"and a per-row cost (comparisons: the sum over trees of the mean leaf depth) at most {CostBudget:F0} of the teacher's {TeacherCost:F0}; " +
               $"{TreesFor(student)} trees of the student's {student.Sum(e => e.Leaves) / (double)trees:F1} leaves and {student.Sum(e => e.Cost) / trees:F1} comparisons each" +
               (BelowOneTreePerEnsemble(student)
                   ? $" (the budget is under one tree for each of the student's {student.Count} models, e.g. one per class of a one-vs-all student: it keeps one each, over the " +
                     "budget, and may be neither smaller nor faster than the teacher)"
                   : "");
    }
}
