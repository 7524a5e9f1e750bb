namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// The default size of a tree student (<see cref="DistillationOptions.StudentLeafFraction"/>): at most a fraction of its
/// teacher's leaves and no more trees than the teacher, so that it is both smaller (leaves make the saved bytes) and
/// faster to score (trees times their depth make the time). Sizes are counted from the saved models, over all ensembles.
/// </summary>
internal sealed record StudentSizeBudget(int TeacherTrees, int TeacherLeaves, double Fraction)
{
    /// <summary>The budget for a teacher of these ensembles, or null when the options ask for none (or for the explicit tree fraction instead).</summary>
    public static StudentSizeBudget? Of(DistillationOptions options, IReadOnlyList<(int Trees, int Leaves)>? teacher)
        => teacher is { Count: > 0 } && options.StudentTreeFraction == null && !options.UsesRegressionStudent && options.StudentLeafFraction is double f
            ? new StudentSizeBudget(teacher.Sum(e => e.Trees), teacher.Sum(e => e.Leaves), f)
            : null;

    /// <summary>The leaves the student may keep.</summary>
    public int LeafBudget => Math.Max(1, (int)Math.Floor(Fraction * TeacherLeaves));

    /// <summary>
    /// The trees a student of these ensembles keeps: the leaf budget over its leaves per tree (tree selection keeps
    /// whole trees of the student's own shape), at most the teacher's trees, at least one per ensemble.
    /// </summary>
    public int TreesFor(IReadOnlyList<(int Trees, int Leaves)> student)
    {
        int trees = student.Sum(e => e.Trees);
        double leavesPerTree = student.Sum(e => e.Leaves) / (double)Math.Max(1, trees);
        int byLeaves = (int)Math.Floor(LeafBudget / Math.Max(1, leavesPerTree));
        return Math.Max(student.Count, Math.Min(TeacherTrees, byLeaves));
    }

    /// <summary>Whether the student is over the budget.</summary>
    public bool Exceeds(IReadOnlyList<(int Trees, int Leaves)> student) => student.Sum(e => e.Trees) > TreesFor(student);

    /// <summary>The report's words for the budget.</summary>
    public string Describe(IReadOnlyList<(int Trees, int Leaves)> student)
        => $"default student size (StudentLeafFraction {Fraction:G3}): at most {LeafBudget} of the teacher's {TeacherLeaves} leaves and no more than its {TeacherTrees} trees, " +
           $"{TreesFor(student)} trees of the student's {student.Sum(e => e.Leaves) / (double)Math.Max(1, student.Sum(e => e.Trees)):F1} leaves each";
}
