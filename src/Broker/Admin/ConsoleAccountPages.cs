using Broker.Accounts;
using Broker.Admin.Pages;
using Broker.Connect;
using Broker.Data;
using Broker.People;
using Broker.Polling;
using Broker.Tesla;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using static Broker.Admin.ConsolePages;

namespace Broker.Admin;

/// <summary>
/// <c>/console/tenants/{slug}/accounts/{id}</c>: one account and whether it works. Per car and site the latest readings, the
/// last good read, the last error and the next poll; the token's expiry and whether it can refresh; the Fleet API calls and
/// their cost this month; the virtual key; the charging commands (<see cref="ConsoleVehicleCommands"/>). Then reconnect (a link
/// shown once) and revoke (asked first).
/// </summary>
internal static class ConsoleAccountPages
{
    public static void Map(RouteGroupBuilder tenant)
    {
        tenant.MapGet("/accounts/{id:guid}", AccountAsync);
        tenant.MapGet("/accounts/{id:guid}/revoke", ConfirmRevokeAsync);
        tenant.MapPost("/accounts/{id:guid}/revoke", RevokeAsync);
        tenant.MapPost("/accounts/{id:guid}/reconnect-link", ReconnectLinkAsync);
    }

    private static async Task<IResult> AccountAsync(
        string slug, Guid id, HttpContext http, TenantAccess access, BrokerDbContext db, IOptions<TeslaOptions> tesla, IOptions<Partner.PartnerOptions> partner,
        TimeProvider time, Telemetry.TelemetrySetup streaming)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        var ct = http.RequestAborted;
        var account = await db.TeslaAccounts.AsNoTracking().Include(a => a.Vehicles).Include(a => a.EnergySites)
            .SingleOrDefaultAsync(a => a.Id == id && a.TenantId == r.Tenant!.Id, ct);
        if (account is null)
        {
            return NoSuchAccount(http, slug);
        }
        var token = await db.TeslaTokens.AsNoTracking().Where(t => t.AccountId == id)
            .Select(t => new AccountPage.TokenState(t.AccessTokenExpiresAt, t.RefreshTokenCipher != null, t.RefreshTokenIssuedAt)).SingleOrDefaultAsync(ct);
        var cars = await db.VehicleReadings.AsNoTracking().Where(x => x.AccountId == id).ToDictionaryAsync(x => x.VehicleId, ct);
        var sites = await db.EnergySiteReadings.AsNoTracking().Where(x => x.AccountId == id).ToDictionaryAsync(x => x.EnergySiteId, ct);
        var streams = await db.VehicleTelemetry.AsNoTracking().Where(x => x.AccountId == id).ToDictionaryAsync(x => x.VehicleId, ct);
        // The calendar month in UTC, as the ledger counts it (ApiUsageStore).
        var now = time.GetUtcNow();
        var thisMonth = new DateOnly(now.Year, now.Month, 1);
        var usage = await db.ApiUsage.AsNoTracking().Where(u => u.AccountId == id && u.Month == thisMonth).ToListAsync(ct);
        return Page<AccountPage>(new
        {
            Frame = Frame(http), TenantSlug = r.Tenant!.Slug, TenantName = r.Tenant.Name, Account = account.ToResponse(ScopeCatalog.RequestedBy(r.Tenant, tesla.Value)),
            Token = token, Now = now, CanRevoke = r.Role == TenantRole.Admin,
            CanSendCommands = r.Role >= ConsoleVehicleCommands.Role, AllowedCommands = r.Tenant.AllowedCommands,
            CommandOutcome = ConsoleVehicleCommands.TakeOutcome(http, slug, id),
            ConsentRevocationUrl = tesla.Value.RealmOfRegion(account.Region).ConsentRevocationUrl(),
            // Pairing adds the partner key to the car: without a key there is nothing to pair yet.
            PairingUrl = await db.PartnerKeys.AnyAsync(ct) ? partner.Value.PairingUrl() : null,
            Cars = account.Vehicles.OrderBy(v => v.RetiredAt is not null).ThenBy(v => v.DisplayName).ThenBy(v => v.Vin)
                .Select(v => new AccountPage.Car(v, cars.GetValueOrDefault(v.Id), Telemetry.TelemetryResponse.Of(streams.GetValueOrDefault(v.Id), streaming, now, account.Status))).ToList(),
            Sites = account.EnergySites.OrderBy(s => s.RetiredAt is not null).ThenBy(s => s.SiteName)
                .Select(s => new AccountPage.Site(s, sites.GetValueOrDefault(s.Id))).ToList(),
            Usage = AccountPage.MonthUsage.Of(thisMonth, usage),
        });
    }

    private static async Task<IResult> ConfirmRevokeAsync(string slug, Guid id, HttpContext http, TenantAccess access, BrokerDbContext db)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        var account = await db.TeslaAccounts.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id && a.TenantId == r.Tenant!.Id, http.RequestAborted);
        return account is null ? NoSuchAccount(http, slug)
            : account.Status == AccountStatus.Revoked ? TypedResults.LocalRedirect($"/console/tenants/{slug}/accounts/{id}")
            : Confirm(http, $"Revoke access to {account.Email ?? "this Tesla account"}?",
                "Broker deletes the account's tokens at once, stops polling it and removes its series from /metrics. Its history stays, "
                + "so a reconnect link can bring it back, but only the owner can sign in at Tesla again.",
                $"/console/tenants/{slug}/accounts/{id}/revoke", "Revoke access", $"/console/tenants/{slug}/accounts/{id}");
    }

    private static async Task<IResult> RevokeAsync(string slug, Guid id, HttpContext http, TenantAccess access, AccountLifecycle lifecycle)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        return await lifecycle.RevokeAsync(r.Tenant!.Id, id, http.RequestAborted) == RevokeOutcome.NotFound
            ? NoSuchAccount(http, slug)
            : TypedResults.LocalRedirect($"/console/tenants/{slug}/accounts/{id}");
    }

    private static async Task<IResult> ReconnectLinkAsync(
        string slug, Guid id, HttpContext http, TenantAccess access, AccountLifecycle lifecycle, BrokerDbContext db, IOptions<ConsoleOptions> console)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        if (await lifecycle.CreateReconnectLinkAsync(r.Tenant!.Id, id, http.RequestAborted) is not var (_, token))
        {
            return NoSuchAccount(http, slug);
        }
        var email = await db.TeslaAccounts.Where(a => a.Id == id).Select(a => a.Email).SingleAsync(http.RequestAborted);
        return ShowOnce(http, "Reconnect link",
            $"Send this link to the owner of {email ?? "the account"}. It renews this account only (same Tesla user), keeps its vehicles and "
            + $"readings, works once, and expires in {console.Value.ReconnectLinkDays} days.",
            ConnectLinksEndpoints.UrlFor(http.Request, token), $"/console/tenants/{slug}/accounts/{id}");
    }

    private static IResult NoSuchAccount(HttpContext http, string slug) =>
        Message(http, "Not found", "This tenant has no such account.", 404, back: $"/console/tenants/{slug}");
}
