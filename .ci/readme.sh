#!/usr/bin/env bash
# Builds and runs the README's quick start exactly as written, in a fresh console app that consumes the packed
# NuGet package (as a user who reads only the README would), on data/wa_churn.csv. Needs bash build.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
# A version of its own, so that NuGet's global cache never hands back an older build of the same version.
version="0.1.0-readme$(date +%s)"
trap 'rm -rf "$work" "${NUGET_PACKAGES:-$HOME/.nuget/packages}/microsoft.ml.compression/$version"' EXIT

dotnet pack Microsoft.ML.Compression -c Release --no-build -p:Version="$version" -o "$work/feed" >/dev/null
mkdir "$work/app"
cd "$work/app"
dotnet new console --framework net10.0 -n ReadmeQuickStart -o . >/dev/null
dotnet add package Microsoft.ML.Compression --version "$version" --source "$work/feed" >/dev/null
python3 - "$root/README.md" Program.cs <<'PY'
import re, sys
readme = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r"^## Quick start\n.*?```csharp\n(.*?)```", readme, re.S | re.M)
if not match:
    sys.exit("README.md has no ```csharp block under '## Quick start'")
open(sys.argv[2], "w", encoding="utf-8").write(match.group(1))
PY
dotnet build -c Release -v quiet -nologo 2>&1 | tail -3
out="$(dotnet run -c Release --no-build -- "$root/data/wa_churn.csv")"
echo "$out" | tail -3
if ! grep -q "^test AUC 0\.[6-9]" <<<"$out"; then echo "error: the README's quick start did not print a test AUC." >&2; exit 1; fi
echo "readme quick start ok"

# The package brings ONNX Runtime's managed API only: the app above compressed trees without the native runtime.
if find bin -name 'libonnxruntime*' | grep -q .; then echo "error: the package brought ONNX Runtime's native library into a tree-only app." >&2; exit 1; fi
# A network without the runtime: a typed error that names the package to add (OnnxRuntimeNotFoundException).
mkdir "$work/network" && cd "$work/network"
dotnet new console --framework net10.0 -n NoRuntime -o . >/dev/null
dotnet add package Microsoft.ML.Compression --version "$version" --source "$work/feed" >/dev/null
cat > Program.cs <<'CS'
using Microsoft.ML;
using Microsoft.ML.Compression;
using Microsoft.ML.Data;
var ml = new MLContext();
var data = ml.Data.LoadFromTextFile(args[1], new TextLoader.Options
{
    HasHeader = true, Separators = new[] { ',' },
    Columns = new[] { new TextLoader.Column("Features", DataKind.Single, 1, 16) },
});
try { ml.Compression().Quantize(args[0]).Fit(data); Console.WriteLine("no error"); }
catch (OnnxRuntimeNotFoundException e) { Console.WriteLine("typed: " + e.Message); }
CS
dotnet build -c Release -v quiet -nologo 2>&1 | tail -1
out="$(dotnet run -c Release --no-build -- "$root/data/models/letter_mlp.onnx" "$root/data/letter.csv" 2>&1 || true)"
echo "$out" | cut -c1-200
if ! grep -q "^typed: .*dotnet add package Microsoft.ML.OnnxRuntime" <<<"$out"; then echo "error: a network without ONNX Runtime did not give OnnxRuntimeNotFoundException." >&2; exit 1; fi
echo "no-runtime check ok"
