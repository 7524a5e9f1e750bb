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
    /// 4-bit integers, symmetric, one scale per block of <see cref="QuantizationOptions.BlockSize"/> consecutive
    /// input weights of each output channel; weight-only (<see cref="QuantizationMode.WeightOnly"/>), for
    /// MatMul and Gemm weights. About 7× smaller weights, with a larger accuracy loss than INT8.
    /// </summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int4, BlockSize = 64 }</code></example>
    Int4,
}

/// <summary>What is quantized: the weights only, or the activations too (INT8 only).</summary>
/// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Entropy }</code></example>
public enum QuantizationMode
{
    /// <summary>Weights stored as integers and dequantized to float before each operator; arithmetic stays float.</summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.WeightOnly }</code></example>
    WeightOnly,
    /// <summary>
    /// INT8 weights, and the inputs of MatMul/Gemm quantized at run time from their own range
    /// (DynamicQuantizeLinear + MatMulInteger). Needs no calibration data; Conv stays weight-only.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Dynamic }</code></example>
    Dynamic,
    /// <summary>
    /// INT8 weights, and the inputs of MatMul/Gemm/Conv quantized with ranges measured on the fit data
    /// (<see cref="QuantizationOptions.Calibration"/>), as QuantizeLinear/DequantizeLinear pairs that ONNX
    /// Runtime fuses into integer kernels. A quantized MatMul followed by a bias Add is written directly as ONNX
    /// Runtime's com.microsoft MatMulIntegerToFloat with the bias inside (ONNX Runtime's own QDQ fusion leaves the Add
    /// as a separate float pass); <see cref="QuantizationOptions.KeepDequantizeLinear"/> keeps the plain QDQ form.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, MaxCalibrationRows = 512 }</code></example>
    Static,
}

/// <summary>How <see cref="QuantizationMode.Static"/> turns the recorded activations into a quantization range.</summary>
/// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.MinMax }</code></example>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen: no clipping, but one outlier widens the grid for all values.</summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.MinMax }</code></example>
    MinMax,
    /// <summary>
    /// Clips the rarest values: keeps the central <see cref="QuantizationOptions.Percentile"/> percent of the
    /// recorded values (read from a histogram).
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Percentile, Percentile = 99.99 }</code></example>
    Percentile,
    /// <summary>
    /// The clipping threshold whose 128-level quantized histogram is closest (smallest KL divergence) to the
    /// recorded one, as TensorRT and ONNX Runtime's entropy calibrator do.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Entropy }</code></example>
    Entropy,
}

/// <summary>
/// <see cref="QuantizationMode.Static"/>: how the weights of the layers that run in ONNX Runtime's integer kernels are
/// stored. On x64 CPUs without VNNI (AVX2, AVX-512 before VNNI) ONNX Runtime multiplies uint8 activations by int8
/// weights with an instruction (VPMADDUBSW) that adds each pair of products in 16 bits and saturates at 32,767, which
/// 255 · 127 · 2 exceeds: 8-bit int8 weights then give wrong sums wherever inputs and weights are both large.
/// </summary>
/// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.EightBitUnsigned }</code></example>
public enum StaticWeightFormat
{
    /// <summary>
    /// 8-bit int8 levels with each channel's scale set so that its two largest magnitudes together take at most 128
    /// levels (the largest gets between 64 and 127): every pair of products then fits the fast uint8×int8 kernels'
    /// 16-bit sums (255 · 128 &lt; 32,768), on any CPU, at 7 to 8 bits of precision. Default. ONNX Runtime's own
    /// answer (<c>reduce_range</c>, 7-bit ±63 weights) is never more precise. Measured on ResNet18 (Fashion-MNIST
    /// images, 2-core AVX2 CPU; its channels' second largest weight is typically 0.9 of the largest, so this is
    /// close to 7 bits there): cosine 0.9960 to the FP32 features (7-bit: 0.9939; the figure moves by about ±0.001
    /// with the exact grid, e.g. 0.9941 with 127 instead of 128 levels per pair), 0.57-0.64× the FP32 time at batch 32.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.PairBounded }</code></example>
    PairBounded,
    /// <summary>
    /// 8-bit levels (±127) stored as uint8 around zero point 128 beside uint8 activations: ONNX Runtime runs its
    /// uint8×uint8 kernels, exact on every CPU but slower than uint8×int8 on AVX2 (ResNet18: cosine 0.9967,
    /// 0.92× the FP32 time at batch 32). With <see cref="QuantizationOptions.SymmetricActivations"/> the weights stay int8.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.EightBitUnsigned }</code></example>
    EightBitUnsigned,
    /// <summary>
    /// 8-bit levels (±127) stored as int8: the most precise and fastest where the integer kernels do not saturate
    /// (x64 CPUs with AVX-VNNI or AVX-512 VNNI, ARM). On x64 CPUs without VNNI it loses accuracy (ResNet18: cosine 0.85).
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.EightBit }</code></example>
    EightBit,
}

