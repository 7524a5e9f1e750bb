#!/usr/bin/env bash
# Compressed models as plain ML.NET models: examples/CompressedModels trains teachers on data/, compresses them
# (Distill / Prune / Quantize) and saves the zips with 200 input rows and its own predictions; examples/Consumer,
# which references only Microsoft.ML, Microsoft.ML.FastTree and Microsoft.ML.LightGbm, loads them with
# ml.Model.Load and checks it predicts the same (|dScore| <= 1e-5, same PredictedLabel) without the library or
# ONNX Runtime. Builds nothing: run after `bash build.sh` (Release build of ML.Compression.sln).
set -euo pipefail
cd "$(dirname "$0")/.."

out="$(mktemp -d "${TMPDIR:-/tmp}/compressed-models.XXXXXX")"
trap 'rm -rf "$out"' EXIT

for p in CompressedModels Consumer; do
  if [ ! -f "examples/$p/bin/Release/net10.0/$p.dll" ]; then
    echo "error: examples/$p is not built (examples/$p/bin/Release/net10.0/$p.dll is missing): run 'bash build.sh' first." >&2
    exit 1
  fi
done

echo "== CompressedModels: train, compress and save into $out"
rc=0
dotnet run --project examples/CompressedModels -c Release --no-build -- "$out" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "error: examples/CompressedModels failed (exit code $rc): a scenario failed to compress or save, or a saved zip contains an ONNX model (see FAIL lines above)." >&2
  exit 1
fi

echo "== Consumer: load the zips with ML.NET only and compare the predictions"
rc=0
dotnet run --project examples/Consumer -c Release --no-build -- "$out" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "error: examples/Consumer failed (exit code $rc): a compressed model did not load or predict as in the compressing app, or needed Microsoft.ML.Compression / ONNX Runtime (see FAIL lines above)." >&2
  exit 1
fi
echo "consumer check passed"
