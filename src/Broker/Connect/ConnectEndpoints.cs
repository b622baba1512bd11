using System.ComponentModel.DataAnnotations;
using Broker.Connect.Pages;
using Broker.Data;
using Broker.Hosting;
using Broker.Tenants;
using Broker.Tesla;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Connect;

/// <summary>
/// The browser side of "Connect Tesla": the explanation page, the start that hands over to the
/// Tesla scheme, and the result page. The callback itself is the scheme's CallbackPath.
/// </summary>
public static class ConnectEndpoints
{
    public static RouteGroupBuilder MapConnect(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/connect").WithTags("Connect").ExcludeFromDescription().RequireAntiforgeryOnEveryPost();
        group.MapGet("/result", ShowResultAsync);
        group.MapGet("/{token}", ShowConnectPageAsync);
        group.MapPost("/{token}/start", StartAsync).RequireRateLimiting(Admin.AdminExtensions.ConnectRateLimit);
        return group;
    }

    internal static async Task<IResult> ShowConnectPageAsync(
        string token, bool? missing, HttpContext http, BrokerDbContext db, IAntiforgery antiforgery, IOptions<TeslaOptions> tesla, TimeProvider time)
    {
        if (await FindLinkAsync(db, token, time, http.RequestAborted) is not { } link)
        {
            return await UnusableLinkAsync(db, token, http.RequestAborted);
        }
        var tenant = link.Tenant;
        var reconnecting = link.AccountId is { } accountId
            ? await db.TeslaAccounts.Where(a => a.Id == accountId).Select(a => a.Email ?? "your Tesla account").SingleOrDefaultAsync(http.RequestAborted)
            : null;
        var af = antiforgery.GetAndStoreTokens(http);
        return new RazorComponentResult<ConnectPage>(new
        {
            TenantName = tenant.Name,
            Scopes = ScopeCatalog.RequestedBy(tenant, tesla.Value).Select(ScopeCatalog.Describe).ToList(),
            // A bound link (a China link, a reconnect link) decides the sign-in itself; otherwise China is a choice once configured.
            OtherRealms = link.Region is null ? tesla.Value.Realms.Where(r => r.IsConfigured && r.Name != TeslaRealm.Global).Select(r => r.Name).ToList() : [],
            StartUrl = $"/connect/{token}/start",
            AntiforgeryFieldName = af.FormFieldName,
            AntiforgeryToken = af.RequestToken,
            AskMissing = missing == true,
            Reconnecting = reconnecting,
        });
    }

    /// <summary>
    /// Starts the Tesla leg. A form post (with antiforgery) so a page elsewhere cannot start it silently. The realm (the
    /// link's, else the person's choice) and the tenant's scopes go into the challenge; the realm travels in the state.
    /// </summary>
    internal static async Task<IResult> StartAsync(
        string token, [FromForm] bool? missing, [FromForm, SingleLine, MaxLength(16)] string? realm, HttpContext http, BrokerDbContext db,
        IOptions<TeslaOptions> tesla, TimeProvider time)
    {
        if (await FindLinkAsync(db, token, time, http.RequestAborted) is not { } link)
        {
            return await UnusableLinkAsync(db, token, http.RequestAborted);
        }
        var chosen = link.Region is { } region ? tesla.Value.RealmNameOf(region) : realm is null or "" ? TeslaRealm.Global : realm;
        if (!tesla.Value.Realms.Any(r => r.Name == chosen && r.IsConfigured))
        {
            return new RazorComponentResult<ConnectErrorPage>(new { Failure = ConnectFailure.RealmUnavailable, RetryUrl = $"/connect/{token}" }) { StatusCode = 400 };
        }
        var properties = new OpenIdConnectChallengeProperties
        {
            Items = { [TeslaConnect.LinkItem] = link.Id.ToString(), [TeslaConnect.LinkTokenItem] = token, [TeslaConnect.RealmItem] = chosen },
            Scope = [.. ScopeCatalog.RequestedBy(link.Tenant, tesla.Value)],
        };
        if (missing == true)
        {
            properties.Items[TeslaConnect.MissingScopesItem] = "true";
        }
        return TypedResults.Challenge(properties, [TeslaConnect.Scheme]);
    }

