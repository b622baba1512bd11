using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Broker.Admin;
using Broker.Tenants;
using Broker.Tokens;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Net.Http.Headers;

namespace Broker.Metrics;

/// <summary>
/// <c>GET /metrics</c>. Built from the readings in Postgres (so every replica answers the same, and a
/// tenant's key can only ever produce that tenant's series), written straight as text, and shared by
/// concurrent and repeated scrapes of the same credential for <see cref="MetricsOptions.CacheSeconds"/>.
/// The operator's token gets every tenant plus this replica's own health (polls, refreshes, lag) from
/// the default registry. gzip when the scraper asks (Prometheus does): ~10× fewer bytes.
/// The endpoint applies the metrics policy itself, and only when the very credential presented has no
/// exposition built (or building) for it: a repeat within the cache time is served from memory without
/// a database round trip, so a revoked key can read what it read a moment ago for at most that long.
/// </summary>
public static class MetricsEndpoints
{
    private const int WriteSlice = 64 * 1024;
    private const string ScrapeDurationHelp = "Time taken to read the database and build this exposition (writing it out is not included).";

    public static WebApplicationBuilder AddBrokerMetrics(this WebApplicationBuilder builder)
    {
        // The default registry is only ever exported to the operator (below), so process and runtime series never reach a
        // tenant. Kept: process metrics (CPU, memory, threads, GC counts) and the runtime's own "System.Runtime" meter (GC heaps
        // and pauses, thread pool, lock contention). Left out: every other meter (per-request and per-query families of
        // ASP.NET Core, Npgsql, HttpClient, Polly), the legacy EventCounters (msquic noise, duplicates of the meter) and
        // prometheus-net's self-metrics. A few runtime names end in _count, which promtool's lint dislikes; only the
        // broker's own families are held to the lint (tests/Broker.Tests/Metrics/PromtoolTests.cs).
        Prometheus.Metrics.ConfigureMeterAdapter(o => o.InstrumentFilterPredicate = i => i.Meter.Name == "System.Runtime");
        Prometheus.Metrics.SuppressDefaultMetrics(new Prometheus.SuppressDefaultMetricOptions
        {
            SuppressProcessMetrics = false, SuppressMeters = false, SuppressEventCounters = true, SuppressDebugMetrics = true,
        });
        // This replica's own families exist from the start, each known outcome at 0: otherwise a family appears only when its
        // first event happens (a refresh can be an hour away), and until then an alert on it cannot tell 0 from "not there".
        TokenMetrics.Initialize();
        builder.Services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<MetricsSnapshot>();
        builder.Services.AddSingleton<ScrapeCache>();
        return builder;
    }

    public static RouteHandlerBuilder MapBrokerMetrics(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/metrics", ScrapeAsync).ExcludeFromDescription();

    internal static async Task ScrapeAsync(HttpContext http, ScrapeCache cache, IServiceScopeFactory scopes,
        IAuthorizationPolicyProvider policies, IPolicyEvaluator evaluator, IAuthorizationMiddlewareResultHandler refusal)
    {
        // The credential, as sent, names its cache entry; an entry exists only once the credential has passed the policy.
        var credential = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(http.Request.Headers.Authorization.ToString())));
        using var lease = cache.Served(credential) ?? await AuthorizedBuildAsync(http, cache, credential, scopes, policies, evaluator, refusal);
        if (lease is null)
        {
            return; // refused: 401 or 403, as the authorization middleware answers
        }
        var exposition = await lease.Build.WaitAsync(http.RequestAborted);

        http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Vary = HeaderNames.AcceptEncoding;
        var body = exposition.Text;
        if (AcceptsGzip(http.Request))
        {
            http.Response.Headers.ContentEncoding = "gzip";
            body = await exposition.GzipAsync(); // not abandoned half-way: the lease must outlive the compression reading the text
        }
        http.Response.ContentLength = body.Length;
        // In slices, each flushed: one 30 MB write would be copied whole into Kestrel's output buffers.
        for (var sent = 0; sent < body.Length; sent += WriteSlice)
        {
            await http.Response.Body.WriteAsync(body.Slice(sent, Math.Min(WriteSlice, body.Length - sent)), http.RequestAborted);
        }
    }

    /// <summary>Applies the metrics policy; on success, a hold on this credential's build (a new one unless one is running).</summary>
    private static async Task<ScrapeCache.Lease?> AuthorizedBuildAsync(HttpContext http, ScrapeCache cache, string credential, IServiceScopeFactory scopes,
        IAuthorizationPolicyProvider policies, IPolicyEvaluator evaluator, IAuthorizationMiddlewareResultHandler refusal)
    {
        var policy = await policies.GetPolicyAsync(TenancyExtensions.MetricsPolicy) ?? throw new InvalidOperationException("No metrics policy.");
        var authorized = await evaluator.AuthorizeAsync(policy, await evaluator.AuthenticateAsync(policy, http), http, resource: null);
        if (!authorized.Succeeded)
        {
            await refusal.HandleAsync(_ => Task.CompletedTask, http, policy, authorized);
            return null;
        }
        var tenant = http.User.MetricsTenant();
        return cache.GetAsync(credential, (buffer, textLength, gzipLength) => BuildAsync(scopes, tenant, buffer, textLength, gzipLength));
    }

    private static async Task<Exposition> BuildAsync(IServiceScopeFactory scopes, Guid? tenant, byte[]? buffer, int lastLength, int gzipLength)
    {
        var started = Stopwatch.GetTimestamp();
        await using var scope = scopes.CreateAsyncScope();
        var writer = new ExpositionWriter(buffer, lastLength + lastLength / 16);
        await scope.ServiceProvider.GetRequiredService<MetricsSnapshot>().WriteAsync(tenant, writer, CancellationToken.None);
        writer.Family("tesla_broker_scrape_duration_seconds", ScrapeDurationHelp, "gauge");
        writer.Sample(ReadOnlySpan<byte>.Empty, Stopwatch.GetElapsedTime(started).TotalSeconds);
        if (tenant is null)
        {
            using var health = new MemoryStream();
            await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(health);
            writer.Raw(health.GetBuffer().AsSpan(0, (int)health.Length));
        }
        return new Exposition(writer.Buffer, writer.Length, gzipLength);
    }

    /// <summary>gzip listed with a quality above 0 (or * with gzip not refused), as RFC 9110 §12.5.3 reads.</summary>
    private static bool AcceptsGzip(HttpRequest request)
    {
        var accepted = request.GetTypedHeaders().AcceptEncoding;
        var gzip = accepted.FirstOrDefault(e => e.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase));
        var any = accepted.FirstOrDefault(e => e.Value.Equals("*", StringComparison.Ordinal));
        return (gzip ?? any) is { } e && (e.Quality ?? 1) > 0;
    }
}
