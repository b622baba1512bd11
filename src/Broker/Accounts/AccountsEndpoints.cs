using Broker.Admin;
using Broker.Connect;
using Broker.Data;
using Broker.People;
using Broker.Tenants;
using Broker.Tesla;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Accounts;

/// <summary>
/// One linked Tesla account. <c>Attention</c> lists what keeps it from working fully:
/// <c>needs_reconnect</c>, <c>revoked</c>, <c>missing_scopes</c>, <c>virtual_key_not_paired</c>, <c>tesla_rejects_token</c>
/// (Tesla refuses its token although it refreshes; <c>TeslaError</c> says what Tesla said, e.g. "unknown user").
/// Vehicles and sites no longer on the account at Tesla carry <c>RetiredAt</c> and are not polled.
/// </summary>
public sealed record AccountResponse(
    Guid Id, string Status, string[] Attention, string? Email, string Region, string[] GrantedScopes, string[] MissingScopes,
    DateTimeOffset ConnectedAt, DateTimeOffset? RevokedAt, string? RevokedBy, VehicleResponse[] Vehicles, EnergySiteResponse[] EnergySites,
    string? TeslaError = null);

/// <summary>A car; <c>Telemetry</c> says whether it streams (Fleet Telemetry) or is polled, and why.</summary>
public sealed record VehicleResponse(string Vin, string? DisplayName, string? State, DateTimeOffset LastSeenAt, bool? KeyPaired, DateTimeOffset? RetiredAt = null,
    Telemetry.TelemetryResponse? Telemetry = null);

public sealed record EnergySiteResponse(long EnergySiteId, string? SiteName, string? ResourceType, bool HasBattery, bool HasSolar, DateTimeOffset? RetiredAt = null);

/// <summary>After a revoke: the broker has forgotten the tokens; this is where the owner withdraws consent at Tesla too.</summary>
public sealed record RevokeResponse(Guid Id, string Status, string TeslaConsentRevocationUrl);

public sealed record ReconnectLinkResponse(Guid Id, Guid AccountId, DateTimeOffset ExpiresAt, string Url);

public static class AccountsEndpoints
{
    public static void MapAccounts(RouteGroupBuilder tenant)
    {
        var group = tenant.MapGroup("/accounts").WithTags("Accounts");

        group.MapGet("/", async Task<Ok<AccountResponse[]>> (HttpContext http, BrokerDbContext db, IOptions<TeslaOptions> tesla, Telemetry.TelemetrySetup streaming, TimeProvider time) =>
        {
            var tenantId = http.TenantId();
            var requested = await RequestedScopesAsync(db, tenantId, tesla.Value, http.RequestAborted);
            var accounts = await db.TeslaAccounts.AsNoTracking()
                .Where(a => a.TenantId == tenantId)
                .Include(a => a.Vehicles).Include(a => a.EnergySites)
                .OrderBy(a => a.Id)   // first linked first (UUIDv7), the same in every view, whatever reconnects since
                .ToListAsync(http.RequestAborted);
            var telemetry = await db.VehicleTelemetry.AsNoTracking().Where(t => t.TenantId == tenantId).ToDictionaryAsync(t => t.VehicleId, http.RequestAborted);
            return TypedResults.Ok(accounts.Select(a => a.ToResponse(requested, v => Telemetry.TelemetryResponse.Of(telemetry.GetValueOrDefault(v.Id), streaming, time.GetUtcNow(), a.Status))).ToArray());
        }).Describe("listAccounts", "List the tenant's Tesla accounts, with their vehicles, energy sites and what needs attention");

        group.MapGet("/{id:guid}", async Task<Results<Ok<AccountResponse>, NotFound>> (
            Guid id, HttpContext http, BrokerDbContext db, IOptions<TeslaOptions> tesla, Telemetry.TelemetrySetup streaming, TimeProvider time) =>
        {
            var tenantId = http.TenantId();
            var account = await db.TeslaAccounts.AsNoTracking().Include(a => a.Vehicles).Include(a => a.EnergySites)
                .SingleOrDefaultAsync(a => a.Id == id && a.TenantId == tenantId, http.RequestAborted);
            if (account is null)
            {
                return TypedResults.NotFound();
            }
            var telemetry = await db.VehicleTelemetry.AsNoTracking().Where(t => t.AccountId == id).ToDictionaryAsync(t => t.VehicleId, http.RequestAborted);
            return TypedResults.Ok(account.ToResponse(await RequestedScopesAsync(db, tenantId, tesla.Value, http.RequestAborted),
                v => Telemetry.TelemetryResponse.Of(telemetry.GetValueOrDefault(v.Id), streaming, time.GetUtcNow(), account.Status)));
        }).Describe("getAccount", "Get one Tesla account");

        // The consent page of the account's own realm: a China account withdraws its consent at auth.tesla.cn.
        group.MapPost("/{id:guid}/revoke", async Task<Results<Ok<RevokeResponse>, NotFound>> (
            Guid id, HttpContext http, AccountLifecycle lifecycle, BrokerDbContext db, IOptions<TeslaOptions> tesla) =>
            await lifecycle.RevokeAsync(http.TenantId(), id, http.RequestAborted) == RevokeOutcome.NotFound
                ? TypedResults.NotFound()
                : TypedResults.Ok(new RevokeResponse(id, "revoked", tesla.Value.RealmOfRegion(
                    await db.TeslaAccounts.Where(a => a.Id == id).Select(a => a.Region).SingleAsync(http.RequestAborted)).ConsentRevocationUrl())))
            .Describe("revokeAccount", "Revoke an account: delete its tokens, stop polling, drop its series from /metrics")
            .RequireTenantRole(TenantRole.Admin);

        group.MapPost("/{id:guid}/reconnect-links", async Task<Results<Created<ReconnectLinkResponse>, NotFound>> (
            Guid id, HttpContext http, AccountLifecycle lifecycle) =>
        {
            if (await lifecycle.CreateReconnectLinkAsync(http.TenantId(), id, http.RequestAborted) is not var (link, token))
            {
                return TypedResults.NotFound();
            }
            return TypedResults.Created($"{http.Request.Path}/{link.Id}",
                new ReconnectLinkResponse(link.Id, id, link.ExpiresAt!.Value, ConnectLinksEndpoints.UrlFor(http.Request, token)));
        }).Describe("createReconnectLink", "Create a one-use reconnect link for an account (shown once)");
    }

