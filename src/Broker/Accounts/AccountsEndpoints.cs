using Broker.Connect;
using Broker.Data;
using Broker.Tenants;
using Broker.Tesla;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Accounts;

public sealed record AccountResponse(
    Guid Id, string Status, string? Email, string Region, string[] GrantedScopes, string[] MissingScopes,
    DateTimeOffset ConnectedAt, VehicleResponse[] Vehicles, EnergySiteResponse[] EnergySites);

public sealed record VehicleResponse(string Vin, string? DisplayName, string? State, DateTimeOffset LastSeenAt);

public sealed record EnergySiteResponse(long EnergySiteId, string? SiteName, string? ResourceType, bool HasBattery, bool HasSolar);

public static class AccountsEndpoints
{
    public static RouteGroupBuilder MapAccounts(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/v1/accounts").WithTags("Accounts").RequireAuthorization(TenancyExtensions.TenantPolicy);

        group.MapGet("/", async Task<Ok<AccountResponse[]>> (HttpContext http, BrokerDbContext db, IOptions<TeslaOptions> tesla) =>
        {
            var tenantId = http.User.TenantId();
            var accounts = await db.TeslaAccounts.AsNoTracking()
                .Where(a => a.TenantId == tenantId)
                .Include(a => a.Vehicles).Include(a => a.EnergySites)
                .OrderBy(a => a.ConnectedAt)
                .ToListAsync(http.RequestAborted);
            return TypedResults.Ok(accounts.Select(a => a.ToResponse(tesla.Value.Scopes)).ToArray());
        });

        return group;
    }

    public static AccountResponse ToResponse(this TeslaAccount a, IEnumerable<string> requestedScopes) => new(
        a.Id,
        a.Status switch { AccountStatus.Active => "active", AccountStatus.NeedsReconnect => "needs_reconnect", _ => "revoked" },
        a.Email, a.Region, a.GrantedScopes,
        ScopeCatalog.Missing(requestedScopes, a.GrantedScopes).Select(s => s.Scope).ToArray(),
        a.ConnectedAt,
        a.Vehicles.OrderBy(v => v.Vin).Select(v => new VehicleResponse(v.Vin, v.DisplayName, v.State, v.LastSeenAt)).ToArray(),
        a.EnergySites.OrderBy(s => s.EnergySiteId).Select(s => new EnergySiteResponse(s.EnergySiteId, s.SiteName, s.ResourceType, s.HasBattery, s.HasSolar)).ToArray());
}
