using Microsoft.ML.Data;

namespace Microsoft.ML.Compression.Distillation;

/// <summary>
/// MUNGE augmentation (Bucilua, Caruana &amp; Niculescu-Mizil, "Model compression", KDD 2006) as a streaming view:
/// every source row is followed by <c>factor</c> synthetic rows made from it and its nearest neighbour. In a
/// synthetic row each augmented column takes, with probability p, a value from the neighbour: numeric values are
/// drawn from N(b, |a − b| / s) (a the row's value, b the neighbour's), any other value is taken as it is.
/// </summary>
/// <remarks>
/// Materialized: a reservoir sample of at most <c>sampleSize</c> rows (only the augmented columns), the
/// per-slot mean and standard deviation of the numeric values, and one neighbour index per source row. The view
/// reads the source twice when built (sample, then neighbours) and streams it on every cursor. The random draws
/// depend only on the seed, the row and the copy, so every pass yields the same rows.
/// Augmented columns: Single and Double scalars and known-size Single vectors (per slot, perturbed), any other
/// scalar (text, Boolean, keys, integers: swapped). Other vectors, hidden columns and the excluded columns (label,
/// weight) are passed through from the source row unchanged.
/// </remarks>
internal sealed class MungeDataView : IDataView
{
    private readonly IDataView _source;
    private readonly int _factor;
    private readonly double _p, _s;
    private readonly int _seed;
    private readonly NumericColumn[] _numeric;
    private readonly int[] _swap;              // source column indices swapped whole
    private readonly int _slots;               // numeric slots in all
    private readonly double[] _mean, _sd;
    private readonly double[][] _sampleNumeric;
    private readonly object?[][] _sampleSwap;
    private readonly int[] _neighbour;         // source row → sample row

    private sealed record NumericColumn(int Index, int Offset, int Size, bool IsVector, bool IsDouble);

    public MungeDataView(IDataView source, int factor, double swapProbability, double localVariance, int seed, int sampleSize, ISet<string> excluded)
    {
        _source = source;
        _factor = factor;
        _p = swapProbability;
        _s = localVariance;
        _seed = seed;
        var numeric = new List<NumericColumn>();
        var swap = new List<int>();
        int offset = 0;
        foreach (var col in source.Schema)
        {
            if (col.IsHidden || excluded.Contains(col.Name)) continue;
            var t = col.Type;
            if (t == NumberDataViewType.Single || t == NumberDataViewType.Double)
            {
                numeric.Add(new NumericColumn(col.Index, offset, 1, false, t == NumberDataViewType.Double));
                offset++;
            }
            else if (t is VectorDataViewType { IsKnownSize: true } v && v.ItemType == NumberDataViewType.Single)
            {
                numeric.Add(new NumericColumn(col.Index, offset, v.Size, true, false));
                offset += v.Size;
            }
            else if (t is not VectorDataViewType) swap.Add(col.Index);
        }
        _numeric = numeric.ToArray();
        _swap = swap.ToArray();
        _slots = offset;

        // Pass 1: reservoir sample.
        var sampleNumeric = new List<double[]>();
        var sampleSwap = new List<object?[]>();
        var rand = new Random(seed);
        long rows = 0;
        using (var cursor = source.GetRowCursor(Columns()))
        {
            var reader = new RowReader(this, cursor);
            while (cursor.MoveNext())
            {
                if (sampleNumeric.Count < sampleSize)
                {
                    sampleNumeric.Add(reader.ReadNumeric());
                    sampleSwap.Add(reader.ReadSwap());
                }
                else
                {
                    long j = rand.NextInt64(rows + 1);
                    if (j < sampleSize) { sampleNumeric[(int)j] = reader.ReadNumeric(); sampleSwap[(int)j] = reader.ReadSwap(); }
                }
                rows++;
            }
        }
        if (rows > int.MaxValue / (factor + 1))
            throw new DataMismatchException($"Augmentation supports at most {int.MaxValue / (factor + 1)} rows with Augmentation.Factor {factor}; the data has {rows}.");
        _sampleNumeric = sampleNumeric.ToArray();
        _sampleSwap = sampleSwap.ToArray();

        // Standardization from the sample (NaN ignored; a constant slot gets sd 1).
        _mean = new double[_slots];
        _sd = new double[_slots];
        for (int j = 0; j < _slots; j++)
        {
            var values = _sampleNumeric.Select(r => r[j]).Where(x => !double.IsNaN(x)).ToArray();
            _mean[j] = values.Length > 0 ? values.Average() : 0;
            double var = values.Length > 1 ? values.Sum(x => (x - _mean[j]) * (x - _mean[j])) / (values.Length - 1) : 0;
            _sd[j] = var > 1e-24 ? Math.Sqrt(var) : 1;
        }
        var standardized = _sampleNumeric.Select(Standardize).ToArray();

        // Pass 2: the nearest sample row of every source row (itself and exact copies excluded).
        _neighbour = new int[rows];
        using (var cursor = source.GetRowCursor(Columns()))
        {
            var reader = new RowReader(this, cursor);
            int r = 0;
            while (cursor.MoveNext() && r < rows)
            {
                var x = Standardize(reader.ReadNumeric());
                int best = -1;
                double bestDistance = double.PositiveInfinity;
                for (int i = 0; i < standardized.Length; i++)
                {
                    double d = Distance(x, standardized[i], bestDistance);
                    if (d > 0 && d < bestDistance) { bestDistance = d; best = i; }
                }
                // No numeric columns or only copies of the row: a sample row picked at random (deterministically).
                _neighbour[r] = best >= 0 ? best : (int)(Mix(seed, r, 0) % (ulong)standardized.Length);
                r++;
            }
        }
    }