    internal static async Task<IResult> ShowResultAsync(
        string? r, HttpContext http, BrokerDbContext db, ConnectResultProtector results, IAntiforgery antiforgery, IOptions<TeslaOptions> tesla, TimeProvider time)
    {
        if (r is null || results.Unprotect(http.Request, r) is not { } result)
        {
            return new RazorComponentResult<ConnectErrorPage>(new { Failure = ConnectFailure.ResultUnavailable }) { StatusCode = 404 };
        }
        var account = await db.TeslaAccounts.AsNoTracking().Include(a => a.Vehicles).Include(a => a.EnergySites)
            .SingleOrDefaultAsync(a => a.Id == result.AccountId, http.RequestAborted);
        var tenant = account is null ? null : await db.Tenants.AsNoTracking().SingleAsync(t => t.Id == account.TenantId, http.RequestAborted);
        if (account is null || tenant is null)
        {
            return new RazorComponentResult<ConnectErrorPage>(new { Failure = ConnectFailure.LinkRevoked }) { StatusCode = 410 };
        }
        var af = antiforgery.GetAndStoreTokens(http);
        http.Response.Headers.CacheControl = "no-store";
        return new RazorComponentResult<ConnectResultPage>(new
        {
            Account = account,
            TenantName = tenant.Name,
            PreviousScopes = result.PreviousScopes,
            Missing = ScopeCatalog.Missing(ScopeCatalog.RequestedBy(tenant, tesla.Value), account.GrantedScopes),
            // A reconnect link is spent by its use: asking again then needs a new link from the tenant.
            AskAgainUrl = await FindLinkAsync(db, result.LinkToken, time, http.RequestAborted) is null ? null : $"/connect/{result.LinkToken}/start",
            Realm = tesla.Value.RealmNameOf(account.Region),
            RevokeUrl = tesla.Value.RealmOfRegion(account.Region).ConsentRevocationUrl(),
            AntiforgeryFieldName = af.FormFieldName,
            AntiforgeryToken = af.RequestToken,
        });
    }

    /// <summary>A link that may start a connect: known, not revoked (nor spent), not expired.</summary>
    private static async Task<ConnectLink?> FindLinkAsync(BrokerDbContext db, string token, TimeProvider time, CancellationToken ct)
    {
        var hash = SecretToken.Hash(token);
        var now = time.GetUtcNow();
        return await db.ConnectLinks.AsNoTracking().Include(l => l.Tenant)
            .SingleOrDefaultAsync(l => l.TokenHash == hash && l.RevokedAt == null && (l.ExpiresAt == null || l.ExpiresAt > now), ct);
    }

    /// <summary>
    /// Why a link cannot be used, in one piece of advice, naming the tenant that sent it: whoever holds the link was sent it by
    /// that tenant, so its name tells them nothing new and tells them whom to ask. An unknown link names no one.
    /// </summary>
    private static async Task<RazorComponentResult<ConnectErrorPage>> UnusableLinkAsync(BrokerDbContext db, string token, CancellationToken ct)
    {
        var hash = SecretToken.Hash(token);
        var link = await db.ConnectLinks.AsNoTracking().Where(l => l.TokenHash == hash)
            .Select(l => new { Tenant = l.Tenant.Name, l.AccountId, l.RevokedAt, l.LastUsedAt, l.ExpiresAt }).SingleOrDefaultAsync(ct);
        var failure = link switch
        {
            null => ConnectFailure.LinkRevoked with
            {
                HttpStatus = 404,
                Title = "This connect link is not valid",
                Message = "Broker does not know this link. Check that the whole link was copied from the message you received; if it was, "
                    + "ask whoever sent it to you for a new one. Nothing was saved.",
            },
            { AccountId: not null, RevokedAt: { } spent } when spent == link.LastUsedAt => ConnectFailure.LinkUsed with
            {
                Message = $"A reconnect link works once, and this one was used on {spent.UtcDateTime:d MMMM yyyy}. Your account stays linked to "
                    + $"{link.Tenant}. If it asks you to sign in again, ask {link.Tenant} for a new reconnect link.",
            },
            { RevokedAt: not null } => ConnectFailure.LinkRevoked with
            {
                Message = $"{link.Tenant} withdrew this link, so it no longer connects accounts. If you still want to connect, ask {link.Tenant} for a new one. Nothing was saved.",
            },
            _ => ConnectFailure.LinkExpired with
            {
                Message = $"This reconnect link expired on {link.ExpiresAt!.Value.UtcDateTime:d MMMM yyyy}. Ask {link.Tenant} for a new one. Nothing was changed.",
            },
        };
        return new(new { Failure = failure, RetryUrl = (string?)null }) { StatusCode = failure.HttpStatus };
    }
}
