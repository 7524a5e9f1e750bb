using Microsoft.ML.Compression.Native;

namespace Microsoft.ML.Compression.Trees;

/// <summary>
/// The tree ensemble predictors whose saved form this library reads and writes, by the loader signature ML.NET
/// writes into their <c>Model.key</c>, and the format versions from which their trees carry missing-value defaults
/// and categorical splits (ML.NET's <c>VerDefaultValueSerialized</c> and <c>VerCategoricalSplitSerialized</c>).
/// </summary>
internal static class NativeTreeFormat
{
    internal sealed record Kind(string Signature, uint DefaultValueVersion, uint CategoricalVersion, bool Average);

    private static readonly Dictionary<string, Kind> Kinds = new Kind[]
    {
        new("FastTreeBinaryExec", 0x00010004, 0x00010005, false),
        new("FastTreeRegressionExec", 0x00010004, 0x00010005, false),
        new("FastTreeTweedieExec", 0x00010002, 0x00010003, false),
        new("FastTreeRankerExec", 0x00010004, 0x00010005, false),
        // FastForest regression divides the trees' sum by their number; its binary classifier does not.
        new("FastForestBinaryExec", 0x00010005, 0x00010006, false),
        new("FastForestRegressionExec", 0x00010005, 0x00010006, true),
        new("LightGBMBinaryExec", 0x00010004, 0x00010005, false),
        new("LightGBMRegressionExec", 0x00010004, 0x00010005, false),
        new("LightGBMRankerExec", 0x00010004, 0x00010005, false),
    }.ToDictionary(k => k.Signature);

    /// <summary>The kind of a model stream, or null when it is no tree ensemble this library writes.</summary>
    public static Kind? Of(ModelFile file) => Kinds.TryGetValue(file.LoaderSignature, out var kind) ? kind : null;
}

/// <summary>
/// One regression tree as ML.NET's <c>InternalRegressionTree</c> saves it. Node arrays may be longer than the tree
/// (ML.NET sizes them for the most leaves training allowed); a child index below zero is a leaf (~leaf).
/// </summary>
internal sealed class NativeTree
{
    public const byte RegressionType = 0, QuantileType = 2;

    public byte Type;
    public int NumLeaves;
    public double MaxOutput;
    public double Weight;
    public int[] Lte = Array.Empty<int>(), Gt = Array.Empty<int>(), SplitFeature = Array.Empty<int>();
    public int[] CategoricalNodes = Array.Empty<int>();
    public uint[] BinThresholds = Array.Empty<uint>();
    public float[] RawThresholds = Array.Empty<float>();
    public float[] MissingDefaults = Array.Empty<float>();
    public double[] LeafValues = Array.Empty<double>();
    public double[] Gain = Array.Empty<double>(), GainPValue = Array.Empty<double>(), PreviousLeafValue = Array.Empty<double>();
    /// <summary>Quantile (FastForest) trees: sampled training labels, <see cref="LabelsPerLeaf"/> per leaf, and their weights.</summary>
    public double[] Labels = Array.Empty<double>(), LabelWeights = Array.Empty<double>();

    public int NumNodes => NumLeaves - 1;
    public int LabelsPerLeaf => NumLeaves > 0 ? Labels.Length / NumLeaves : 0;

    /// <summary>The value a missing (NaN) feature takes at <paramref name="node"/>; NaN when the tree has none.</summary>
    public float MissingValueAt(int node)
        => MissingDefaults.Length > node && MissingDefaults.Any(v => v != 0f) ? MissingDefaults[node] : float.NaN;
}

/// <summary>An ensemble as ML.NET's <c>TreeEnsembleModelParameters</c> saves it; the bytes after the trees are kept as they are.</summary>
internal sealed class NativeTreeEnsemble
{
    public required NativeTreeFormat.Kind Kind { get; init; }
    public required List<NativeTree> Trees { get; init; }
    public double Bias;
    private int _initializationStringId;
    private byte[] _rest = Array.Empty<byte>();

    /// <summary>False when a tree has categorical splits: they are kept in the file but not edited (not yet supported).</summary>
    public bool HasCategoricalSplits => Trees.Any(t => t.CategoricalNodes.Length > 0);

