using System.ComponentModel.DataAnnotations;
using System.IO.Compression;
using Microsoft.Extensions.Options;

namespace Broker.Metrics;

public sealed class MetricsOptions
{
    public const string SectionName = "Metrics";

    /// <summary>
    /// How long one credential is served the exposition built for it before it is built again. Concurrent
    /// scrapes always share one build (single flight); this also lets repeats within the window share it
    /// (Prometheus HA pairs, retries, several scrapers of one key). Keep it well under the scrape interval
    /// (30 s in deploy/prometheus): by default a car is read at most every 45 s anyway (driving). 0 = share in-flight builds only.
    /// </summary>
    [Range(0, 300)] public int CacheSeconds { get; set; } = 5;

    /// <summary>
    /// Prometheus' bearer token (or a file holding it, a Docker secret): it reads every tenant's series and the node's
    /// health, and gets 403 everywhere else. Apart from the operator token, so what a scraper (its config file, its host)
    /// holds cannot create tenants or mint keys. Metrics-scoped operator keys do the same and can be revoked.
    /// </summary>
    public string? Token { get; set; }
    public string? TokenFile { get; set; }

    internal string? ResolveToken() => Admin.ConfiguredToken.Read(Token, TokenFile);
}

/// <summary>
/// An exposition as built once: the text (the start of <see cref="Buffer"/>), and gzip made on first demand.
/// The buffer goes back to <see cref="ScrapeCache"/> for the next build of the same credential once nobody reads it.
/// </summary>
internal sealed class Exposition(byte[] buffer, int length, int gzipHint)
{
    private readonly Lazy<Task<ReadOnlyMemory<byte>>> _gzip = new(() => Task.Run(() => Compress(buffer.AsMemory(0, length), gzipHint)));

    public byte[] Buffer => buffer;

    public ReadOnlyMemory<byte> Text => buffer.AsMemory(0, length);

    /// <summary>Made once, by the first reader that asks; the others wait for it.</summary>
    public Task<ReadOnlyMemory<byte>> GzipAsync() => _gzip.Value;

    public int GzipLength => _gzip.IsValueCreated && _gzip.Value.IsCompletedSuccessfully ? _gzip.Value.Result.Length : 0;

    private static ReadOnlyMemory<byte> Compress(ReadOnlyMemory<byte> text, int hint)
    {
        using var output = new MemoryStream(Math.Max(hint + hint / 8, text.Length / 8 + 1024)); // sized from the last one: no regrowth
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(text.Span);
        }
        return output.GetBuffer().AsMemory(0, (int)output.Length);
    }
}

/// <summary>
/// Per-credential cache with single flight. The key is the credential itself (a hash of the bearer
/// token), so a body built for one credential is never served to another, even of the same tenant.
/// Only a request that passed the metrics policy starts a build; a repeat of that credential is served
/// the build while it runs and for <see cref="MetricsOptions.CacheSeconds"/> after it started, without
/// authenticating again (so a revoked key reads what it just read for at most that long).
/// Builds run in their own scope, unbound from the request that started them: one scraper giving up
/// must not cancel what the others are waiting for.
/// <para>
/// Memory: a 10,000-vehicle body is ~31 MB, far past the large-object threshold, and a fresh one per build piles
/// up until a full collection. So each request holds a <see cref="Lease"/> on the build it reads, and a body
/// nobody holds and the cache no longer serves becomes the buffer of that same credential's next build (never
/// another credential's, whatever happens). One spare per credential, dropped after <see cref="SpareKept"/> unused.
/// </para>
/// </summary>
internal sealed class ScrapeCache(TimeProvider time, IOptions<MetricsOptions> options)
{
    private static readonly TimeSpan SpareKept = TimeSpan.FromMinutes(10);

    /// <summary>A request's hold on one build; dispose it once the response is written.</summary>
    public sealed class Lease(ScrapeCache cache, Entry entry) : IDisposable
    {
        private int _disposed;

