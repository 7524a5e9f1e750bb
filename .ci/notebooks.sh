#!/usr/bin/env bash
# Runs every notebook under examples/notebooks headless with dotnet-repl (installed as a global .NET tool when
# missing) and fails when any cell of any notebook throws. Needs the Release build (bash build.sh) first.
# Executed copies, with outputs, go to NOTEBOOK_OUT (default: a temporary folder); the committed notebooks stay
# without outputs. Then the package check: a notebook that only restores the packed Microsoft.ML.Compression from a
# local feed (no #r of a dll, no Register call) must show a report and a model as the HTML table of the package's
# .NET Interactive extension (interactive-extensions/dotnet/), and a sweep as its plot; see .ci/package-notebook.py.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

export PATH="$PATH:${DOTNET_TOOLS_PATH:-$HOME/.dotnet/tools}"
if ! command -v dotnet-repl >/dev/null 2>&1; then
  dotnet tool install -g dotnet-repl --version 0.3.259
fi
for dll in Microsoft.ML.Compression/bin/Release/net10.0/Microsoft.ML.Compression.dll \
           Microsoft.ML.Compression.Interactive/bin/Release/net10.0/Microsoft.ML.Compression.Interactive.dll \
           Microsoft.ML.Compression.Plotting/bin/Release/net10.0/Microsoft.ML.Compression.Plotting.dll; do
  if [ ! -f "$dll" ]; then echo "error: $dll is missing; run bash build.sh first." >&2; exit 1; fi
done

out="${NOTEBOOK_OUT:-$(mktemp -d)}"
mkdir -p "$out"
failed=0
for nb in examples/notebooks/*.ipynb; do
  name="$(basename "$nb" .ipynb)"
  start=$SECONDS
  rc=0
  # Paths inside the notebooks are relative to their folder: run from there.
  (cd "$(dirname "$nb")" && dotnet-repl --run "$(basename "$nb")" --exit-after-run --output-path "$out/$name.out.ipynb") \
    >"$out/$name.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "notebook $nb FAILED (dotnet-repl exited $rc, $((SECONDS - start)) s); log and output in $out:" >&2
    tail -n 30 "$out/$name.log" >&2 || true
    python3 - "$out/$name.out.ipynb" >&2 <<'PY' || true
import json, sys
for i, c in enumerate(json.load(open(sys.argv[1]))["cells"]):
    for o in c.get("outputs", []):
        if o.get("output_type") == "error":
            print(f"cell {i}: {o.get('evalue', '')[:2000]}")
PY
    failed=1
  else
    echo "notebook $nb ok ($((SECONDS - start)) s)"
  fi
done
# The package's kernel extension, as a notebook user gets it: pack into a temporary feed with a version of its own
# (so that NuGet's global cache never hands back an older build), #i the feed by its absolute path, #r the package.
start=$SECONDS
version="0.1.0-notebook$(date +%s)"
work="$(mktemp -d)"
trap 'rm -rf "$work" "${NUGET_PACKAGES:-$HOME/.nuget/packages}/microsoft.ml.compression/$version"' EXIT
dotnet pack Microsoft.ML.Compression -c Release --no-build -p:Version="$version" -o "$work/feed" >/dev/null
python3 .ci/package-notebook.py write "$work/package-extension.ipynb" "$work/feed" "$version" "$root/data/wa_churn.csv"
rc=0
(cd "$work" && dotnet-repl --run package-extension.ipynb --exit-after-run --output-path "$out/package-extension.out.ipynb") \
  >"$out/package-extension.log" 2>&1 || rc=$?
# The check names each cell that failed or did not show the extension's HTML (on stderr).
checked=0
python3 .ci/package-notebook.py check "$out/package-extension.out.ipynb" || checked=$?
if [ "$rc" -eq 0 ] && [ "$checked" -eq 0 ]; then
  echo "package extension ok: #r \"nuget: Microsoft.ML.Compression, $version\" alone shows reports and models as HTML tables, sweeps as a plot ($((SECONDS - start)) s)"
else
  echo "package extension FAILED (dotnet-repl exited $rc, $((SECONDS - start)) s); log and output in $out:" >&2
  tail -n 30 "$out/package-extension.log" >&2 || true
  failed=1
fi
exit "$failed"
