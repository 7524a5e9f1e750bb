using Microsoft.ML.Compression.Onnx;
using Onnx;

namespace Microsoft.ML.Compression.Pruning;

/// <summary>
/// A Conv layer seen as a matrix layer (im2col): each output pixel is the dot product of the weight row
/// [C·kh·kw] of its channel with the input patch under the kernel, so the layer's "input rows" for least-squares
/// reconstruction and SparseGPT are those patches. Only plain convolutions (group 1, explicit pads) qualify.
/// </summary>
internal sealed class ConvPatches
{
    private readonly int _kh, _kw, _sh, _sw, _dh, _dw, _pt, _pl, _pb, _pr;

    private ConvPatches(int kh, int kw, int[] strides, int[] dilations, int[] pads)
    {
        (_kh, _kw) = (kh, kw);
        (_sh, _sw) = (strides[0], strides[1]);
        (_dh, _dw) = (dilations[0], dilations[1]);
        (_pt, _pl, _pb, _pr) = (pads[0], pads[1], pads[2], pads[3]);
    }

    /// <summary>Patches per layer kept for the Gram matrix: enough for a few hundred inputs, bounded memory.</summary>
    public const int MaxPatches = 16384;

    /// <summary>The patch geometry of a 2-D Conv node, or null when it is grouped, 1-D/3-D or uses auto_pad.</summary>
    public static ConvPatches? Of(NodeProto conv, TensorProto weight)
    {
        if (conv.OpType != "Conv" || weight.Dims.Count != 4) return null;
        if ((OnnxGraphEditor.Attribute(conv, "group")?.I ?? 1) != 1) return null;
        var autoPad = OnnxGraphEditor.Attribute(conv, "auto_pad")?.S.ToStringUtf8();
        if (!string.IsNullOrEmpty(autoPad) && autoPad != "NOTSET") return null;
        int[] Ints(string name, int count, int fallback)
        {
            var a = OnnxGraphEditor.Attribute(conv, name);
            return a == null || a.Ints.Count == 0 ? Enumerable.Repeat(fallback, count).ToArray() : a.Ints.Select(x => (int)x).ToArray();
        }
        var pads = Ints("pads", 4, 0);
        var strides = Ints("strides", 2, 1);
        var dilations = Ints("dilations", 2, 1);
        if (pads.Length != 4 || strides.Length != 2 || dilations.Length != 2) return null;
        return new ConvPatches((int)weight.Dims[2], (int)weight.Dims[3], strides, dilations, pads);
    }

    /// <summary>
    /// Patch rows [C·kh·kw] (channel-major, as the weight is laid out) from input images [C, H, W], at most
    /// <see cref="MaxPatches"/> of them at output positions spread evenly over images and pixels.
    /// </summary>
    public float[][] Extract(float[][] images, long[] imageShape)
    {
        if (images.Length == 0 || imageShape.Length != 3) return Array.Empty<float[]>();
        int channels = (int)imageShape[0], h = (int)imageShape[1], w = (int)imageShape[2];
        int outH = (h + _pt + _pb - _dh * (_kh - 1) - 1) / _sh + 1, outW = (w + _pl + _pr - _dw * (_kw - 1) - 1) / _sw + 1;
        if (outH <= 0 || outW <= 0 || images[0].Length != channels * h * w) return Array.Empty<float[]>();
        long total = (long)images.Length * outH * outW;
        long step = Math.Max(1, (total + MaxPatches - 1) / MaxPatches);
        var patches = new List<float[]>();
        for (long p = 0; p < total; p += step)
        {
            int image = (int)(p / (outH * outW)), position = (int)(p % (outH * outW));
            int y = position / outW, x = position % outW;
            var patch = new float[channels * _kh * _kw];
            var src = images[image];
            for (int c = 0, k = 0; c < channels; c++)
                for (int i = 0; i < _kh; i++)
                {
                    int inY = y * _sh - _pt + i * _dh;
                    for (int j = 0; j < _kw; j++, k++)
                    {
                        int inX = x * _sw - _pl + j * _dw;
                        if (inY >= 0 && inY < h && inX >= 0 && inX < w) patch[k] = src[(c * h + inY) * w + inX];
                    }
                }
            patches.Add(patch);
        }
        return patches.ToArray();
    }
}
