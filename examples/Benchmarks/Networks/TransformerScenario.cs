using Benchmarks.Common;
using Examples.Shared;
using Microsoft.ML;
using Microsoft.ML.Compression;

namespace Benchmarks.Networks;

/// <summary>
/// The tiny Transformer encoder text classifier <c>data/models/spam_transformer.onnx</c> (SpamAssassin e-mails as 128
/// token ids; embedding 3072×128, 2 pre-LayerNorm encoder layers, 4 heads, FFN 256) as FP32 vs every quantization
/// mode, side by side: accuracy, ONNX size, latency ratios at batch 1 and 32.
/// </summary>
public static class TransformerScenario
{
    private static NetworkVariant Variant(string name, string description, QuantizationOptions options)
        => new(name, description, (ml, path, fit) => StageProgress.Run(name, progress => ml.Compression().Quantize(path, options).WithProgress(progress).Fit(fit)));

    /// <summary>
    /// Each mode with its default options: Softmax and LayerNorm stay float everywhere; static mode also quantizes the
    /// attention products (Q·Kᵀ, softmax·V), dynamic mode leaves them float.
    /// </summary>
    public static readonly NetworkVariant[] Modes =
    {
        Variant("INT8", "INT8 weight-only (weights restored by Cast + Mul, folded at load; embedding rows gathered as int8, then Cast + Mul)", new QuantizationOptions()),
        Variant("FP16", "FP16 weights and tables (Constant + Cast)", new QuantizationOptions { Precision = Precision.Float16 }),
        Variant("INT4", "INT4 weight-only (MatMulNBits, embedding GatherBlockQuantized, blocks of 64)", new QuantizationOptions { Precision = Precision.Int4 }),
        Variant("dynamic INT8", "dynamic INT8 (DynamicQuantizeLinear + MatMulInteger on the weight MatMuls)", new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } }),
        Variant("static INT8", "static INT8 (QDQ on the inputs of the weight MatMuls and of the attention products, 256 calibration rows, Percentile; projections + bias as MatMulIntegerToFloat, 1/√d in the QuantizeLinear scale)", new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }),
    };

    /// <remarks>Full runs time each batch size for 5 × 2 s (the variants in turns): a batch of 32 e-mails takes 50–100 ms.</remarks>
    public static ScenarioResult Run(Settings s)
        => NetworkScenario.Run(s.Quick ? s : s with { SecondsPerRun = 2.0 }, "spam_transformer", "spamassassin_tokens_test_1000.csv", "spamassassin_tokens_calib_512.csv", 128, int.Parse,
            "Inputs are the first 128 token ids of subject + body (data/README.md); Fit gets the 512 calibration rows from the training split. "
            + "Batch 256 is left out: one call takes seconds on one thread.",
            Modes, "ONNX network: spam_transformer (Transformer encoder)", ortBatchSizes: new[] { 1, 32 });
}
