using Microsoft.ML.Compression.Pruning;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The least-squares refits' solver: the flat, all-columns-at-once path (used by structured pruning's refits) against
/// one column at a time and against the system it solves.
/// </summary>
[TestClass]
public sealed class SymmetricSolverTests
{
    [TestMethod]
    public void SolvingAllColumnsInPlaceGivesTheSolutionOfEachColumn()
    {
        const int k = 37, columns = 5;
        var random = new Random(7);
        // a = mᵀm + I: symmetric positive definite.
        var m = new double[k + 3, k];
        for (int r = 0; r < k + 3; r++)
            for (int c = 0; c < k; c++) m[r, c] = random.NextDouble() * 2 - 1;
        var a = new double[k, k];
        var flat = new double[k * k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                double sum = i == j ? 1 : 0;
                for (int r = 0; r < k + 3; r++) sum += m[r, i] * m[r, j];
                a[i, j] = sum;
                flat[i * k + j] = sum;
            }
        var b = new double[k * columns];
        for (int i = 0; i < b.Length; i++) b[i] = random.NextDouble() * 10 - 5;
        var before = (double[])flat.Clone();
        var x = (double[])b.Clone();
        SymmetricSolver.SolveFactoredInPlace(SymmetricSolver.Factor(flat, k, ridge: 0), k, x, columns);
        for (int c = 0; c < columns; c++)
        {
            var column = Enumerable.Range(0, k).Select(i => b[i * columns + c]).ToArray();
            var expected = SymmetricSolver.Solve(a, column, ridge: 0);
            for (int i = 0; i < k; i++)
            {
                Assert.AreEqual(expected[i], x[i * columns + c], 1e-9 * Math.Max(1, Math.Abs(expected[i])));
                double residual = -column[i];
                for (int j = 0; j < k; j++) residual += a[i, j] * x[j * columns + c];
                Assert.AreEqual(0, residual, 1e-8, $"row {i}, column {c}");
            }
        }
        CollectionAssert.AreEqual(before, flat, "the matrix is not modified");
    }
}
