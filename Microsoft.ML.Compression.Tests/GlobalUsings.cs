// The library's internal namespaces (one per folder) that tests reach through InternalsVisibleTo.
global using Microsoft.ML.Compression.Distillation;
global using Microsoft.ML.Compression.MlNet;
global using Microsoft.ML.Compression.Onnx;
global using Microsoft.ML.Compression.Pipeline;
global using Microsoft.ML.Compression.Pruning;
global using Microsoft.ML.Compression.Quantization;
global using Microsoft.ML.Compression.Reporting;
global using Microsoft.ML.Compression.Scoring;
global using Microsoft.ML.Compression.Trees;
