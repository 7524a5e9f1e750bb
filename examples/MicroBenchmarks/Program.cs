// Micro-benchmarks (BenchmarkDotNet) of scoring with teachers and their compressed models:
//   dotnet run --project examples/MicroBenchmarks -c Release -- --filter '*' --job short
// BenchmarkDotNet's own options apply (--filter, --job, --list flat, --inProcess, --exporters ...).
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(MicroBenchmarks.BenchmarkData).Assembly).Run(args);
