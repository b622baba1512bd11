using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Broker.Tests.Metrics;

/// <summary>
/// /metrics shares one build between concurrent scrapes and, for Metrics:CacheSeconds, between repeats of
/// the same credential, never across credentials; gzip when asked. Every body carries its own build's
/// <c>tesla_broker_scrape_duration_seconds</c>, so equal bodies mean one build and different ones two.
/// </summary>
public sealed partial class ScrapeCacheTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string OperatorToken = BrokerApplication.OperatorToken;

    protected override Dictionary<string, string?> BrokerSettings => new() { ["Metrics:CacheSeconds"] = "5" };

    [Fact]
    public async Task ConcurrentScrapesWaitForOneBuild()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();

        // Hold every build on its first query (tenants) while eight scrapers arrive.
        await using var blocker = new NpgsqlConnection(Broker.ConnectionString);
        await blocker.OpenAsync(Ct);
        await using var tx = await blocker.BeginTransactionAsync(Ct);
        await new NpgsqlCommand("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE", blocker, tx).ExecuteNonQueryAsync(Ct);
        var scrapes = Enumerable.Range(0, 8).Select(_ => ScrapeAsync(OperatorToken)).ToList();

        var mostBuildsWaiting = 0;
        var watching = Stopwatch.StartNew();
        while (watching.Elapsed < TimeSpan.FromSeconds(5))
        {
            mostBuildsWaiting = Math.Max(mostBuildsWaiting, await BuildsWaitingOnLockAsync());
            await Task.Delay(100, Ct);
        }
        Assert.False(scrapes.Any(s => s.IsCompleted), "a scrape finished while the tables it reads were locked");
        Assert.Equal(1, mostBuildsWaiting); // one build in flight; 8 would mean every scraper built its own
        await tx.CommitAsync(Ct);

        var bodies = await Task.WhenAll(scrapes).WaitAsync(TimeSpan.FromMinutes(1), Ct);
        Assert.Single(bodies.Select(b => b.Text).Distinct());
        Assert.Contains("tesla_vehicle_battery_level_percent{", bodies[0].Text);
    }

    [Fact]
    public async Task ACachedBodyServesOnlyTheCredentialItWasBuiltFor()
    {
        var (_, fleetKey, fleetLink) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(fleetLink, "bob@example.com", "bob-demo");
        await PollAccountsAsync();
        string secondHouseholdKey;
        await using (var scope = Broker.Services.CreateAsyncScope())
        {
            secondHouseholdKey = await scope.ServiceProvider.GetRequiredService<TenantProvisioning>().AddApiKeyAsync(TenantId, "second", Ct);
        }

        var first = (await ScrapeAsync(ApiKey)).Text;
        var again = (await ScrapeAsync(ApiKey)).Text;
        var sameTenantOtherKey = (await ScrapeAsync(secondHouseholdKey)).Text;
        var otherTenant = (await ScrapeAsync(fleetKey)).Text;
        var operatorBody = (await ScrapeAsync(OperatorToken)).Text;

        Assert.Equal(first, again); // the cache is on: the same credential within CacheSeconds gets the same build
        Assert.NotEqual(ScrapeDuration(first), ScrapeDuration(sameTenantOtherKey)); // another key: a build of its own
        Assert.Contains("tenant=\"household\"", sameTenantOtherKey);
        Assert.DoesNotContain("tenant=\"household\"", otherTenant);
        Assert.Contains("tenant=\"fleet\"", otherTenant);
        Assert.Contains("tenant=\"fleet\"", operatorBody);
        Assert.Contains("tenant=\"household\"", operatorBody);
    }

    [Fact]
    public async Task ACachedBodyIsRebuiltOnceCacheSecondsHavePassed()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var before = (await ScrapeAsync(ApiKey)).Text;
        Assert.DoesNotContain("tesla_vehicle_battery_level_percent{", before);

        await PollAccountsAsync();
        Assert.Equal(before, (await ScrapeAsync(ApiKey)).Text); // within 5 s: the cached body
        Time.Advance(TimeSpan.FromSeconds(5));

        Assert.Contains("tesla_vehicle_battery_level_percent{", (await ScrapeAsync(ApiKey)).Text);
    }

    [Fact]
    public async Task ARepeatWithinCacheSecondsSkipsTheKeyLookupAndARevokedKeyIsRefusedOnceTheyPass()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        var first = (await ScrapeAsync(ApiKey)).Text;

        // Revoke the key, and hold its table: a scrape that looked the key up would wait here.
        await using var blocker = new NpgsqlConnection(Broker.ConnectionString);
        await blocker.OpenAsync(Ct);
        await using var tx = await blocker.BeginTransactionAsync(Ct);
        await new NpgsqlCommand("UPDATE tenant_api_keys SET revoked_at = now(); LOCK TABLE tenant_api_keys IN ACCESS EXCLUSIVE MODE", blocker, tx).ExecuteNonQueryAsync(Ct);
        var again = await ScrapeAsync(ApiKey).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await tx.CommitAsync(Ct);
        Assert.Equal(first, again.Text); // the build made for this very credential, from memory

        Time.Advance(TimeSpan.FromSeconds(5));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", ApiKey) } };
        using var refused = await Broker.CreateClient().SendAsync(request, Ct);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task GzipIsServedWhenAskedForAndDecodesToTheSameText()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();

        var plain = await ScrapeAsync(ApiKey);
        var gzip = await ScrapeAsync(ApiKey, "gzip");
        var refused = await ScrapeAsync(ApiKey, "gzip;q=0, identity");
        var prometheus = await ScrapeAsync(ApiKey, "gzip, deflate, br;q=0.9"); // what Prometheus sends, roughly

        Assert.Null(plain.Encoding);
        Assert.Equal("gzip", gzip.Encoding);
        Assert.True(gzip.WireBytes < plain.WireBytes / 3, $"gzip sent {gzip.WireBytes} bytes for {plain.WireBytes} of text");
        Assert.Equal(plain.Text, gzip.Text);
        Assert.Null(refused.Encoding);
        Assert.Equal("gzip", prometheus.Encoding);
        Assert.Contains("tesla_vehicle_battery_level_percent{", gzip.Text);
    }

    private sealed record Scrape(string Text, string? Encoding, long WireBytes);

    private async Task<Scrape> ScrapeAsync(string token, string? acceptEncoding = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (acceptEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        }
        using var response = await Broker.CreateClient().SendAsync(request, Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var bytes = await response.Content.ReadAsByteArrayAsync(Ct);
        var encoding = response.Content.Headers.ContentEncoding.SingleOrDefault();
        if (encoding == "gzip")
        {
            await using var unzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var text = new StreamReader(unzip, Encoding.UTF8);
            return new Scrape(await text.ReadToEndAsync(Ct), encoding, bytes.Length);
        }
        return new Scrape(Encoding.UTF8.GetString(bytes), encoding, bytes.Length);
    }

    private async Task<int> BuildsWaitingOnLockAsync()
    {
        await using var db = new NpgsqlConnection(Broker.ConnectionString);
        await db.OpenAsync(Ct);
        await using var count = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%tenants%'", db);
        return Convert.ToInt32(await count.ExecuteScalarAsync(Ct));
    }

    private static string ScrapeDuration(string text) => DurationLine().Match(text).Groups[1].Value;

    [GeneratedRegex(@"^tesla_broker_scrape_duration_seconds (\S+)$", RegexOptions.Multiline)]
    private static partial Regex DurationLine();
}
