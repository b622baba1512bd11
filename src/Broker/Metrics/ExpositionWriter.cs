using System.Buffers;
using System.Globalization;
using System.Text;

namespace Broker.Metrics;

/// <summary>
/// Writes the Prometheus text format (0.0.4) straight to UTF-8 bytes: one family at a time, each
/// sample from a label set encoded once per device. This replaced a prometheus-net registry per
/// scrape, which made a child object per series (~250,000 at 10,000 vehicles) only to serialise it.
/// Values are formatted as prometheus-net does ("g", invariant culture).
/// </summary>
internal sealed class ExpositionWriter(byte[]? buffer, int capacityHint)
{
    private readonly GrowingBuffer _buffer = new(buffer, Math.Max(capacityHint, 16 * 1024));
    private byte[] _name = [];

    /// <summary>The array written into (it may have grown past the one given); the text is its first <see cref="Length"/> bytes.</summary>
    public byte[] Buffer => _buffer.Array;

    public int Length => _buffer.WrittenCount;

    public void Family(string name, string help, string type)
    {
        _name = Encoding.UTF8.GetBytes(name);
        Raw($"# HELP {name} {help}\n# TYPE {name} {type}\n");
    }

    public void Raw(string text) => Encoding.UTF8.GetBytes(text, _buffer);

    public void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.GetSpan(bytes.Length));
        _buffer.Advance(bytes.Length);
    }

    /// <summary><c>name{labels} value</c>; <paramref name="labels"/> comes from <see cref="Labels"/>.</summary>
    public void Sample(ReadOnlySpan<byte> labels, double value) => Sample(labels, null, null, value);

    /// <summary><c>name{labels,extraName="extraValue"} value</c>.</summary>
    public void Sample(ReadOnlySpan<byte> labels, string? extraName, string? extraValue, double value)
    {
        var extra = extraName is null ? "" : Escape(extraValue ?? "");
        var span = _buffer.GetSpan(_name.Length + labels.Length + (extraName?.Length ?? 0) + Encoding.UTF8.GetMaxByteCount(extra.Length) + 48);
        var n = Put(span, _name);
        if (labels.Length > 0 || extraName is not null)
        {
            span[n++] = (byte)'{';
            n += Put(span[n..], labels);
            if (extraName is not null)
            {
                if (labels.Length > 0)
                {
                    span[n++] = (byte)',';
                }
                n += Encoding.UTF8.GetBytes(extraName, span[n..]);
                span[n++] = (byte)'=';
                span[n++] = (byte)'"';
                n += Encoding.UTF8.GetBytes(extra, span[n..]);
                span[n++] = (byte)'"';
            }
            span[n++] = (byte)'}';
        }
        span[n++] = (byte)' ';
        n += FormatValue(value, span[n..]);
        span[n++] = (byte)'\n';
        _buffer.Advance(n);
    }

    /// <summary><c>name{a="x",b="y"} value</c> for a label set used once.</summary>
    public void Sample(ReadOnlySpan<(string Name, string Value)> labels, double value)
    {
        var span = _buffer.GetSpan(_name.Length + MaxLength(labels) + 48);
        var n = Put(span, _name);
        span[n++] = (byte)'{';
        n += WriteLabels(span[n..], labels);
        span[n++] = (byte)'}';
        span[n++] = (byte)' ';
        n += FormatValue(value, span[n..]);
        span[n++] = (byte)'\n';
        _buffer.Advance(n);
    }

    /// <summary>A label set (<c>a="x",b="y"</c>) as UTF-8, escaped, to be reused for every family of one device.</summary>
    public static byte[] Labels(params ReadOnlySpan<(string Name, string Value)> labels)
    {
        var max = MaxLength(labels);
        var scratch = max <= 1024 ? stackalloc byte[1024] : new byte[max];
        return scratch[..WriteLabels(scratch, labels)].ToArray();
    }

    private static int MaxLength(ReadOnlySpan<(string Name, string Value)> labels)
    {
        var length = 0;
        foreach (var (name, value) in labels)
        {
            length += name.Length + 4 + Encoding.UTF8.GetMaxByteCount(value.Length * 2);
        }
        return length;
    }

    private static int WriteLabels(Span<byte> span, ReadOnlySpan<(string Name, string Value)> labels)
    {
        var n = 0;
        foreach (var (name, value) in labels)
        {
            if (n > 0)
            {
                span[n++] = (byte)',';
            }
            n += Encoding.UTF8.GetBytes(name, span[n..]);
            span[n++] = (byte)'=';
            span[n++] = (byte)'"';
            n += Encoding.UTF8.GetBytes(Escape(value), span[n..]);
            span[n++] = (byte)'"';
        }
        return n;
    }

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    private static string Escape(string value) =>
        value.AsSpan().IndexOfAny('\\', '"', '\n') < 0 ? value : value.Replace("\\", @"\\").Replace("\"", "\\\"").Replace("\n", @"\n");

    private static int Put(Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination);
        return bytes.Length;
    }

    private static int FormatValue(double value, Span<byte> destination) => value switch
    {
        double.PositiveInfinity => Put(destination, "+Inf"u8),
        double.NegativeInfinity => Put(destination, "-Inf"u8),
        double.NaN => Put(destination, "NaN"u8),
        _ => value.TryFormat(destination, out var written, "g", CultureInfo.InvariantCulture) ? written
            : throw new InvalidOperationException("A double did not fit 48 bytes."),
    };

    /// <summary>Like <see cref="ArrayBufferWriter{T}"/>, but it can start from an array left by an earlier build (its old bytes are overwritten, never read).</summary>
    private sealed class GrowingBuffer(byte[]? given, int capacity) : IBufferWriter<byte>
    {
        public byte[] Array { get; private set; } = given is { } g && g.Length >= capacity ? g : new byte[capacity];
        public int WrittenCount { get; private set; }

        public void Advance(int count) => WrittenCount += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => Ensure(sizeHint).AsMemory(WrittenCount);

        public Span<byte> GetSpan(int sizeHint = 0) => Ensure(sizeHint).AsSpan(WrittenCount);

        /// <summary>The array, grown first if fewer than <paramref name="sizeHint"/> bytes are left.</summary>
        private byte[] Ensure(int sizeHint)
        {
            if (Array.Length - WrittenCount < Math.Max(sizeHint, 1))
            {
                var grown = new byte[Math.Max(Array.Length * 2, WrittenCount + sizeHint)];
                Array.AsSpan(0, WrittenCount).CopyTo(grown);
                Array = grown;
            }
            return Array;
        }
    }
}
