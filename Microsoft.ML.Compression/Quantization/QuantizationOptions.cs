namespace Microsoft.ML.Compression;

/// <summary>How many bits the quantized weights keep.</summary>
/// <example><code>new QuantizationOptions { Precision = Precision.Float16 }</code></example>
public enum Precision
{
    /// <summary>8-bit integers, symmetric, one scale per output channel, dequantized by ONNX's DequantizeLinear. About 4× smaller weights.</summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int8 }</code></example>
    Int8,
    /// <summary>IEEE half precision weights, cast back to float at run time. About 2× smaller weights, nearly lossless.</summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Float16 }</code></example>
    Float16,
    /// <summary>
    /// 4-bit integers, symmetric, one scale per block of <see cref="NetworkQuantizationOptions.BlockSize"/> consecutive
    /// input weights of each output channel; weight-only (<see cref="QuantizationMode.WeightOnly"/>), for
    /// MatMul and Gemm weights. Smaller weights than INT8, with a larger accuracy loss.
    /// </summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int4, Network = { BlockSize = 64 } }</code></example>
    Int4,
}

/// <summary>What is quantized: the weights only, or the activations too (INT8 only).</summary>
/// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Entropy } }</code></example>
public enum QuantizationMode
{
    /// <summary>Weights stored as integers and dequantized to float before each operator; arithmetic stays float.</summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.WeightOnly } }</code></example>
    WeightOnly,
    /// <summary>
    /// INT8 weights, and the inputs of MatMul/Gemm quantized at run time from their own range
    /// (DynamicQuantizeLinear + MatMulInteger). Needs no calibration data; Conv stays weight-only.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } }</code></example>
    Dynamic,
    /// <summary>
    /// INT8 weights, and the inputs of MatMul/Gemm/Conv quantized with ranges measured on the fit data
    /// (<see cref="NetworkQuantizationOptions.Calibration"/>), as QuantizeLinear/DequantizeLinear pairs that ONNX
    /// Runtime fuses into integer kernels. A quantized MatMul followed by a bias Add is written directly as ONNX
    /// Runtime's com.microsoft MatMulIntegerToFloat with the bias inside (ONNX Runtime's own QDQ fusion leaves the Add
    /// as a separate float pass); <see cref="NetworkQuantizationOptions.KeepDequantizeLinear"/> keeps the plain QDQ form.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 512 } }</code></example>
    Static,
}

/// <summary>How <see cref="QuantizationMode.Static"/> turns the recorded activations into a quantization range.</summary>
/// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.MinMax } }</code></example>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen: no clipping, but one outlier widens the grid for all values.</summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.MinMax } }</code></example>
    MinMax,
    /// <summary>
    /// Clips the rarest values: keeps the central <see cref="NetworkQuantizationOptions.Percentile"/> percent of the
    /// recorded values (read from a histogram).
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Percentile, Percentile = 99.99 } }</code></example>
    Percentile,
    /// <summary>
    /// The clipping threshold whose 128-level quantized histogram is closest (smallest KL divergence) to the
    /// recorded one, as TensorRT and ONNX Runtime's entropy calibrator do.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Entropy } }</code></example>
    Entropy,
}

/// <summary>
/// <see cref="QuantizationMode.Static"/>: how the weights of the layers that run in ONNX Runtime's integer kernels are
/// stored. On x64 CPUs without VNNI (AVX2, AVX-512 before VNNI) ONNX Runtime multiplies uint8 activations by int8
/// weights with an instruction (VPMADDUBSW) that adds each pair of products in 16 bits and saturates at 32,767, which
/// 255 · 127 · 2 exceeds: 8-bit int8 weights then give wrong sums wherever inputs and weights are both large.
/// </summary>
/// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.EightBitUnsigned } }</code></example>
public enum StaticWeightFormat
{
    /// <summary>
    /// 8-bit int8 levels with each channel's scale set so that its two largest magnitudes together take at most 128
    /// levels (the largest gets between 64 and 127): every pair of products then fits the fast uint8×int8 kernels'
    /// 16-bit sums (255 · 128 &lt; 32,768), on any CPU, at 7 to 8 bits of precision. Default. ONNX Runtime's own
    /// answer (<c>reduce_range</c>, 7-bit ±63 weights) is never more precise. Measured accuracy and speed of the three
    /// formats: docs/stages.md (static INT8).
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.PairBounded } }</code></example>
    PairBounded,
    /// <summary>
    /// 8-bit levels (±127) stored as uint8 around zero point 128 beside uint8 activations: ONNX Runtime runs its
    /// uint8×uint8 kernels, exact on every CPU but slower than uint8×int8 on AVX2. With <see cref="NetworkQuantizationOptions.SymmetricActivations"/> the weights stay int8.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.EightBitUnsigned } }</code></example>
    EightBitUnsigned,
    /// <summary>
    /// 8-bit levels (±127) stored as int8: the most precise and fastest where the integer kernels do not saturate
    /// (x64 CPUs with AVX-VNNI or AVX-512 VNNI, ARM). On x64 CPUs without VNNI it loses accuracy.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.EightBit } }</code></example>
    EightBit,
}

