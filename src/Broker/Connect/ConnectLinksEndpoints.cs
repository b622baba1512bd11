using System.ComponentModel.DataAnnotations;
using Broker.Admin;
using Broker.Data;
using Broker.Hosting;
using Broker.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Broker.Connect;

public sealed record CreateConnectLinkRequest([property: MaxLength(200), SingleLine] string? Label);

/// <summary>The URL is only ever returned by the create call: afterwards only its hash exists.</summary>
public sealed record ConnectLinkResponse(
    Guid Id, string? Label, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt, string? Url,
    Guid? AccountId = null, DateTimeOffset? ExpiresAt = null);

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
                .Select(l => new ConnectLinkResponse(l.Id, l.Label, l.CreatedAt, l.RevokedAt, l.LastUsedAt, null, l.AccountId, l.ExpiresAt))
                .ToListAsync(http.RequestAborted);
            return TypedResults.Ok(links);
        });

        group.MapPost("/", async Task<Created<ConnectLinkResponse>> (CreateConnectLinkRequest request, HttpContext http, TenantProvisioning provisioning, AuditLog audit) =>
        {
            var tenantId = http.TenantId();
            var actor = audit.Add("connect_link.created", tenantId, detail: request.Label is null ? null : $"label={request.Label}").Actor;
            var (link, token) = await provisioning.AddConnectLinkAsync(tenantId, request.Label, http.RequestAborted, createdBy: actor);
            return TypedResults.Created($"{http.Request.Path.Value?.TrimEnd('/')}/{link.Id}",
                new ConnectLinkResponse(link.Id, link.Label, link.CreatedAt, null, null, UrlFor(http.Request, token)));
        });

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
        });
    }

    /// <summary>The link a person opens; built from the request, which names the public host behind the proxy.</summary>
    public static string UrlFor(HttpRequest request, string token) =>
        $"{request.Scheme}://{request.Host}{request.PathBase}/connect/{token}";
}
