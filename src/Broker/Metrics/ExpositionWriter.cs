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
internal sealed class ExpositionWriter(int capacityHint)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(Math.Max(capacityHint, 16 * 1024));
    private byte[] _name = [];

    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    public void Family(string name, string help, string type)
    {
        _name = Encoding.UTF8.GetBytes(name);
        Raw($"# HELP {name} {help}\n# TYPE {name} {type}\n");
    }

    public void Raw(string text) => Encoding.UTF8.GetBytes(text, _buffer);

    public void Raw(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

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
}
