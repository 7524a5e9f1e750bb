// The library's internal namespaces, one per folder (see docs/layout.md for which folder may use which; the
// ArchitectureTests check it). Imported once here so that a file names what it uses without a using per folder.
global using Microsoft.ML.Compression.Distillation;
global using Microsoft.ML.Compression.Linear;
global using Microsoft.ML.Compression.MlNet;
global using Microsoft.ML.Compression.Native;
global using Microsoft.ML.Compression.Onnx;
global using Microsoft.ML.Compression.Pipeline;
global using Microsoft.ML.Compression.Pruning;
global using Microsoft.ML.Compression.Quantization;
global using Microsoft.ML.Compression.Reporting;
global using Microsoft.ML.Compression.Scoring;
global using Microsoft.ML.Compression.Trees;