    public string Describe()
        => $"{_neighbour.Length * (long)_factor} MUNGE synthetic rows: {_factor} per row, swap probability {_p:G3}, s {_s:G3}, " +
           $"neighbours among {_sampleNumeric.Length} sampled rows on {_slots} numeric values, {_swap.Length} swapped columns";

    /// <summary>SplitMix64 of (seed, row, copy): the same in every process (unlike HashCode), so runs are reproducible.</summary>
    private static ulong Mix(int seed, long row, int copy)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)row * 0xBF58476D1CE4E5B9UL ^ (ulong)copy * 0x94D049BB133111EBUL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    private double[] Standardize(double[] raw)
    {
        var z = new double[raw.Length];
        for (int j = 0; j < raw.Length; j++) z[j] = double.IsNaN(raw[j]) ? double.NaN : (raw[j] - _mean[j]) / _sd[j];
        return z;
    }

    private static double Distance(double[] a, double[] b, double stopAbove)
    {
        double d = 0;
        for (int j = 0; j < a.Length; j++)
        {
            double x = a[j], y = b[j];
            if (double.IsNaN(x) || double.IsNaN(y)) { if (double.IsNaN(x) != double.IsNaN(y)) d += 1; continue; }
            d += (x - y) * (x - y);
            if (d >= stopAbove) return d;
        }
        return d;
    }

    private IEnumerable<DataViewSchema.Column> Columns()
        => _numeric.Select(c => _source.Schema[c.Index]).Concat(_swap.Select(i => _source.Schema[i]));

    public bool CanShuffle => false;
    public DataViewSchema Schema => _source.Schema;
    public long? GetRowCount() => _neighbour.Length * (long)(_factor + 1);

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    /// <summary>Reads the augmented columns of the current row.</summary>
    private sealed class RowReader
    {
        private readonly MungeDataView _view;
        private readonly Action<double[]>[] _numeric;
        private readonly Func<object?>[] _swap;

        public RowReader(MungeDataView view, DataViewRow row)
        {
            _view = view;
            _numeric = view._numeric.Select(c => NumericReader(row, c)).ToArray();
            _swap = view._swap.Select(i => BoxedReader(row, row.Schema[i])).ToArray();
        }

        public double[] ReadNumeric()
        {
            var values = new double[_view._slots];
            foreach (var r in _numeric) r(values);
            return values;
        }

        public object?[] ReadSwap() => _swap.Select(r => r()).ToArray();

        private static Action<double[]> NumericReader(DataViewRow row, NumericColumn c)
        {
            var col = row.Schema[c.Index];
            if (c.IsVector)
            {
                var g = row.GetGetter<VBuffer<float>>(col);
                VBuffer<float> v = default;
                return values =>
                {
                    g(ref v);
                    int j = c.Offset;
                    foreach (var x in v.DenseValues()) values[j++] = x;
                };
            }
            if (c.IsDouble)
            {
                var g = row.GetGetter<double>(col);
                double v = 0;
                return values => { g(ref v); values[c.Offset] = v; };
            }
            var gf = row.GetGetter<float>(col);
            float f = 0;
            return values => { gf(ref f); values[c.Offset] = f; };
        }

        private static Func<object?> BoxedReader(DataViewRow row, DataViewSchema.Column col)
        {
            var method = typeof(RowReader).GetMethod(nameof(Boxed), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(col.Type.RawType);
            return (Func<object?>)method.Invoke(null, new object[] { row, col })!;
        }

        private static Func<object?> Boxed<T>(DataViewRow row, DataViewSchema.Column col)
        {
            var g = row.GetGetter<T>(col);
            T v = default!;
            return () =>
            {
                g(ref v);
                // Text may point into a buffer the cursor reuses: keep a copy.
                return v is ReadOnlyMemory<char> m ? m.ToString().AsMemory() : v;
            };
        }
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly MungeDataView _p;
        private readonly HashSet<int> _active;
        private readonly DataViewRowCursor _source;
        private readonly RowReader _reader;
        private long _row = -1;          // source row
        private int _copy;               // 0: the original row, 1..factor: synthetic
        private long _position = -1;
        private double[]? _original;     // numeric values of the source row (read when a synthetic row needs them)
        private object?[]? _originalSwap;
        private readonly double[] _numeric;
        private readonly object?[] _swapValue;
        private readonly bool[] _swapTaken;

        public Cursor(MungeDataView parent, HashSet<int> active)
        {
            _p = parent;
            _active = active;
            _source = parent._source.GetRowCursor(parent.Columns().Concat(active.Select(i => parent._source.Schema[i])).Distinct());
            _reader = new RowReader(parent, _source);
            _numeric = new double[parent._slots];
            _swapValue = new object?[parent._swap.Length];
            _swapTaken = new bool[parent._swap.Length];
        }

        public override DataViewSchema Schema => _p.Schema;
        public override long Position => _position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (_row >= 0 && _copy < _p._factor)
            {
                _copy++;
                Synthesize();
                _position++;
                return true;
            }
            if (!_source.MoveNext()) return false;
            _row++;
            if (_row >= _p._neighbour.Length)
                throw new InvalidOperationException("The training data yielded more rows than when it was sampled for augmentation; it must not change between reads.");
            _copy = 0;
            _original = null;
            _position++;
            return true;
        }

        private void Synthesize()
        {
            if (_original == null) { _original = _reader.ReadNumeric(); _originalSwap = _reader.ReadSwap(); }
            int n = _p._neighbour[_row];
            var neighbour = _p._sampleNumeric[n];
            var rand = new Random((int)(Mix(_p._seed, _row, _copy) & int.MaxValue));
            for (int j = 0; j < _numeric.Length; j++)
            {
                double u = rand.NextDouble();
                double z = Gaussian(rand); // drawn always, so each value depends only on (seed, row, copy)
                double a = _original[j], b = neighbour[j];
                if (u >= _p._p) _numeric[j] = a;
                else if (double.IsNaN(a) || double.IsNaN(b)) _numeric[j] = b;
                else _numeric[j] = b + z * Math.Abs(a - b) / _p._s;
            }
            for (int i = 0; i < _swapValue.Length; i++)
            {
                _swapTaken[i] = rand.NextDouble() < _p._p;
                _swapValue[i] = _swapTaken[i] ? _p._sampleSwap[n][i] : _originalSwap![i];
            }
        }

        private static double Gaussian(Random rand)
        {
            double u1 = 1.0 - rand.NextDouble(), u2 = rand.NextDouble();
            return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var source = _source.GetGetter<TValue>(_p._source.Schema[column.Index]);
            var numeric = Array.FindIndex(_p._numeric, c => c.Index == column.Index);
            if (numeric >= 0)
            {
                var c = _p._numeric[numeric];
                if (c.IsVector)
                    return (ValueGetter<TValue>)(Delegate)new ValueGetter<VBuffer<float>>((ref VBuffer<float> v) =>
                    {
                        if (_copy == 0) { ((ValueGetter<VBuffer<float>>)(Delegate)source)(ref v); return; }
                        var editor = VBufferEditor.Create(ref v, c.Size);
                        for (int j = 0; j < c.Size; j++) editor.Values[j] = (float)_numeric[c.Offset + j];
                        v = editor.Commit();
                    });
                if (c.IsDouble)
                    return (ValueGetter<TValue>)(Delegate)new ValueGetter<double>((ref double v) =>
                    {
                        if (_copy == 0) ((ValueGetter<double>)(Delegate)source)(ref v); else v = _numeric[c.Offset];
                    });
                return (ValueGetter<TValue>)(Delegate)new ValueGetter<float>((ref float v) =>
                {
                    if (_copy == 0) ((ValueGetter<float>)(Delegate)source)(ref v); else v = (float)_numeric[c.Offset];
                });
            }
            int swap = Array.IndexOf(_p._swap, column.Index);
            if (swap >= 0)
                return (ref TValue v) =>
                {
                    if (_copy == 0 || !_swapTaken[swap]) source(ref v);
                    else v = (TValue)_swapValue[swap]!;
                };
            return source;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _source.Dispose();
            base.Dispose(disposing);
        }
    }
}
