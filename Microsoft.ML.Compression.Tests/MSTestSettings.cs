[assembly: Parallelize(Workers = 1, Scope = ExecutionScope.ClassLevel)]

namespace Microsoft.ML.Compression.Tests
{
    [TestClass]
    public static class AssemblySetup
    {
        /// <summary>
        /// The report's rows/s are read with no minimum pass time here: the suite checks that they are read, not how
        /// fast anything is (ReportSpeedTests restores the library's minimums for the tests that compare speeds).
        /// </summary>
        [AssemblyInitialize]
        public static void Init(TestContext _) => Microsoft.ML.Compression.Scoring.Throughput.UseMinimums(TimeSpan.Zero, TimeSpan.Zero);
    }
}
