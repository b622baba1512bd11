using System.ComponentModel.DataAnnotations;
using Broker.Admin;
using Broker.Data;
using Broker.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Broker.Connect;

public sealed record CreateConnectLinkRequest([property: MaxLength(200)] string? Label);

/// <summary>The URL is only ever returned by the create call: afterwards only its hash exists.</summary>
public sealed record ConnectLinkResponse(Guid Id, string? Label, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt, string? Url);

/// <summary>Tenant API for connect links: create one per person or campaign, revoke when done.</summary>
public static class ConnectLinksEndpoints
{
    public static RouteGroupBuilder MapConnectLinks(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/v1/connect-links").WithTags("Connect links").RequireAuthorization(TenancyExtensions.TenantPolicy);

        group.MapGet("/", async (HttpContext http, BrokerDbContext db) =>
        {
            var tenantId = http.User.TenantId();
            var links = await db.ConnectLinks.AsNoTracking().Where(l => l.TenantId == tenantId).OrderBy(l => l.CreatedAt)
                .Select(l => new ConnectLinkResponse(l.Id, l.Label, l.CreatedAt, l.RevokedAt, l.LastUsedAt, null))
                .ToListAsync(http.RequestAborted);
            return TypedResults.Ok(links);
        });

        group.MapPost("/", async Task<Created<ConnectLinkResponse>> (CreateConnectLinkRequest request, HttpContext http, TenantProvisioning provisioning) =>
        {
            var (link, token) = await provisioning.AddConnectLinkAsync(http.User.TenantId(), request.Label, http.RequestAborted);
            var url = $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}/connect/{token}";
            return TypedResults.Created($"/api/v1/connect-links/{link.Id}",
                new ConnectLinkResponse(link.Id, link.Label, link.CreatedAt, null, null, url));
        });

        group.MapDelete("/{id:guid}", async Task<Results<NoContent, NotFound>> (Guid id, HttpContext http, BrokerDbContext db, TimeProvider time) =>
        {
            var tenantId = http.User.TenantId();
            var now = time.GetUtcNow();
            var revoked = await db.ConnectLinks.Where(l => l.Id == id && l.TenantId == tenantId && l.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.RevokedAt, now), http.RequestAborted);
            if (revoked == 0)
            {
                return TypedResults.NotFound();
            }
            db.AuditEvents.Add(new AuditEvent { At = now, TenantId = tenantId, Action = "connect_link.revoked", Actor = "tenant-api", Detail = $"link={id}" });
            await db.SaveChangesAsync(http.RequestAborted);
            return TypedResults.NoContent();
        });

        return group;
    }
}
