#!/usr/bin/env bash
# Restores and builds the library, its tests and the examples (Release).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --version >/dev/null 2>&1; then
  echo "error: the .NET SDK was not found (the 'dotnet' command is missing or does not run)." >&2
  echo "Install the .NET 10 SDK: on Windows and macOS use the installer from Microsoft's .NET download page;" >&2
  echo "on Linux use your distribution's dotnet-sdk-10.0 package where one exists, or Microsoft's package feed," >&2
  echo "or the dotnet-install.sh script described in Microsoft's '.NET install on Linux' documentation." >&2
  echo "Then open a new shell and check that 'dotnet --version' prints 10.0.x." >&2
  exit 1
fi
echo "Using .NET SDK $(dotnet --version)"

dotnet restore ML.Compression.sln
dotnet build ML.Compression.sln -c Release --no-restore
