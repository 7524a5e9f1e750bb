#!/usr/bin/env bash
# Runs every notebook under examples/notebooks headless with dotnet-repl (installed as a global .NET tool when
# missing) and fails when any cell of any notebook throws. Needs the Release build (bash build.sh) first.
# Executed copies, with outputs, go to NOTEBOOK_OUT (default: a temporary folder); the committed notebooks stay
# without outputs.
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
exit "$failed"