    public static NativeTreeEnsemble Read(ModelFile file, NativeTreeFormat.Kind kind, string source)
    {
        if (file.VersionWritten < kind.CategoricalVersion)
            throw new UnsupportedModelException($"The tree ensemble {source} was saved by an ML.NET release older than 1.0 (format 0x{file.VersionWritten:X8}). Load it and save it again with this ML.NET.");
        var r = new ModelBlockReader(file.ModelBlock, source);
        r.Expect(r.Int() == sizeof(float), "the float size");
        int count = r.Int();
        r.Expect(count >= 0 && count <= r.Remaining / 16, "the tree count");
        var trees = new List<NativeTree>(count);
        for (int t = 0; t < count; t++) trees.Add(ReadTree(r));
        var ensemble = new NativeTreeEnsemble { Kind = kind, Trees = trees, Bias = r.Double() };
        ensemble._initializationStringId = r.Int();
        ensemble._rest = r.Rest();
        return ensemble;
    }

    private static NativeTree ReadTree(ModelBlockReader r)
    {
        var t = new NativeTree { Type = r.Byte() };
        r.Expect(t.Type is NativeTree.RegressionType or NativeTree.QuantileType, "the tree type");
        t.NumLeaves = r.Int();
        t.MaxOutput = r.Double();
        t.Weight = r.Double();
        t.Lte = r.Ints();
        t.Gt = r.Ints();
        t.SplitFeature = r.Ints();
        t.CategoricalNodes = r.Ints();
        if (t.CategoricalNodes.Length > 0)
        {
            // Kept only to be refused: a tree with categorical splits is not edited.
            foreach (var _ in t.CategoricalNodes) { r.Ints(); r.Ints(2); }
        }
        t.BinThresholds = r.UInts();
        t.RawThresholds = r.Floats();
        t.MissingDefaults = r.Floats();
        t.LeafValues = r.Doubles();
        t.Gain = r.Doubles();
        t.GainPValue = r.Doubles();
        t.PreviousLeafValue = r.Doubles();
        if (t.Type == NativeTree.QuantileType)
        {
            t.Labels = r.Doubles();
            t.LabelWeights = r.Doubles();
        }
        int capacity = t.Lte.Length;
        r.Expect(t.NumLeaves >= 2 && t.NumLeaves - 1 <= capacity && t.Gt.Length == capacity && t.SplitFeature.Length == capacity
            && t.LeafValues.Length == capacity + 1 && t.RawThresholds.Length == t.NumLeaves - 1
            && (t.MissingDefaults.Length == 0 || t.MissingDefaults.Length >= t.NumLeaves - 1), "a tree's arrays");
        for (int n = 0; n < t.NumNodes; n++)
            r.Expect(t.Lte[n] < t.NumNodes && t.Gt[n] < t.NumNodes && ~t.Lte[n] < t.NumLeaves && ~t.Gt[n] < t.NumLeaves, "a tree's children");
        // A categorical node tests a set of features instead of one (it is never edited: see HasCategoricalSplits).
        for (int n = 0; n < t.NumNodes; n++)
            r.Expect(t.SplitFeature[n] >= 0 || t.CategoricalNodes.Contains(n), "a split feature");
        return t;
    }

    /// <summary>The same ensemble (kind, bias, the bytes after the trees) with other trees.</summary>
    public NativeTreeEnsemble WithTrees(List<NativeTree> trees)
        => new() { Kind = Kind, Trees = trees, Bias = Bias, _initializationStringId = _initializationStringId, _rest = _rest };

    public byte[] Write()
    {
        var w = new ModelBlockWriter();
        w.Int(sizeof(float));
        w.Int(Trees.Count);
        foreach (var t in Trees) WriteTree(w, t);
        w.Double(Bias);
        w.Int(_initializationStringId);
        w.Bytes(_rest);
        return w.ToArray();
    }

    private static void WriteTree(ModelBlockWriter w, NativeTree t)
    {
        w.Byte(t.Type);
        w.Int(t.NumLeaves);
        w.Double(t.MaxOutput);
        w.Double(t.Weight);
        w.Ints(t.Lte);
        w.Ints(t.Gt);
        w.Ints(t.SplitFeature);
        if (t.CategoricalNodes.Length > 0) throw new InvalidOperationException("Trees with categorical splits are not written.");
        w.Ints(Array.Empty<int>());
        w.UInts(t.BinThresholds);
        w.Floats(t.RawThresholds);
        w.Floats(t.MissingDefaults);
        w.Doubles(t.LeafValues);
        w.Doubles(t.Gain);
        w.Doubles(t.GainPValue);
        w.Doubles(t.PreviousLeafValue);
        if (t.Type == NativeTree.QuantileType)
        {
            w.Doubles(t.Labels);
            w.Doubles(t.LabelWeights);
        }
    }
}
