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
    /// (30 s in deploy/prometheus): readings change at most every 30 s anyway. 0 = share in-flight builds only.
    /// </summary>
    [Range(0, 300)] public int CacheSeconds { get; set; } = 5;
}

/// <summary>An exposition as built once: the text, and gzip made on first demand.</summary>
internal sealed class Exposition(ReadOnlyMemory<byte> text)
{
    private readonly Lazy<Task<byte[]>> _gzip = new(() => Task.Run(() => Compress(text)));

    public ReadOnlyMemory<byte> Text => text;

    public Task<byte[]> GzipAsync() => _gzip.Value;

    private static byte[] Compress(ReadOnlyMemory<byte> text)
    {
        using var output = new MemoryStream(text.Length / 8 + 1024);
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(text.Span);
        }
        return output.ToArray();
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
/// </summary>
internal sealed class ScrapeCache(TimeProvider time, IOptions<MetricsOptions> options)
{
    private sealed record Entry(Task<Exposition> Build, DateTimeOffset Started);

    private readonly Dictionary<string, Entry> _entries = [];
    private readonly Dictionary<string, int> _sizes = []; // the last body size per key, to size the next buffer
    private readonly Lock _gate = new();

    /// <summary>The build for this credential, if one is running or finished less than the cache time ago.</summary>
    public Task<Exposition>? Served(string key)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            return _entries.TryGetValue(key, out var entry) && Usable(entry, now, TimeSpan.FromSeconds(options.Value.CacheSeconds)) ? entry.Build : null;
        }
    }

    /// <summary>The usable build for this credential, or a new one; only for a credential that has just passed the policy.</summary>
    /// <param name="build">Builds the exposition; gets a capacity hint (the last size for this key).</param>
    public Task<Exposition> GetAsync(string key, Func<int, Task<Exposition>> build)
    {
        var now = time.GetUtcNow();
        var ttl = TimeSpan.FromSeconds(options.Value.CacheSeconds);
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var entry) && Usable(entry, now, ttl))
            {
                return entry.Build;
            }
            Sweep(now, ttl);
            var hint = _sizes.GetValueOrDefault(key);
            var task = Task.Run(() => build(hint));
            _entries[key] = new Entry(task, now);
            _ = task.ContinueWith(t => Finished(key, t), TaskScheduler.Default);
            return task;
        }
    }

    /// <summary>In flight, or built successfully less than the cache time ago.</summary>
    private static bool Usable(Entry entry, DateTimeOffset now, TimeSpan ttl) =>
        !entry.Build.IsCompleted || (entry.Build.IsCompletedSuccessfully && now - entry.Started < ttl);

    private void Finished(string key, Task<Exposition> build)
    {
        lock (_gate)
        {
            if (build.IsCompletedSuccessfully)
            {
                _sizes[key] = build.Result.Text.Length;
            }
            // Nothing to keep without a cache time, or after a failure (the next scrape tries again).
            if ((options.Value.CacheSeconds == 0 || !build.IsCompletedSuccessfully)
                && _entries.TryGetValue(key, out var entry) && entry.Build == build)
            {
                _entries.Remove(key);
            }
        }
    }

    /// <summary>Drops finished builds past their time; the last one per credential lives until the next scrape of any.</summary>
    private void Sweep(DateTimeOffset now, TimeSpan ttl)
    {
        foreach (var (key, entry) in _entries)
        {
            if (entry.Build.IsCompleted && !Usable(entry, now, ttl))
            {
                _entries.Remove(key);
            }
        }
    }
}
