using Microsoft.ML;
using Microsoft.ML.Compression.Onnx;

namespace Microsoft.ML.Compression.Tests;

/// <summary>
/// INT4 mixed precision (<see cref="NetworkQuantizationOptions.Int4MaxSizeRatio"/>, on by default): the layers that add the
/// most 4-bit noise per extra byte on the calibration rows are stored INT8 while the file stays within the size
/// budget, and the report lists them. fashion_mlp (3 Gemm layers) against the same network with every layer at 4 bits.
/// </summary>
[TestClass]
public sealed class Int4MixedPrecisionTests
{
    private static MLContext _ml = null!;
    private static IDataView _calib = null!, _test = null!;
    private static readonly string Model = TestData.Network("fashion_mlp");

    [ClassInitialize]
    public static void Init(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        _calib = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_calib_512.csv"));
        _test = _ml.Data.Cache(TestData.Fashion(_ml, "fashion_mnist_test_1000.csv"));
    }

    private static CompressedModel Int4(double ratio) =>
        _ml.Compression().Quantize(Model, new QuantizationOptions { Precision = Precision.Int4, Network = { Int4MaxSizeRatio = ratio } }).Fit(_calib);

    private static readonly string[] Outputs = OnnxModelIO.Parse(File.ReadAllBytes(Model), "test").Graph.Output.Select(o => o.Name).ToArray();

    /// <summary>The graph outputs' SQNR against FP32 on the calibration rows, as the report measured it.</summary>
    private static double OutputSqnr(CompressedModel m) => m.Report.Final.TensorErrors!.Where(e => Outputs.Contains(e.Name)).Min(e => e.SqnrDb);

    private static int Count(CompressedModel m, string op) => OnnxModelIO.Parse(m.OnnxModel!, "test").Graph.Node.Count(n => n.OpType == op);

    [TestMethod]
    [TestCategory("Slow")] // 15–27 s on 2 shared cores (two quantizations, each measured on the calibration rows)
    public void SensitiveLayersGoToInt8WithinTheSizeBudgetAndTheOutputMovesLess()
    {
        using var all4 = Int4(0);
        using var mixed = Int4(0.2);
        long fp32 = mixed.Report.Original.OnnxBytes!.Value;
        Console.WriteLine($"all INT4: {all4.Report.Final.OnnxBytes / (double)fp32:F3}×, output {OutputSqnr(all4):F1} dB; mixed: {mixed.Report.Final.OnnxBytes / (double)fp32:F3}×, output {OutputSqnr(mixed):F1} dB\n{mixed.Report}");

        Assert.IsNull(all4.Report.Final.LayerPrecisions?.FirstOrDefault(), "Int4MaxSizeRatio = 0 keeps every layer at 4 bits");
        var kept = mixed.Report.Final.LayerPrecisions!;
        Assert.IsTrue(kept.Count >= 1, mixed.Report.Final.Description);
        Assert.IsTrue(kept.All(l => l.Bits == 8 && l.LowerBits == 4 && l.ExtraBytes > 0));
        // Worst first: the layer that added the most noise (lowest added SQNR) leads.
        CollectionAssert.AreEqual(kept.OrderBy(l => l.AddedSqnrDb).Select(l => l.Name).ToArray(), kept.Select(l => l.Name).ToArray());
        // Each kept layer leaves MatMulNBits for INT8 weights; the file stays within the budget and above all-4-bit.
        Assert.AreEqual(Count(all4, "MatMulNBits") - kept.Count, Count(mixed, "MatMulNBits"));
        Assert.IsTrue(mixed.Report.Final.OnnxBytes <= 0.2 * fp32, $"{mixed.Report.Final.OnnxBytes} of {fp32}");
        Assert.IsTrue(mixed.Report.Final.OnnxBytes > all4.Report.Final.OnnxBytes);
        // What INT8 buys: the output moves less, and accuracy does not drop.
        Assert.IsTrue(OutputSqnr(mixed) > OutputSqnr(all4) + 1, $"{OutputSqnr(mixed)} vs {OutputSqnr(all4)} dB");
        Assert.IsTrue(TestData.LogitAccuracy(mixed, _test) >= TestData.LogitAccuracy(all4, _test) - 0.002);
    }

    [TestMethod]
    public void ABudgetBelowTheAllInt4SizeKeepsEveryLayerAtFourBits()
    {
        using var tight = Int4(0.05);
        Assert.AreEqual(0, tight.Report.Final.LayerPrecisions?.Count ?? 0);
        Assert.AreEqual(3, Count(tight, "MatMulNBits"));
    }

    [TestMethod]
    public void RatioOutsideZeroToOneIsRefused()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.Compression().Quantize(Model, new QuantizationOptions { Precision = Precision.Int4, Network = { Int4MaxSizeRatio = 1.5 } }).Fit(_calib));
    }
}
