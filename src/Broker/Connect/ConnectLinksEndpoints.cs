using System.ComponentModel.DataAnnotations;
using Broker.Admin;
using Broker.Data;
using Broker.Hosting;
using Broker.Tenants;
using Broker.Tesla;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Connect;

/// <param name="Region">Optional: binds the link to that region's Tesla sign-in (<c>cn</c>: Tesla China, once configured).</param>
public sealed record CreateConnectLinkRequest([property: MaxLength(200), SingleLine] string? Label, [property: MaxLength(8), SingleLine] string? Region = null);

/// <summary>The URL is only ever returned by the create call: afterwards only its hash exists.</summary>
public sealed record ConnectLinkResponse(
    Guid Id, string? Label, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt, string? Url,
    Guid? AccountId = null, DateTimeOffset? ExpiresAt = null, string? Region = null);

/// <summary>Tenant API for connect links: create one per person or campaign, revoke when done.</summary>
public static class ConnectLinksEndpoints
{
    public static void MapConnectLinks(RouteGroupBuilder tenant)
    {
        var group = tenant.MapGroup("/connect-links").WithTags("Connect links");

        group.MapGet("/", async Task<Ok<List<ConnectLinkResponse>>> (HttpContext http, BrokerDbContext db) =>
        {
            var tenantId = http.TenantId();
            var links = await db.ConnectLinks.AsNoTracking().Where(l => l.TenantId == tenantId).OrderBy(l => l.CreatedAt)
                .Select(l => new ConnectLinkResponse(l.Id, l.Label, l.CreatedAt, l.RevokedAt, l.LastUsedAt, null, l.AccountId, l.ExpiresAt, l.Region))
                .ToListAsync(http.RequestAborted);
            return TypedResults.Ok(links);
        }).Describe("listConnectLinks", "List the tenant's open connect links");

        group.MapPost("/", async Task<Results<Created<ConnectLinkResponse>, ValidationProblem>> (
            CreateConnectLinkRequest request, HttpContext http, TenantProvisioning provisioning, AuditLog audit, IOptions<TeslaOptions> tesla) =>
        {
            var tenantId = http.TenantId();
            if (RegionProblem(request.Region, tesla.Value) is { } problem)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["region"] = [problem] });
            }
            var region = string.IsNullOrEmpty(request.Region) ? null : request.Region.ToLowerInvariant();
            var detail = string.Join("; ", new[] { request.Label is null ? null : $"label={request.Label}", region is null ? null : $"region={region}" }.OfType<string>());
            var actor = audit.Add("connect_link.created", tenantId, detail: detail.Length == 0 ? null : detail).Actor;
            var (link, token) = await provisioning.AddConnectLinkAsync(tenantId, request.Label, http.RequestAborted, createdBy: actor, region: region);
            return TypedResults.Created($"{http.Request.Path.Value?.TrimEnd('/')}/{link.Id}",
                new ConnectLinkResponse(link.Id, link.Label, link.CreatedAt, null, null, UrlFor(http.Request, token), Region: link.Region));
        }).Describe("createConnectLink", "Create a connect link to send to a Tesla owner (the link is in this answer only)");

        group.MapDelete("/{id:guid}", async Task<Results<NoContent, NotFound>> (Guid id, HttpContext http, BrokerDbContext db, AuditLog audit, TimeProvider time) =>
        {
            var tenantId = http.TenantId();
            var now = time.GetUtcNow();
            var revoked = await db.ConnectLinks.Where(l => l.Id == id && l.TenantId == tenantId && l.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.RevokedAt, now), http.RequestAborted);
            if (revoked == 0)
            {
                return TypedResults.NotFound();
            }
            audit.Add("connect_link.revoked", tenantId, detail: $"link={id}");
            await db.SaveChangesAsync(http.RequestAborted);
            return TypedResults.NoContent();
        }).Describe("revokeConnectLink", "Withdraw a connect link");
    }

    /// <summary>Why a link cannot be bound to <paramref name="region"/> (null: it can, or no binding was asked for).</summary>
    public static string? RegionProblem(string? region, TeslaOptions tesla) =>
        string.IsNullOrEmpty(region) ? null
        : !tesla.Regions.ContainsKey(region) ? $"Region must be one of {string.Join(", ", tesla.Regions.Keys.Order(StringComparer.Ordinal))}."
        : !tesla.RealmOfRegion(region).IsConfigured ? $"Region '{region.ToLowerInvariant()}' signs in at a Tesla app of its own, which is not configured ({tesla.RealmOfRegion(region).ConfigurationKey}:ClientId)."
        : null;

    /// <summary>The link a person opens; built from the request, which names the public host behind the proxy.</summary>
    public static string UrlFor(HttpRequest request, string token) =>
        $"{request.Scheme}://{request.Host}{request.PathBase}/connect/{token}";
}
