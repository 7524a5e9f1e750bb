@echo off
rem Restores and builds the library, its tests and the QuickStart example (Release).
setlocal
cd /d "%~dp0"

dotnet --version >nul 2>&1
if errorlevel 1 (
  echo error: the .NET SDK was not found ^(the dotnet command is missing or does not run^). 1>&2
  echo Install the .NET 10 SDK with the Windows installer from Microsoft's .NET download page, 1>&2
  echo or with: winget install Microsoft.DotNet.SDK.10 1>&2
  echo Then open a new command prompt and check that "dotnet --version" prints 10.0.x. 1>&2
  exit /b 1
)
for /f "delims=" %%v in ('dotnet --version') do echo Using .NET SDK %%v

dotnet restore ML.Compression.sln
if errorlevel 1 exit /b 1
dotnet build ML.Compression.sln -c Release --no-restore
if errorlevel 1 exit /b 1
exit /b 0
