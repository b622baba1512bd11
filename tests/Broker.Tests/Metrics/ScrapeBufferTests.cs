using Broker.Metrics;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Broker.Tests.Metrics;

/// <summary>
/// The scrape cache hands a body's buffer to the next build only when nobody holds that body any more and the
/// cache no longer serves it, and only to a build of the same credential: a body being written to one scraper
/// is never overwritten by another build, and no tenant's bytes can reach another's buffer.
/// </summary>
public sealed class ScrapeBufferTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly List<(string Key, byte[]? Given)> _builds = [];

    private ScrapeCache Cache(int cacheSeconds) => new(_time, Options.Create(new MetricsOptions { CacheSeconds = cacheSeconds }));

    private Task<Exposition> Build(string key, byte[]? given)
    {
        lock (_builds) _builds.Add((key, given));
        var buffer = given ?? new byte[64];
        buffer.AsSpan().Fill((byte)key[0]);
        return Task.FromResult(new Exposition(buffer, 64, 0));
    }

    private async Task<(ScrapeCache.Lease Lease, Exposition Body)> ScrapeAsync(ScrapeCache cache, string key)
    {
        var lease = cache.Served(key) ?? cache.GetAsync(key, (given, _, _) => Build(key, given));
        return (lease, await lease.Build);
    }

    [Fact]
    public async Task ABodyStillHeldIsNeverGivenToTheNextBuild()
    {
        var cache = Cache(cacheSeconds: 5);
        var (slowScraper, first) = await ScrapeAsync(cache, "a");
        _time.Advance(TimeSpan.FromSeconds(6));

        var (quick, second) = await ScrapeAsync(cache, "a");   // a rebuild while the first body is still being written out
        Assert.Null(_builds[1].Given);
        Assert.NotSame(first.Buffer, second.Buffer);
        quick.Dispose();
        Assert.All(first.Text.ToArray(), b => Assert.Equal((byte)'a', b));

        slowScraper.Dispose();                                 // now nobody reads the first body, and the cache serves the second
        _time.Advance(TimeSpan.FromSeconds(6));
        var (_, third) = await ScrapeAsync(cache, "a");
        Assert.Contains(_builds[2].Given, new[] { first.Buffer, second.Buffer });
        Assert.Same(_builds[2].Given, third.Buffer);
    }

    [Fact]
    public async Task ABufferOnlyEverServesTheCredentialItWasBuiltFor()
    {
        var cache = Cache(cacheSeconds: 0);
        var buffers = new Dictionary<string, HashSet<byte[]>> { ["a"] = new(ReferenceEqualityComparer.Instance), ["b"] = new(ReferenceEqualityComparer.Instance) };
        for (var round = 0; round < 20; round++)
        {
            foreach (var key in round % 3 == 0 ? new[] { "b", "a" } : ["a", "b"])
            {
                var (lease, body) = await ScrapeAsync(cache, key);
                buffers[key].Add(body.Buffer);
                Assert.All(body.Text.ToArray(), b => Assert.Equal((byte)key[0], b));
                lease.Dispose();
            }
        }

        Assert.Empty(buffers["a"].Intersect(buffers["b"], ReferenceEqualityComparer.Instance));
        Assert.All(_builds.Skip(2), b => Assert.NotNull(b.Given)); // after the first build of each, every build reuses its own
    }

    [Fact]
    public async Task ABodyReleasedTwiceIsRecycledOnce()
    {
        var cache = Cache(cacheSeconds: 0);
        var (lease, first) = await ScrapeAsync(cache, "a");
        lease.Dispose();
        lease.Dispose();

        var (second, _) = await ScrapeAsync(cache, "a");      // takes the buffer
        var (third, _) = await ScrapeAsync(cache, "a");       // the second is still held: a new buffer
        Assert.Same(first.Buffer, _builds[1].Given);
        Assert.Null(_builds[2].Given);
        second.Dispose();
        third.Dispose();
    }
}
