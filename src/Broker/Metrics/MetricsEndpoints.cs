using System.Diagnostics;
using Broker.Admin;
using Broker.Data;
using Broker.Polling;
using Broker.Tenants;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Broker.Metrics;

/// <summary>
/// <c>GET /metrics</c>. Built per scrape from the readings in Postgres into a fresh registry (the
/// blackbox-exporter pattern), so every replica answers the same and a tenant's key can only ever
/// produce that tenant's series. The operator's token gets every tenant plus this replica's own
/// health (polls, refreshes, lag) from the default registry.
/// </summary>
public static class MetricsEndpoints
{
    public static WebApplicationBuilder AddBrokerMetrics(this WebApplicationBuilder builder)
    {
        // prometheus-net's process/runtime defaults do not pass promtool's lint; ours must.
        Prometheus.Metrics.SuppressDefaultMetrics();
        builder.Services.AddScoped<MetricsSnapshot>();
        // Prometheus asks for gzip; at thousands of vehicles the exposition is tens of megabytes.
        builder.Services.AddResponseCompression(o => o.MimeTypes = ["text/plain"]);
        builder.Services.Configure<Microsoft.AspNetCore.ResponseCompression.GzipCompressionProviderOptions>(
            o => o.Level = System.IO.Compression.CompressionLevel.Fastest);
        return builder;
    }

    public static RouteHandlerBuilder MapBrokerMetrics(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/metrics", ScrapeAsync).RequireAuthorization(TenancyExtensions.MetricsPolicy).ExcludeFromDescription();

    internal static async Task ScrapeAsync(HttpContext http, MetricsSnapshot snapshot)
    {
        var started = Stopwatch.GetTimestamp();
        var isOperator = http.User.HasClaim(c => c.Type == OperatorTokenHandler.OperatorClaim);
        Guid? tenant = isOperator ? null : http.User.TenantId();
        var registry = await snapshot.BuildAsync(tenant, http.RequestAborted);
        Prometheus.Metrics.WithCustomRegistry(registry)
            .CreateGauge("tesla_broker_scrape_duration_seconds", "Time taken to read the database and build this exposition (writing it out is not included).")
            .Set(Stopwatch.GetElapsedTime(started).TotalSeconds);

        http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        await registry.CollectAndExportAsTextAsync(http.Response.Body, http.RequestAborted);
        if (isOperator)
        {
            await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(http.Response.Body, http.RequestAborted);
        }
    }
}