/// <summary>
/// How <see cref="QuantizationMode.Dynamic"/> stores the weights of its MatMulInteger layers. The activations are
/// uint8 (DynamicQuantizeLinear); ONNX Runtime picks its kernel by the weights' type: uint8×int8 sums pairs of
/// products in 16 bits on x64 CPUs without VNNI (and can saturate), uint8×uint8 cannot but is slower where VNNI
/// runs uint8×int8 in one instruction.
/// </summary>
/// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBit } }</code></example>
public enum DynamicWeightFormat
{
    /// <summary>
    /// Chosen from the CPU quantizing (the CPU that will run the model, as a rule): <see cref="EightBit"/> on x64 with
    /// AVX-512 VNNI or AVX-VNNI and on ARM64, <see cref="PairBounded"/> elsewhere. The report says which.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } } // DynamicWeightFormat.Auto</code></example>
    Auto,
    /// <summary>±127 levels stored as uint8 around zero point 128 (uint8×uint8 kernels): exact on every CPU.</summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBitUnsigned } }</code></example>
    EightBitUnsigned,
    /// <summary>±127 levels stored as int8 (uint8×int8 kernels): fastest with VNNI; on x64 without VNNI it can saturate.</summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBit } }</code></example>
    EightBit,
    /// <summary>
    /// int8 with each channel's scale set so that its two largest magnitudes together take at most 128 levels, as
    /// <see cref="StaticWeightFormat.PairBounded"/>: the uint8×int8 kernels' 16-bit pair sums cannot saturate
    /// (255 · 128 &lt; 32,768), so the fast kernels stay exact on x64 without VNNI, at 7 to 8 bits of precision.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.PairBounded } }</code></example>
    PairBounded,
}

/// <summary>
/// Options of the quantization stage (<see cref="CompressionCatalog.Quantize(QuantizationOptions)"/>): the settings every
/// model kind shares, then <see cref="Network"/> for ONNX networks and <see cref="Trees"/> for tree ensembles. The
/// sub-objects are created with the options, so nested initializers set them.
/// </summary>
/// <example>
/// <code>
/// var quantize = ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8, ExcludedNodes = new[] { "fc_out" } });
/// var staticInt8 = ml.Compression().Quantize("mlp.onnx", new QuantizationOptions { Network = { Mode = QuantizationMode.Static } }).Fit(calibrationData);
/// </code>
/// </example>
public sealed class QuantizationOptions
{
    /// <summary>Target precision of the weights (every model kind). Default <see cref="Precision.Int8"/>.</summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Float16 }</code></example>
    public Precision Precision { get; set; } = Precision.Int8;

    /// <summary>
    /// INT8 only: one scale per output channel (true, default: accurate where channels differ in range) or one
    /// scale for the whole tensor (false). Networks and linear models.
    /// </summary>
    /// <example><code>new QuantizationOptions { PerChannel = false }</code></example>
    public bool PerChannel { get; set; } = true;

    /// <summary>Names of ONNX nodes, or of their weight initializers, to leave in float (e.g. a sensitive last layer).</summary>
    /// <example><code>new QuantizationOptions { ExcludedNodes = new[] { "/fc3/Gemm" } }</code></example>
    public IReadOnlyCollection<string> ExcludedNodes { get; set; } = Array.Empty<string>();

    /// <summary>
    /// Tree ensembles and linear models: stay native ML.NET models (<see cref="ModelForm.Native"/>, default) or become
    /// an ONNX graph (<see cref="ModelForm.Onnx"/>).
    /// </summary>
    /// <example><code>var options = new QuantizationOptions { Precision = Precision.Int8, Form = ModelForm.Onnx };</code></example>
    public ModelForm Form { get; set; } = ModelForm.Native;

    /// <summary>
    /// Settings for ONNX networks: weight-only, dynamic or static mode, calibration, weight formats, which layers keep
    /// float arithmetic, the speed and accuracy guards.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Entropy } }</code></example>
    public NetworkQuantizationOptions Network { get; private set; } = new();

    /// <summary>Settings for tree ensembles in the ONNX form: how the trees are stored.</summary>
    /// <example><code>new QuantizationOptions { Form = ModelForm.Onnx, Trees = { Storage = TreeStorage.Compact } }</code></example>
    public TreeQuantizationOptions Trees { get; private set; } = new();

    /// <summary>A deep copy: later changes to the caller's options (or its collections) do not change a stage.</summary>
    internal QuantizationOptions Copy()
    {
        var copy = (QuantizationOptions)MemberwiseClone();
        copy.ExcludedNodes = ExcludedNodes.ToArray();
        copy.Network = Network.Copy();
        copy.Trees = Trees.Copy();
        return copy;
    }

    internal void Validate()
    {
        if (!Enum.IsDefined(Form))
            throw new ArgumentOutOfRangeException(nameof(Form), Form, "Form must be ModelForm.Native or ModelForm.Onnx.");
        if (!Enum.IsDefined(Precision))
            throw new ArgumentOutOfRangeException(nameof(Precision), Precision, "Precision must be Int8, Float16 or Int4.");
        if (ExcludedNodes == null)
            throw new ArgumentNullException(nameof(ExcludedNodes), "ExcludedNodes may be empty but not null.");
        Network.Validate();
        Trees.Validate();
        if (Network.Mode != QuantizationMode.WeightOnly && Precision != Precision.Int8)
            throw new ArgumentOutOfRangeException(nameof(NetworkQuantizationOptions.Mode), Network.Mode, $"{Network.Mode} quantization is INT8 only; use Precision = Int8, or Network.Mode = WeightOnly for {Precision}.");
    }
}
