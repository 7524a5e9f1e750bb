using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// The library's folders depend downward: a file may use the types of its own folder and of the folders below it in
/// <see cref="Layers"/>, never of a folder above. Checked on the sources with Roslyn's semantic model (every type,
/// method, property or field a file names resolves to the file that declares it), so a new upward use fails here.
/// </summary>
[TestClass]
public sealed class ArchitectureTests
{
    /// <summary>The library's folders, lowest first ("" is the root folder: the catalog, the public entry point).</summary>
    internal static readonly string[] Layers =
    {
        "Errors", "Model", "Tokenization", "Onnx", "Native", "Reporting", "Scoring", "Trees", "MlNet", "Quantization", "Pruning", "Linear", "Distillation", "Pipeline", "", "Sweeps",
    };

    [TestCategory("Slow")]
    [TestMethod]
    public void EachFolderUsesOnlyItselfAndTheFoldersBelowIt()
    {
        var uses = FolderDependencies.Of(LibraryFolder());
        var unknown = uses.Keys.Concat(uses.Values.SelectMany(v => v.Keys)).Distinct().Where(f => Array.IndexOf(Layers, f) < 0).ToList();
        Assert.AreEqual(0, unknown.Count, $"folders missing from Layers: {string.Join(", ", unknown)}");
        var upward = (from user in uses
                      from used in user.Value
                      where Array.IndexOf(Layers, used.Key) > Array.IndexOf(Layers, user.Key)
                      select $"{Name(user.Key)} -> {Name(used.Key)}: {string.Join("; ", used.Value.Take(4))}").ToList();
        foreach (var line in uses.OrderBy(u => Array.IndexOf(Layers, u.Key)))
            Console.WriteLine($"{Name(line.Key),-14} uses {string.Join(", ", line.Value.Keys.OrderBy(k => Array.IndexOf(Layers, k)).Select(Name))}");
        Assert.AreEqual(0, upward.Count, "upward uses:\n" + string.Join("\n", upward));
    }

    /// <summary>
    /// Scoring/ is where graphs run: no other folder opens an ONNX Runtime session or holds its tensors (Onnx/ only
    /// reads, writes and edits protobuf; calibration and timing call Scoring's TensorCapture and GraphTimer).
    /// </summary>
    [TestMethod]
    public void OnlyScoringRunsGraphsInOnnxRuntime()
    {
        var runtimeTypes = new System.Text.RegularExpressions.Regex(@"\b(InferenceSession|OrtValue|SessionOptions|RunOptions|OrtEnv)\b|^using Microsoft\.ML\.OnnxRuntime;");
        string library = LibraryFolder();
        var found = (from file in Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories)
                     let relative = Path.GetRelativePath(library, file)
                     let folder = relative.Contains(Path.DirectorySeparatorChar) ? relative[..relative.IndexOf(Path.DirectorySeparatorChar)] : ""
                     where folder is not ("Scoring" or "bin" or "obj")
                     from line in File.ReadLines(file).Select((text, i) => (Text: text.Trim(), Number: i + 1))
                     where !line.Text.StartsWith("//", StringComparison.Ordinal) && runtimeTypes.IsMatch(line.Text)
                     select $"{relative}:{line.Number}: {line.Text}").ToList();
        Assert.AreEqual(0, found.Count, "ONNX Runtime sessions or tensors outside Scoring/:\n" + string.Join("\n", found));
    }

    /// <summary>
    /// The public surface is the root namespace: the folders' own namespaces (Microsoft.ML.Compression.Quantization,
    /// …) are implementation and stay internal, except the output mappings ML.NET's CustomMapping loader has to
    /// instantiate, which are hidden from IntelliSense (EditorBrowsable Never).
    /// </summary>
    [TestMethod]
    public void OnlyTheRootNamespaceIsPublicApartFromHiddenPlumbing()
    {
        var exported = typeof(CompressedModel).Assembly.GetExportedTypes();
        Console.WriteLine($"{exported.Length} public types: {string.Join(", ", exported.Select(t => t.Name).Order(StringComparer.Ordinal))}");
        var misplaced = exported
            .Where(t => t.Namespace != "Microsoft.ML.Compression")
            .Where(t => t.GetCustomAttributes(typeof(System.ComponentModel.EditorBrowsableAttribute), inherit: false)
                .Cast<System.ComponentModel.EditorBrowsableAttribute>().All(a => a.State != System.ComponentModel.EditorBrowsableState.Never))
            .Select(t => t.FullName).ToList();
        Assert.AreEqual(0, misplaced.Count, "public types in an implementation namespace: " + string.Join(", ", misplaced));
        Assert.IsTrue(exported.Any(t => t.Namespace == "Microsoft.ML.Compression.MlNet"), "the check above has the hidden output mappings to look at");
    }

    private static string Name(string folder) => folder.Length == 0 ? "(root)" : folder;

    private static string LibraryFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Microsoft.ML.Compression");
            if (File.Exists(Path.Combine(candidate, "Microsoft.ML.Compression.csproj"))) return candidate;
        }
        throw new InvalidOperationException("The library's sources were not found above the test's output folder.");
    }
}

