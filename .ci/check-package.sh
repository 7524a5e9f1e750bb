#!/usr/bin/env bash
# Packs the library (from the Release build that build.sh made) and checks the .nupkg: nuspec metadata, the packed
# README, and the dll + XML docs for every target framework. Takes a few seconds; run after build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
dotnet pack Microsoft.ML.Compression -c Release --no-build -o "$out" >/dev/null
pkg="$(ls "$out"/Microsoft.ML.Compression.*.nupkg)"

if command -v unzip >/dev/null 2>&1; then
  files="$(unzip -Z1 "$pkg")"; nuspec="$(unzip -p "$pkg" Microsoft.ML.Compression.nuspec)"
else
  files="$(python3 -c 'import sys,zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$pkg")"
  nuspec="$(python3 -c 'import sys,zipfile; print(zipfile.ZipFile(sys.argv[1]).read("Microsoft.ML.Compression.nuspec").decode())' "$pkg")"
fi

fail=0
need() { if ! grep -qxF "$1" <<<"$files"; then echo "error: package lacks $1" >&2; fail=1; fi; }
for tfm in net8.0 net10.0; do
  need "lib/$tfm/Microsoft.ML.Compression.dll"
  need "lib/$tfm/Microsoft.ML.Compression.xml"
done
need "README.md"
for tag in '<readme>README.md</readme>' '<license type="expression">MIT</license>' '<repository type="git"' '<description>'; do
  if ! grep -qF "$tag" <<<"$nuspec"; then echo "error: nuspec lacks $tag" >&2; fail=1; fi
done
if grep -q '<icon>' <<<"$nuspec"; then echo "error: the package should have no icon" >&2; fail=1; fi
[ "$fail" -eq 0 ] && echo "package ok: $(basename "$pkg")"
exit "$fail"