/// <summary>
/// How <see cref="QuantizationMode.Dynamic"/> stores the weights of its MatMulInteger layers. The activations are
/// uint8 (DynamicQuantizeLinear); ONNX Runtime picks its kernel by the weights' type: uint8×int8 sums pairs of
/// products in 16 bits on x64 CPUs without VNNI (and can saturate), uint8×uint8 cannot but is slower where VNNI
/// runs uint8×int8 in one instruction.
/// </summary>
/// <example><code>new QuantizationOptions { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBit }</code></example>
public enum DynamicWeightFormat
{
    /// <summary>
    /// Chosen from the CPU quantizing (the CPU that will run the model, as a rule): <see cref="EightBit"/> on x64 with
    /// AVX-512 VNNI or AVX-VNNI and on ARM64, <see cref="EightBitUnsigned"/> elsewhere. The report says which.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Dynamic } // DynamicWeightFormat.Auto</code></example>
    Auto,
    /// <summary>±127 levels stored as uint8 around zero point 128 (uint8×uint8 kernels): exact on every CPU.</summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBitUnsigned }</code></example>
    EightBitUnsigned,
    /// <summary>±127 levels stored as int8 (uint8×int8 kernels): fastest with VNNI; on x64 without VNNI it can saturate.</summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBit }</code></example>
    EightBit,
}

/// <summary>Options of the quantization stage (<see cref="CompressionCatalog.Quantize(QuantizationOptions)"/>).</summary>
/// <example>
/// <code>
/// var quantize = ml.Compression().Quantize(new QuantizationOptions { Precision = Precision.Int8, ExcludedNodes = new[] { "fc_out" } });
/// var staticInt8 = ml.Compression().Quantize("mlp.onnx", new QuantizationOptions { Mode = QuantizationMode.Static }).Fit(calibrationData);
/// </code>
/// </example>
public sealed class QuantizationOptions
{
    /// <summary>Target precision of the weights. Default <see cref="Precision.Int8"/>.</summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Float16 }</code></example>
    public Precision Precision { get; set; } = Precision.Int8;

    /// <summary>
    /// INT8 only: one scale per output channel (true, default: accurate where channels differ in range) or one
    /// scale for the whole tensor (false).
    /// </summary>
    /// <example><code>new QuantizationOptions { PerChannel = false }</code></example>
    public bool PerChannel { get; set; } = true;

    /// <summary>Names of ONNX nodes, or of their weight initializers, to leave in float (e.g. a sensitive last layer).</summary>
    /// <example><code>new QuantizationOptions { ExcludedNodes = new[] { "/fc3/Gemm" } }</code></example>
    public IReadOnlyCollection<string> ExcludedNodes { get; set; } = Array.Empty<string>();

