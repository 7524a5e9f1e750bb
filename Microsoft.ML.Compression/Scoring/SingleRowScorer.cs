using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Compression.Scoring;

/// <summary>
/// Scores one row at a time on the session of a <see cref="BatchScorer"/>, for a PredictionEngine. Why: ML.NET's
/// OnnxTransformer builds named values, tensors and result collections on every call, which on small models (tree
/// ensembles, linear models, MLPs) costs as much as ONNX Runtime itself. Here the input tensors are made once over
/// arrays the caller fills, and after the first call the outputs are written by ONNX Runtime straight into
/// preallocated arrays, so a row costs one <c>Run</c> and a few small name/handle arrays inside ONNX Runtime's
/// C# API. Not thread-safe: one per output row (each PredictionEngine has its own); the session is shared.
/// </summary>
internal sealed class SingleRowScorer : IDisposable
{
    private readonly BatchScorer _owner;
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _inputValues;
    private OrtValue[]? _outputValues;
    // After ONNX Runtime rejects preallocated outputs once (an output whose shape depends on the data), every call
    // lets it allocate them; a row then costs a copy more.
    private bool _preallocated = true;
    private readonly RunOptions _runOptions = new();
    private bool _disposed;

    /// <param name="owner">The scorer whose session this runs on: its disposal ends this scorer too.</param>
    /// <param name="session">The owner's session (thread-safe; shared by every single-row scorer of the model).</param>
    /// <param name="inputNames">The graph inputs.</param>
    /// <param name="inputs">One row's buffer per graph input, typed as the graph expects, in <paramref name="inputNames"/> order.</param>
    /// <param name="inputShapes">The tensor shape of each input for one row (batch dimension 1).</param>
    /// <param name="outputNames">The graph outputs to fetch.</param>
    /// <param name="outputs">One row's buffer per output, typed as the output columns, in <paramref name="outputNames"/> order.</param>
    internal SingleRowScorer(BatchScorer owner, InferenceSession session, string[] inputNames, Array[] inputs, long[][] inputShapes,
        string[] outputNames, Array[] outputs)
    {
        _owner = owner;
        _session = session;
        _inputNames = inputNames;
        _outputNames = outputNames;
        Inputs = inputs;
        Outputs = outputs;
        _inputValues = new OrtValue[inputs.Length];
        try
        {
            for (int i = 0; i < inputs.Length; i++) _inputValues[i] = OrtTensors.Over(inputs[i], inputShapes[i]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The input buffers to fill before <see cref="Run"/>: one row of each graph input, flat.</summary>
    public Array[] Inputs { get; }

    /// <summary>The outputs of the last <see cref="Run"/>: one row of each output, flat.</summary>
    public Array[] Outputs { get; }

    /// <summary>Scores the row in <see cref="Inputs"/> into <see cref="Outputs"/>.</summary>
    /// <exception cref="ObjectDisposedException">The model (and with it the session) was disposed.</exception>
    public void Run()
    {
        _owner.ThrowIfDisposed();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_outputValues != null)
        {
            try
            {
                _session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
                _owner.CountSingleRow();
                return;
            }
            catch (OnnxRuntimeException)
            {
                DisposeOutputValues();
                _preallocated = false;
            }
        }
        using (var results = _session.Run(_runOptions, _inputNames, _inputValues, _outputNames))
        {
            int k = 0;
            foreach (var result in results)
            {
                int count = OrtTensors.CopyTo(result, Outputs[k]);
                if (count != Outputs[k].Length)
                    throw new InvalidOperationException($"ONNX output '{_outputNames[k]}' has {count} values for one row where its column has {Outputs[k].Length}.");
                k++;
            }
            // From the second row on, ONNX Runtime writes into the output arrays: the shapes are those of this row.
            if (_preallocated) _outputValues = results.Select((r, j) => OrtTensors.Over(Outputs[j], r.GetTensorTypeAndShape().Shape)).ToArray();
        }
        _owner.CountSingleRow();
    }

    private void DisposeOutputValues()
    {
        if (_outputValues == null) return;
        foreach (var v in _outputValues) v.Dispose();
        _outputValues = null;
    }

    /// <summary>Releases the tensors of this row (not the shared session).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var v in _inputValues) v?.Dispose();
        DisposeOutputValues();
        _runOptions.Dispose();
    }
}