/// <summary>Which folder's declarations each folder's files use, with examples ("file: Symbol").</summary>
internal static class FolderDependencies
{
    public static Dictionary<string, Dictionary<string, List<string>>> Of(string libraryFolder)
    {
        var options = new CSharpParseOptions(LanguageVersion.Latest);
        var files = Directory.EnumerateFiles(libraryFolder, "*.cs", SearchOption.AllDirectories)
            .Where(p => !Path.GetRelativePath(libraryFolder, p).Split(Path.DirectorySeparatorChar).Any(s => s is "bin" or "obj"));
        var trees = files.Select(p => CSharpSyntaxTree.ParseText(File.ReadAllText(p), options, p)).ToList();
        // The SDK's implicit usings of the library (ImplicitUsings=enable).
        trees.Add(CSharpSyntaxTree.ParseText(
            "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq; " +
            "global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;", options));
        var compilation = CSharpCompilation.Create("Layers", trees, References(), new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var result = new Dictionary<string, Dictionary<string, List<string>>>();
        foreach (var tree in trees.Where(t => t.FilePath.Length > 0))
        {
            string from = FolderOf(libraryFolder, tree.FilePath);
            var model = compilation.GetSemanticModel(tree);
            foreach (var node in tree.GetRoot().DescendantNodes().OfType<SimpleNameSyntax>())
            {
                var symbol = model.GetSymbolInfo(node).Symbol ?? model.GetSymbolInfo(node).CandidateSymbols.FirstOrDefault();
                var type = symbol as INamedTypeSymbol ?? symbol?.ContainingType;
                for (; type != null; type = type.ContainingType) // a nested type belongs to its outer type's file
                {
                    foreach (var declaration in type.OriginalDefinition.DeclaringSyntaxReferences)
                    {
                        string to = FolderOf(libraryFolder, declaration.SyntaxTree.FilePath);
                        if (to == from || declaration.SyntaxTree.FilePath.Length == 0) continue;
                        if (!result.TryGetValue(from, out var uses)) result[from] = uses = new();
                        if (!uses.TryGetValue(to, out var examples)) uses[to] = examples = new();
                        string example = $"{Path.GetFileName(tree.FilePath)}: {type.Name}";
                        if (!examples.Contains(example)) examples.Add(example);
                    }
                }
            }
        }
        return result;
    }

    private static string FolderOf(string root, string file)
    {
        var parts = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar);
        return parts.Length > 1 ? parts[0] : "";
    }

    /// <summary>The framework's assemblies and every assembly beside the tests (ML.NET, ONNX Runtime, OnnxSharp, …), the library's own excepted.</summary>
    private static IEnumerable<MetadataReference> References()
    {
        var framework = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var beside = Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll")
            .Where(p => !Path.GetFileName(p).StartsWith("Microsoft.ML.Compression", StringComparison.Ordinal));
        return framework.Concat(beside).GroupBy(Path.GetFileName).Select(g => g.First())
            .Where(p => { try { System.Reflection.AssemblyName.GetAssemblyName(p); return true; } catch (BadImageFormatException) { return false; } })
            .Select(p => MetadataReference.CreateFromFile(p));
    }
}