    /// <summary>
    /// Weight-only (default), dynamic or static quantization. Dynamic and static need <see cref="Precision.Int8"/>.
    /// Exported ML.NET linear models and tree ensembles are always quantized weight-only (the report says so).
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Dynamic }</code></example>
    public QuantizationMode Mode { get; set; } = QuantizationMode.WeightOnly;

    /// <summary>Static mode: how activation ranges are derived from the calibration data. Default <see cref="CalibrationMethod.Percentile"/>.</summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Entropy }</code></example>
    public CalibrationMethod Calibration { get; set; } = CalibrationMethod.Percentile;

    /// <summary>
    /// <see cref="CalibrationMethod.Percentile"/>: the percentage of recorded values kept inside the range,
    /// in (0, 100]. Default 99.999; 100 is the same as MinMax up to the histogram's resolution.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, Percentile = 99.99 }</code></example>
    public double Percentile { get; set; } = 99.999;

    /// <summary>Static mode: at most this many rows of the fit data are run through the network to record activations (at least 1). Default 256.</summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, MaxCalibrationRows = 1024 }</code></example>
    public int MaxCalibrationRows { get; set; } = 256;

    /// <summary>
    /// Static mode: activations as int8 with a range symmetric around 0 (true) or as uint8 with a zero point
    /// (false, default: uses all 256 levels for non-negative activations such as ReLU outputs).
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, SymmetricActivations = true }</code></example>
    public bool SymmetricActivations { get; set; }

    /// <summary>
    /// Static mode: how the weights of the layers that run in ONNX Runtime's integer kernels are stored; see
    /// <see cref="StaticWeightFormat"/>. Default <see cref="StaticWeightFormat.PairBounded"/>, fast and exact with
    /// ONNX Runtime on every x64 CPU. Weights whose input stays float keep plain ±127 levels.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.EightBit }</code></example>
    public StaticWeightFormat WeightFormat { get; set; } = StaticWeightFormat.PairBounded;

    /// <summary>
    /// Dynamic mode: how the MatMulInteger weights are stored; see <see cref="Compression.DynamicWeightFormat"/>.
    /// Default <see cref="DynamicWeightFormat.Auto"/> (by the CPU's VNNI support).
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBitUnsigned }</code></example>
    public DynamicWeightFormat DynamicWeightFormat { get; set; } = DynamicWeightFormat.Auto;

    /// <summary>
    /// <see cref="Precision.Int4"/>: weights per scale along the input dimension; 32, 64 (default) or 128. Each block
    /// stores a float scale beside its 4-bit weights, so 32 costs 5 bits per weight, 64 costs 4.5 and 128 costs 4.25.
    /// 64 is the default because it was measured both smaller and no less accurate than 32 on every fixture
    /// (ONNX size ÷ FP32 and accuracy, 32 → 64: fashion_mlp 0.163× 87.3 % → 0.152× 87.7 %; fashion_cnn 0.167× 90.5 % →
    /// 0.154× 91.0 %; spam Transformer 0.166× 97.4 % → 0.151× 97.4 %); 128 is smaller still on the Transformer
    /// (0.144×, 97.2 %) but not on fashion_mlp.
    /// </summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int4, BlockSize = 128 }</code></example>
    public int BlockSize { get; set; } = 64;

    /// <summary>
    /// Dynamic and static modes: time the float and the quantized network with ONNX Runtime (one thread, full graph
    /// optimizations) on a batch of up to 64 calibration rows, and keep only a result that is faster. When quantizing
    /// every layer is slower, the network is tried with Conv layers left float, then with MatMul/Gemm layers left
    /// float; when no variant beats float, it is quantized weight-only (smaller, and as fast as FP32 since weight-only INT8 is restored at load). The report's description
    /// gives the timings and the choice. Off by default, because timings are noisy: with it on, the result can differ
    /// from run to run.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, RequireSpeedup = true }</code></example>
    public bool RequireSpeedup { get; set; }

    /// <summary>
    /// Dynamic and static modes: whether to quantize the MatMuls whose two inputs are both activations, such as a
    /// Transformer's attention products Q·Kᵀ and softmax·V (dynamic: both inputs quantized at run time; static:
    /// calibrated QDQ on both, which ONNX Runtime runs as MatMulIntegerToFloat and QLinearMatMul). Null (default):
    /// yes in static mode, no in dynamic mode. Measured on the spam Transformer (1 thread, batch 32, AVX2 without
    /// VNNI, CPU time, alternating runs): static 0.76–0.77× FP32 latency without them, 0.72–0.75× with them, same
    /// accuracy (Q·Kᵀ alone gains little: 0.74–0.77× with it left float); dynamic 0.89× without, 0.84× with, but 0.2
    /// points less accurate and slower at batch 1, because each product pays two more run-time range scans. Softmax stays
    /// float: with QDQ around it ONNX Runtime runs QLinearSoftmax, which made static INT8 0.92× FP32 instead of 0.70×.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Dynamic, QuantizeActivationMatMuls = true }</code></example>
    public bool? QuantizeActivationMatMuls { get; set; }

    /// <summary>
    /// INT8 weights that stay weight-only (all of them in <see cref="QuantizationMode.WeightOnly"/>; Conv and other
    /// weights that dynamic mode cannot run in integers): restore them with a DequantizeLinear on every call (true),
    /// the form that QDQ-aware execution providers look for, or with Cast + Mul (false, default), which ONNX Runtime
    /// folds back into the float weight when it loads the graph, so the network runs as fast as FP32 while the file
    /// keeps 8-bit weights. On CPU, DequantizeLinear weights ran 1.1–2.2× slower than FP32 on this project's fixtures.
    /// In <see cref="QuantizationMode.Static"/> mode, true also keeps every quantized MatMul in the plain QDQ form
    /// (DequantizeLinear → MatMul → bias Add) instead of ONNX Runtime's MatMulIntegerToFloat with the bias inside,
    /// which ran 0.70–0.77× of FP32 on the spam Transformer where the QDQ form ran 0.76–0.82× (batch 32, 1 thread).
    /// </summary>
    /// <example><code>new QuantizationOptions { KeepDequantizeLinear = true }</code></example>
    public bool KeepDequantizeLinear { get; set; }

    /// <summary>
    /// Automatic mixed precision, networks only: after quantizing, the network's outputs on the calibration rows (up to
    /// <see cref="MaxCalibrationRows"/>) are compared with the float network's; while their SQNR (signal to
    /// quantization noise, 10·log10 Σx²/Σ(x−x̂)², see <see cref="TensorError"/>) is below this many dB, the layer that
    /// adds the most error (noise-to-signal power of its output minus that of its input) is left float and the network is quantized again.
    /// Layers are MatMul/Gemm/Conv weights, embedding tables and, with <see cref="QuantizeActivationMatMuls"/>, the
    /// activation×activation MatMuls. The description lists the SQNR after each round and the layers left float.
    /// 0 (default) turns it off. About 6 dB per bit: 30 dB is a 3 % RMS error on the logits.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, MinimumOutputSqnrDb = 30 }</code></example>
    public double MinimumOutputSqnrDb { get; set; }

    /// <summary>
    /// <see cref="Precision.Int4"/>, networks: mixed INT4/INT8 within a size budget. After quantizing every layer to
    /// 4 bits, the noise each MatMul/Gemm weight and embedding table adds (noise-to-signal power of its output minus
    /// that of its input, against the float network on up to <see cref="MaxCalibrationRows"/> rows of the fit data) is
    /// measured, and the layers that add the most noise per extra byte are kept INT8 while the ONNX file stays within this
    /// fraction of the float file; the report lists them (<see cref="StageReport.LayerPrecisions"/>). Default 0.2 (the
    /// issue's INT4 size target; every layer at 4 bits is about 0.14–0.15×): on, because a network is always quantized
    /// with rows of its inputs at hand, and the cost is one more quantization and one pass over those rows (seconds). Measured
    /// on snowflake-arctic-embed-xs: see docs/benchmarks.md. 0 keeps every layer at 4 bits.
    /// </summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int4, Int4MaxSizeRatio = 0 } // every layer 4-bit</code></example>
    public double Int4MaxSizeRatio { get; set; } = 0.2;

    /// <summary>
    /// Static mode: move per-channel outliers of each MatMul input into the weights before recording ranges (SmoothQuant,
    /// α = 0.5: a Mul by 1/s on the activation, weight rows times s; exact in float). ONNX Runtime's integer MatMuls
    /// take one scale per activation tensor, and a Transformer's LayerNorm outputs have a few channels far larger than
    /// the rest. Off by default: on snowflake-arctic-embed-xs (24 MatMul inputs smoothed, largest channel 17× the
    /// median) it lowered static INT8's embedding cosine from 0.9982 to 0.9968 and the top-10 neighbour overlap from
    /// 0.900 to 0.864 (the scaled weight rows lose more than the activations gain at 8 bits with pair-bounded levels).
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, SmoothActivations = true }</code></example>
    public bool SmoothActivations { get; set; }

    /// <summary>Set by mixed precision: weights, tables or nodes that <see cref="Precision.Int4"/> stores INT8 instead.</summary>
    internal IReadOnlyCollection<string> Int8Layers { get; set; } = Array.Empty<string>();

    /// <summary>
    /// How a quantized tree ensemble is stored in the ONNX graph (default <see cref="TreeStorage.Auto"/>: the smaller
    /// saved model). ONNX Runtime's tree operators take float32 leaves only, so quantized leaves stay float32 values
    /// on the grid; <see cref="TreeStorage.Compact"/> stores each distinct value once.
    /// </summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int8, TreeStorage = TreeStorage.Compact }</code></example>
    public TreeStorage TreeStorage { get; set; } = TreeStorage.Auto;

    /// <summary>
    /// Tree ensembles and linear models: stay native ML.NET models (<see cref="ModelForm.Native"/>, default) or become
    /// an ONNX graph (<see cref="ModelForm.Onnx"/>).
    /// </summary>
    /// <example><code>var options = new QuantizationOptions { Precision = Precision.Int8, Form = ModelForm.Onnx };</code></example>
    public ModelForm Form { get; set; } = ModelForm.Native;

    /// <summary>
    /// Dynamic and static modes: a MatMul or Gemm layer with fewer multiply-adds than this per input row (measured on
    /// one row of the fit data) keeps float arithmetic, its weights stored INT8 and restored when ONNX Runtime loads the
    /// graph: quantizing its input at every call costs more than integer arithmetic saves. Default 16,384. Measured on
    /// one AVX2 core: letter_mlp (layers of 1.7k–8k multiply-adds) ran 1.2× (static) and 1.3× (dynamic) slower than
    /// FP32 at batch 1 with every layer quantized; fashion_mlp (235k and 30k) ran 0.66× with every layer quantized and
    /// 0.75× with its 30k layer left float; the spam Transformer's projections (2–4M per e-mail) gain too.
    /// 0 quantizes every layer.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, MinMatMulMultiplyAdds = 0 }</code></example>
    public long MinMatMulMultiplyAdds { get; set; } = 16_384;

    /// <summary>
    /// Like <see cref="MinMatMulMultiplyAdds"/>, for Conv layers in static mode (multiply-adds per input row = output
    /// values × weights per output channel). Default 16,777,216: ONNX Runtime's QLinearConv ran 1.3–1.7× slower than
    /// float Conv on fashion_cnn's 16- and 32-channel convolutions (0.1M and 0.9M multiply-adds per image) and
    /// 0.6× of float on ResNet18's (100M+ each), on AVX2 without VNNI. 0 quantizes every Conv.
    /// </summary>
    /// <example><code>new QuantizationOptions { Mode = QuantizationMode.Static, MinConvMultiplyAdds = 0 }</code></example>
    public long MinConvMultiplyAdds { get; set; } = 16_777_216;

    internal QuantizationOptions Copy() => new()
    {
        MinMatMulMultiplyAdds = MinMatMulMultiplyAdds, MinConvMultiplyAdds = MinConvMultiplyAdds,
        MinimumOutputSqnrDb = MinimumOutputSqnrDb, Int4MaxSizeRatio = Int4MaxSizeRatio, SmoothActivations = SmoothActivations, Int8Layers = Int8Layers.ToArray(),
        RequireSpeedup = RequireSpeedup, QuantizeActivationMatMuls = QuantizeActivationMatMuls, KeepDequantizeLinear = KeepDequantizeLinear,
        Precision = Precision, PerChannel = PerChannel, ExcludedNodes = ExcludedNodes.ToArray(), Mode = Mode,
        Calibration = Calibration, Percentile = Percentile, MaxCalibrationRows = MaxCalibrationRows,
        SymmetricActivations = SymmetricActivations, BlockSize = BlockSize, TreeStorage = TreeStorage, Form = Form, WeightFormat = WeightFormat,
        DynamicWeightFormat = DynamicWeightFormat,
    };

    internal void Validate()
    {
        if (!Enum.IsDefined(Form))
            throw new ArgumentOutOfRangeException(nameof(Form), Form, "Form must be ModelForm.Native or ModelForm.Onnx.");
        if (!Enum.IsDefined(DynamicWeightFormat))
            throw new ArgumentOutOfRangeException(nameof(DynamicWeightFormat), DynamicWeightFormat, "DynamicWeightFormat must be Auto, EightBitUnsigned or EightBit.");
        if (!Enum.IsDefined(Precision))
            throw new ArgumentOutOfRangeException(nameof(Precision), Precision, "Precision must be Int8, Float16 or Int4.");
        if (ExcludedNodes == null)
            throw new ArgumentNullException(nameof(ExcludedNodes), "ExcludedNodes may be empty but not null.");
        if (!Enum.IsDefined(Mode))
            throw new ArgumentOutOfRangeException(nameof(Mode), Mode, "Mode must be WeightOnly, Dynamic or Static.");
        if (!Enum.IsDefined(WeightFormat))
            throw new ArgumentOutOfRangeException(nameof(WeightFormat), WeightFormat, "WeightFormat must be PairBounded, EightBitUnsigned or EightBit.");
        if (!Enum.IsDefined(Calibration))
            throw new ArgumentOutOfRangeException(nameof(Calibration), Calibration, "Calibration must be MinMax, Percentile or Entropy.");
        if (!(Percentile > 0 && Percentile <= 100))
            throw new ArgumentOutOfRangeException(nameof(Percentile), Percentile, "Percentile must be in (0, 100], for example 99.999.");
        if (MaxCalibrationRows < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxCalibrationRows), MaxCalibrationRows, "MaxCalibrationRows must be at least 1.");
        if (BlockSize is not (32 or 64 or 128))
            throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "BlockSize must be 32, 64 or 128.");
        if (MinMatMulMultiplyAdds < 0 || MinConvMultiplyAdds < 0)
            throw new ArgumentOutOfRangeException(MinMatMulMultiplyAdds < 0 ? nameof(MinMatMulMultiplyAdds) : nameof(MinConvMultiplyAdds), "The multiply-add thresholds must be 0 (quantize every layer) or more.");
        if (!(MinimumOutputSqnrDb >= 0 && MinimumOutputSqnrDb <= TensorError.MaxSqnrDb))
            throw new ArgumentOutOfRangeException(nameof(MinimumOutputSqnrDb), MinimumOutputSqnrDb, $"MinimumOutputSqnrDb must be in [0, {TensorError.MaxSqnrDb}] dB (0 = off), for example 30.");
        if (!(Int4MaxSizeRatio >= 0 && Int4MaxSizeRatio <= 1))
            throw new ArgumentOutOfRangeException(nameof(Int4MaxSizeRatio), Int4MaxSizeRatio, "Int4MaxSizeRatio must be in [0, 1] (0 = every layer 4-bit), for example 0.2.");
        if (!Enum.IsDefined(TreeStorage))
            throw new ArgumentOutOfRangeException(nameof(TreeStorage), TreeStorage, "TreeStorage must be Auto, Compact or Classic.");
        if (Mode != QuantizationMode.WeightOnly && Precision != Precision.Int8)
            throw new ArgumentOutOfRangeException(nameof(Mode), Mode, $"{Mode} quantization is INT8 only; use Precision = Int8, or Mode = WeightOnly for {Precision}.");
    }
}