    /// <summary>What connects through this tenant ask for now (<see cref="ScopeCatalog.RequestedBy"/>): the yardstick of missing scopes.</summary>
    public static async Task<IReadOnlyList<string>> RequestedScopesAsync(BrokerDbContext db, Guid tenantId, TeslaOptions tesla, CancellationToken ct) =>
        ScopeCatalog.RequestedBy(await db.Tenants.AsNoTracking().SingleAsync(t => t.Id == tenantId, ct), tesla);

    /// <summary>
    /// What a person must do about an account; empty when nothing. A revoked account says only that: its scopes, keys and
    /// tokens are moot until a reconnect, which is the one thing to do.
    /// </summary>
    public static string[] Attention(this TeslaAccount a, IEnumerable<string> requestedScopes) => a.Status == AccountStatus.Revoked ? ["revoked"] :
    [
        .. a.Status == AccountStatus.NeedsReconnect ? ["needs_reconnect"] : Array.Empty<string>(),
        .. ScopeCatalog.Missing(requestedScopes, a.GrantedScopes).Any() ? ["missing_scopes"] : Array.Empty<string>(),
        .. a.Vehicles.Any(v => v.KeyPaired == false && v.RetiredAt is null) ? ["virtual_key_not_paired"] : Array.Empty<string>(),
        .. a.TokenRejectedSince is not null ? ["tesla_rejects_token"] : Array.Empty<string>(),
    ];

    public static string StatusName(this AccountStatus status) =>
        status switch { AccountStatus.Active => "active", AccountStatus.NeedsReconnect => "needs_reconnect", _ => "revoked" };

    public static AccountResponse ToResponse(this TeslaAccount a, IEnumerable<string> requestedScopes,
        Func<Vehicle, Telemetry.TelemetryResponse>? telemetry = null) => new(
        a.Id,
        a.Status.StatusName(),
        a.Attention(requestedScopes),
        a.Email, a.Region, a.GrantedScopes,
        ScopeCatalog.Missing(requestedScopes, a.GrantedScopes).Select(s => s.Scope).ToArray(),
        a.ConnectedAt, a.RevokedAt, a.RevokedBy,
        a.Vehicles.OrderBy(v => v.Vin).Select(v => new VehicleResponse(v.Vin, v.DisplayName, v.State, v.LastSeenAt, v.KeyPaired, v.RetiredAt, telemetry?.Invoke(v))).ToArray(),
        a.EnergySites.OrderBy(s => s.EnergySiteId).Select(s => new EnergySiteResponse(s.EnergySiteId, s.SiteName, s.ResourceType, s.HasBattery, s.HasSolar, s.RetiredAt)).ToArray(),
        a.TokenRejectedSince is null ? null : a.TokenRejectedError ?? "refused");
}
