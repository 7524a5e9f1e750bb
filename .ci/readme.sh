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
