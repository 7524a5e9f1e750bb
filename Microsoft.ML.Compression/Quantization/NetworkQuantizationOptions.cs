namespace Microsoft.ML.Compression;

/// <summary>
/// The ONNX-network settings of <see cref="QuantizationOptions"/> (<see cref="QuantizationOptions.Network"/>). Exported
/// ML.NET linear models and tree ensembles are always quantized weight-only and ignore them. Measured effects of each
/// setting are in the repository's docs/stages.md (Quantize) and docs/benchmarks.md.
/// </summary>
/// <example><code>new QuantizationOptions { Precision = Precision.Int8, Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 512 } }</code></example>
public sealed class NetworkQuantizationOptions
{
    /// <summary>
    /// Weight-only (default), dynamic or static quantization. Dynamic and static need <see cref="Precision.Int8"/>.
    /// Exported ML.NET linear models and tree ensembles are always quantized weight-only (the report says so).
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic } }</code></example>
    public QuantizationMode Mode { get; set; } = QuantizationMode.WeightOnly;

    /// <summary>Static mode: how activation ranges are derived from the calibration data. Default <see cref="CalibrationMethod.Percentile"/>.</summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Calibration = CalibrationMethod.Entropy } }</code></example>
    public CalibrationMethod Calibration { get; set; } = CalibrationMethod.Percentile;

    /// <summary>
    /// <see cref="CalibrationMethod.Percentile"/>: the percentage of recorded values kept inside the range,
    /// in (0, 100]. Default 99.999; 100 is the same as MinMax up to the histogram's resolution.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, Percentile = 99.99 } }</code></example>
    public double Percentile { get; set; } = 99.999;

    /// <summary>
    /// At most this many rows of the fit data are run through the network (at least 1; default 256): to record
    /// activations in static mode, to measure the output error (and <see cref="MinimumOutputSqnrDb"/>), and (up to 64)
    /// to time <see cref="RequireSpeedup"/>.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MaxCalibrationRows = 1024 } }</code></example>
    public int MaxCalibrationRows { get; set; } = 256;

    /// <summary>
    /// Static mode: activations as int8 with a range symmetric around 0 (true) or as uint8 with a zero point
    /// (false, default: uses all 256 levels for non-negative activations such as ReLU outputs).
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, SymmetricActivations = true } }</code></example>
    public bool SymmetricActivations { get; set; }

    /// <summary>
    /// Static mode: how the weights of the layers that run in ONNX Runtime's integer kernels are stored; see
    /// <see cref="StaticWeightFormat"/>. Default <see cref="StaticWeightFormat.PairBounded"/>, fast and exact with
    /// ONNX Runtime on every x64 CPU. Weights whose input stays float keep plain ±127 levels.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, WeightFormat = StaticWeightFormat.EightBit } }</code></example>
    public StaticWeightFormat WeightFormat { get; set; } = StaticWeightFormat.PairBounded;

    /// <summary>
    /// Dynamic mode: how the MatMulInteger weights are stored; see <see cref="Compression.DynamicWeightFormat"/>.
    /// Default <see cref="DynamicWeightFormat.Auto"/> (by the CPU's VNNI support).
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, DynamicWeightFormat = DynamicWeightFormat.EightBitUnsigned } }</code></example>
    public DynamicWeightFormat DynamicWeightFormat { get; set; } = DynamicWeightFormat.Auto;

    /// <summary>
    /// <see cref="Precision.Int4"/>: weights per scale along the input dimension; 32, 64 (default) or 128. Each block
    /// stores a float scale beside its 4-bit weights, so 32 costs 5 bits per weight, 64 costs 4.5 and 128 costs 4.25.
    /// 64 is the default because it was both smaller and no less accurate than 32 on every fixture measured
    /// (docs/stages.md, INT4).
    /// </summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int4, Network = { BlockSize = 128 } }</code></example>
    public int BlockSize { get; set; } = 64;

    /// <summary>
    /// Dynamic and static modes: whether to quantize the MatMuls whose two inputs are both activations, such as a
    /// Transformer's attention products Q·Kᵀ and softmax·V (dynamic: both inputs quantized at run time; static:
    /// calibrated QDQ on both, which ONNX Runtime runs as MatMulIntegerToFloat and QLinearMatMul). Null (default):
    /// yes in static mode, where it was faster at the same accuracy, and no in dynamic mode, where each product pays
    /// two more run-time range scans (docs/stages.md, attention products). Softmax stays float: with QDQ around it
    /// ONNX Runtime runs the slower QLinearSoftmax.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Dynamic, QuantizeActivationMatMuls = true } }</code></example>
    public bool? QuantizeActivationMatMuls { get; set; }

    /// <summary>
    /// INT8 weights that stay weight-only (all of them in <see cref="QuantizationMode.WeightOnly"/>; Conv and other
    /// weights that dynamic mode cannot run in integers): restore them with a DequantizeLinear on every call (true),
    /// the form that QDQ-aware execution providers look for, or with Cast + Mul (false, default), which ONNX Runtime
    /// folds back into the float weight when it loads the graph, so the network runs as fast as FP32 while the file
    /// keeps 8-bit weights (DequantizeLinear weights ran slower than FP32 on CPU: docs/stages.md).
    /// In <see cref="QuantizationMode.Static"/> mode, true also keeps every quantized MatMul in the plain QDQ form
    /// (DequantizeLinear → MatMul → bias Add) instead of ONNX Runtime's MatMulIntegerToFloat with the bias inside,
    /// which ran faster.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { KeepDequantizeLinear = true } }</code></example>
    public bool KeepDequantizeLinear { get; set; }

    /// <summary>
    /// Dynamic and static modes: a MatMul or Gemm layer with fewer multiply-adds than this per input row (measured on
    /// one row of the fit data) keeps float arithmetic, its weights stored INT8 and restored when ONNX Runtime loads the
    /// graph: quantizing its input at every call costs more than integer arithmetic saves (measured thresholds:
    /// docs/stages.md, small layers). Default 16,384; 0 quantizes every layer.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MinMatMulMultiplyAdds = 0 } }</code></example>
    public long MinMatMulMultiplyAdds { get; set; } = 16_384;

    /// <summary>
    /// Like <see cref="MinMatMulMultiplyAdds"/>, for Conv layers in static mode (multiply-adds per input row = output
    /// values × weights per output channel). Default 16,777,216: ONNX Runtime's QLinearConv was slower than float Conv
    /// on small convolutions and faster on large ones (docs/stages.md). 0 quantizes every Conv.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MinConvMultiplyAdds = 0 } }</code></example>
    public long MinConvMultiplyAdds { get; set; } = 16_777_216;

    /// <summary>
    /// Dynamic and static modes: time the float and the quantized network with ONNX Runtime (one thread, full graph
    /// optimizations) on a batch of up to 64 calibration rows, and keep only a result that is faster. When quantizing
    /// every layer is slower, the network is tried with Conv layers left float, then with MatMul/Gemm layers left
    /// float; when no variant beats float, it is quantized weight-only (smaller, and as fast as FP32 since weight-only
    /// INT8 is restored at load). The report's description gives the timings and the choice. Off by default, because
    /// timings are noisy: with it on, the result can differ from run to run.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, RequireSpeedup = true } }</code></example>
    public bool RequireSpeedup { get; set; }

    /// <summary>
    /// Automatic mixed precision: after quantizing, the network's outputs on the calibration rows (up to
    /// <see cref="MaxCalibrationRows"/>) are compared with the float network's; while their SQNR (signal to
    /// quantization noise, 10·log10 Σx²/Σ(x−x̂)², see <see cref="TensorError"/>) is below this many dB, the layer that
    /// adds the most error (noise-to-signal power of its output minus that of its input) is left float and the network
    /// is quantized again. Layers are MatMul/Gemm/Conv weights, embedding tables and, with
    /// <see cref="QuantizeActivationMatMuls"/>, the activation×activation MatMuls. The description lists the SQNR after
    /// each round and the layers left float. 0 (default) turns it off. About 6 dB per bit: 30 dB is a 3 % RMS error
    /// on the logits.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, MinimumOutputSqnrDb = 30 } }</code></example>
    public double MinimumOutputSqnrDb { get; set; }

    /// <summary>
    /// <see cref="Precision.Int4"/>, networks: mixed INT4/INT8 within a size budget. After quantizing every layer to
    /// 4 bits, the noise each MatMul/Gemm weight and embedding table adds at 4 bits (measured with the float network's
    /// own inputs on up to <see cref="MaxCalibrationRows"/> rows of the fit data) is compared, and the layers that add
    /// the most noise per extra byte are kept INT8 while the ONNX file stays within this fraction of the float file;
    /// the report lists them (<see cref="StageReport.LayerPrecisions"/>). Default 0.2: on, because a network is always
    /// quantized with rows of its inputs at hand, and the cost is one more quantization and one pass over those rows.
    /// Measured effects: docs/benchmarks.md. 0 keeps every layer at 4 bits.
    /// </summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int4, Network = { Int4MaxSizeRatio = 0 } } // every layer 4-bit</code></example>
    public double Int4MaxSizeRatio { get; set; } = 0.2;

    /// <summary>
    /// Static mode: move per-channel outliers of each MatMul input into the weights before recording ranges
    /// (SmoothQuant, α = 0.5: a Mul by 1/s on the activation, weight rows times s; exact in float). Off by default: on
    /// the pretrained encoder of the benchmarks it lowered static INT8's accuracy (docs/benchmarks.md).
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, SmoothActivations = true } }</code></example>
    public bool SmoothActivations { get; set; }

    /// <summary>
    /// Static mode: split each MatMul input channel whose values reach far beyond the others (more than 1.5× the
    /// 90th-percentile channel) into copies that each carry a share of it, with the weight row repeated (outlier
    /// channel splitting; exact in float, the weights keep their values). The activation's one quantization scale then
    /// gives the other channels more levels, at the cost of a Gather and a Mul on the activation and at most 5 % more
    /// MatMul inputs. Default on: a Transformer's LayerNorm outputs have such channels, and a graph without them is
    /// left as it is. Measured effects: docs/benchmarks.md.
    /// </summary>
    /// <example><code>new QuantizationOptions { Network = { Mode = QuantizationMode.Static, SplitOutlierChannels = false } }</code></example>
    public bool SplitOutlierChannels { get; set; } = true;

    /// <summary>Set by mixed precision: weights, tables or nodes that <see cref="Precision.Int4"/> stores INT8 instead.</summary>
    internal IReadOnlyCollection<string> Int8Layers { get; set; } = Array.Empty<string>();

    internal NetworkQuantizationOptions Copy()
    {
        var copy = (NetworkQuantizationOptions)MemberwiseClone();
        copy.Int8Layers = Int8Layers.ToArray();
        return copy;
    }

    internal void Validate()
    {
        if (!Enum.IsDefined(Mode))
            throw new ArgumentOutOfRangeException(nameof(Mode), Mode, "Network.Mode must be WeightOnly, Dynamic or Static.");
        if (!Enum.IsDefined(DynamicWeightFormat))
            throw new ArgumentOutOfRangeException(nameof(DynamicWeightFormat), DynamicWeightFormat, "Network.DynamicWeightFormat must be Auto, EightBitUnsigned, EightBit or PairBounded.");
        if (!Enum.IsDefined(WeightFormat))
            throw new ArgumentOutOfRangeException(nameof(WeightFormat), WeightFormat, "Network.WeightFormat must be PairBounded, EightBitUnsigned or EightBit.");
        if (!Enum.IsDefined(Calibration))
            throw new ArgumentOutOfRangeException(nameof(Calibration), Calibration, "Network.Calibration must be MinMax, Percentile or Entropy.");
        if (!(Percentile > 0 && Percentile <= 100))
            throw new ArgumentOutOfRangeException(nameof(Percentile), Percentile, "Network.Percentile must be in (0, 100], for example 99.999.");
        if (MaxCalibrationRows < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxCalibrationRows), MaxCalibrationRows, "Network.MaxCalibrationRows must be at least 1.");
        if (BlockSize is not (32 or 64 or 128))
            throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "Network.BlockSize must be 32, 64 or 128.");
        if (MinMatMulMultiplyAdds < 0 || MinConvMultiplyAdds < 0)
            throw new ArgumentOutOfRangeException(MinMatMulMultiplyAdds < 0 ? nameof(MinMatMulMultiplyAdds) : nameof(MinConvMultiplyAdds), "The multiply-add thresholds must be 0 (quantize every layer) or more.");
        if (!(Int4MaxSizeRatio >= 0 && Int4MaxSizeRatio <= 1))
            throw new ArgumentOutOfRangeException(nameof(Int4MaxSizeRatio), Int4MaxSizeRatio, "Network.Int4MaxSizeRatio must be in [0, 1] (0 = every layer 4-bit), for example 0.2.");
        if (!(MinimumOutputSqnrDb >= 0 && MinimumOutputSqnrDb <= TensorError.MaxSqnrDb))
            throw new ArgumentOutOfRangeException(nameof(MinimumOutputSqnrDb), MinimumOutputSqnrDb, $"Network.MinimumOutputSqnrDb must be in [0, {TensorError.MaxSqnrDb}] dB (0 = off), for example 30.");
    }
}
