#!/usr/bin/env bash
# Packs the library (from the Release build that build.sh made) and checks the .nupkg: nuspec metadata, the packed
# package readme (PACKAGE.md: short, links that work outside the repository), the dll + XML docs for every target framework, and the .NET Interactive extension (the only dll outside
# lib/: interactive-extensions/dotnet/Microsoft.ML.Compression.Interactive.dll, which notebook kernels load).
# Takes a few seconds; run after build.sh.
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
need "PACKAGE.md"
# The package readme is the short PACKAGE.md, not the repository's README, and its links were rewritten at pack time
# (relative links, which nuget.org cannot follow, become repository URLs or file names).
if command -v unzip >/dev/null 2>&1; then readme="$(unzip -p "$pkg" PACKAGE.md)"
else readme="$(python3 -c 'import sys,zipfile; print(zipfile.ZipFile(sys.argv[1]).read("PACKAGE.md").decode())' "$pkg")"; fi
if [ "${#readme}" -gt 4000 ]; then echo "error: the package readme has ${#readme} characters; keep PACKAGE.md short (at most 4000)" >&2; fail=1; fi
if grep -qF '](../' <<<"$readme"; then echo "error: the packed PACKAGE.md still has relative links" >&2; fail=1; fi
if ! grep -qF 'dotnet add package Microsoft.ML.Compression' <<<"$readme"; then echo "error: the package readme does not say how to install" >&2; fail=1; fi
need "interactive-extensions/dotnet/Microsoft.ML.Compression.Interactive.dll"
# Nothing else in the extension folder: the kernel loads every dll there, and a second copy of the library (or of
# .NET Interactive, which the kernel brings) would clash with the one it already has.
extra="$(grep '^interactive-extensions/' <<<"$files" | grep -vxF "interactive-extensions/dotnet/Microsoft.ML.Compression.Interactive.dll" || true)"
if [ -n "$extra" ]; then echo "error: the extension folder holds more than the extension: $extra" >&2; fail=1; fi
# The library itself never depends on .NET Interactive (only the extension, which the kernel loads, does).
if grep -qi 'Microsoft.DotNet.Interactive' <<<"$nuspec"; then echo "error: the package depends on .NET Interactive" >&2; fail=1; fi
for tag in '<readme>PACKAGE.md</readme>' '<license type="expression">MIT</license>' '<repository type="git"' '<description>'; do
  if ! grep -qF "$tag" <<<"$nuspec"; then echo "error: nuspec lacks $tag" >&2; fail=1; fi
done
if grep -q '<icon>' <<<"$nuspec"; then echo "error: the package should have no icon" >&2; fail=1; fi
[ "$fail" -eq 0 ] && echo "package ok: $(basename "$pkg")"
exit "$fail"