        public Task<Exposition> Build => entry.Build;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                cache.Release(entry);
            }
        }
    }

    public sealed class Entry(string key, DateTimeOffset started, Task<Exposition> build)
    {
        public string Key => key;
        public DateTimeOffset Started => started;
        public Task<Exposition> Build => build;
        public int Holders { get; set; }
        public bool Served { get; set; } = true;
        public bool Recycled { get; set; }
    }

    /// <summary>What a credential's builds leave for the next: the sizes to expect, and a buffer nobody reads any more.</summary>
    private sealed class Spare
    {
        public byte[]? Buffer { get; set; }
        public int TextLength { get; set; }
        public int GzipLength { get; set; }
        public DateTimeOffset UsedAt { get; set; }
    }

    private readonly Dictionary<string, Entry> _entries = [];
    private readonly Dictionary<string, Spare> _spares = [];
    private readonly Lock _gate = new();

    /// <summary>A hold on the build for this credential, if one is running or finished less than the cache time ago.</summary>
    public Lease? Served(string key)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            return _entries.TryGetValue(key, out var entry) && Usable(entry, now, TimeSpan.FromSeconds(options.Value.CacheSeconds)) ? Hold(entry) : null;
        }
    }

    /// <summary>A hold on the usable build for this credential, or on a new one; only for a credential that has just passed the policy.</summary>
    /// <param name="build">Builds into the given buffer (null: a new one), told the text and gzip sizes of the last build.</param>
    public Lease GetAsync(string key, Func<byte[]?, int, int, Task<Exposition>> build)
    {
        var now = time.GetUtcNow();
        var ttl = TimeSpan.FromSeconds(options.Value.CacheSeconds);
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var entry) && Usable(entry, now, ttl))
            {
                return Hold(entry);
            }
            Sweep(now, ttl);
            var spare = _spares.TryGetValue(key, out var s) ? s : _spares[key] = new Spare();
            var (buffer, textLength, gzipLength) = (spare.Buffer, spare.TextLength, spare.GzipLength);
            spare.Buffer = null; // this build's now
            spare.UsedAt = now;
            var fresh = new Entry(key, now, Task.Run(() => build(buffer, textLength, gzipLength)));
            _entries[key] = fresh;
            _ = fresh.Build.ContinueWith(_ => Finished(fresh), TaskScheduler.Default);
            return Hold(fresh);
        }
    }

    private Lease Hold(Entry entry)
    {
        entry.Holders++;
        return new Lease(this, entry);
    }

    private void Release(Entry entry)
    {
        lock (_gate)
        {
            entry.Holders--;
            Recycle(entry);
        }
    }

    /// <summary>In flight, or built successfully less than the cache time ago.</summary>
    private static bool Usable(Entry entry, DateTimeOffset now, TimeSpan ttl) =>
        !entry.Build.IsCompleted || (entry.Build.IsCompletedSuccessfully && now - entry.Started < ttl);

    private void Finished(Entry entry)
    {
        lock (_gate)
        {
            if (entry.Build.IsCompletedSuccessfully && _spares.TryGetValue(entry.Key, out var spare))
            {
                spare.TextLength = entry.Build.Result.Text.Length;
            }
            // Nothing to keep without a cache time, or after a failure (the next scrape tries again).
            if (options.Value.CacheSeconds == 0 || !entry.Build.IsCompletedSuccessfully)
            {
                StopServing(entry);
            }
        }
    }

    /// <summary>The cache stops handing out this build; those who hold it still read it.</summary>
    private void StopServing(Entry entry)
    {
        if (_entries.TryGetValue(entry.Key, out var current) && current == entry)
        {
            _entries.Remove(entry.Key);
        }
        entry.Served = false;
        Recycle(entry);
    }

    /// <summary>A finished build that the cache no longer serves and nobody holds gives its buffer to the credential's next build, once.</summary>
    private void Recycle(Entry entry)
    {
        if (entry.Recycled || entry.Served || entry.Holders > 0 || !entry.Build.IsCompletedSuccessfully
            || !_spares.TryGetValue(entry.Key, out var spare))
        {
            return;
        }
        entry.Recycled = true;
        spare.Buffer = entry.Build.Result.Buffer;
        spare.GzipLength = Math.Max(spare.GzipLength, entry.Build.Result.GzipLength);
    }

    /// <summary>Stops serving builds past their time, and drops the spares of credentials unseen for <see cref="SpareKept"/>.</summary>
    private void Sweep(DateTimeOffset now, TimeSpan ttl)
    {
        foreach (var entry in _entries.Values.Where(e => e.Build.IsCompleted && !Usable(e, now, ttl)).ToList())
        {
            StopServing(entry);
        }
        foreach (var (key, spare) in _spares)
        {
            if (now - spare.UsedAt > SpareKept && !_entries.ContainsKey(key))
            {
                _spares.Remove(key);
            }
        }
    }
}
