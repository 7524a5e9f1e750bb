using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Compression.Quantization;

/// <summary>
/// What this CPU's integer kernels do with 8-bit products, read from CPUID (System.Runtime.Intrinsics has no
/// AVX-512 VNNI flag): with VNNI (AVX-512 VNNI or AVX-VNNI) ONNX Runtime's uint8×int8 kernels sum four products
/// in 32 bits in one instruction; without it they sum pairs in 16 bits (vpmaddubsw) and can saturate. ARM64's
/// kernels (SDOT/UDOT or widening multiplies) do not saturate either.
/// </summary>
internal static class CpuInt8
{
    /// <summary>Whether uint8×int8 products are summed without 16-bit saturation on this CPU.</summary>
    public static bool ExactSignedProducts { get; } = Detect(out _);

    /// <summary>What was found, for the report ("AVX-512 VNNI", "AVX-VNNI", "ARM64", "x64 AVX2 without VNNI").</summary>
    public static string Feature { get; } = Found();

    private static string Found()
    {
        Detect(out var name);
        return name;
    }

    private static bool Detect(out string name)
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64) { name = "ARM64"; return true; }
        if (X86Base.IsSupported)
        {
            var (_, _, ecx, _) = X86Base.CpuId(7, 0);
            if ((ecx & (1 << 11)) != 0 && Avx512F.IsSupported) { name = "AVX-512 VNNI"; return true; }
            var (eax1, _, _, _) = X86Base.CpuId(7, 1); // AvxVnni.IsSupported is a preview API on .NET 8
            if ((eax1 & (1 << 4)) != 0 && Avx2.IsSupported) { name = "AVX-VNNI"; return true; }
            name = Avx2.IsSupported ? "x64 AVX2 without VNNI" : "x64 without AVX2";
            return false;
        }
        name = RuntimeInformation.ProcessArchitecture.ToString();
        return false;
    }
}
