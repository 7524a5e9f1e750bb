namespace Microsoft.ML.Compression;

/// <summary>The tree-ensemble settings of <see cref="QuantizationOptions"/> (<see cref="QuantizationOptions.Trees"/>).</summary>
/// <example><code>new QuantizationOptions { Precision = Precision.Int8, Form = ModelForm.Onnx, Trees = { Storage = TreeStorage.Compact } }</code></example>
public sealed class TreeQuantizationOptions
{
    /// <summary>
    /// How a quantized tree ensemble is stored in the ONNX graph (<see cref="ModelForm.Onnx"/>; default
    /// <see cref="TreeStorage.Auto"/>: the smaller saved model). ONNX Runtime's tree operators take float32 leaves only,
    /// so quantized leaves stay float32 values on the grid; <see cref="TreeStorage.Compact"/> stores each distinct value once.
    /// </summary>
    /// <example><code>new QuantizationOptions { Precision = Precision.Int8, Form = ModelForm.Onnx, Trees = { Storage = TreeStorage.Compact } }</code></example>
    public TreeStorage Storage { get; set; } = TreeStorage.Auto;

    internal TreeQuantizationOptions Copy() => (TreeQuantizationOptions)MemberwiseClone();

    internal void Validate()
    {
        if (!Enum.IsDefined(Storage))
            throw new ArgumentOutOfRangeException(nameof(Storage), Storage, "Trees.Storage must be Auto, Compact or Classic.");
    }
}
