using Broker.Accounts;
using Broker.Admin;
using Broker.Data;
using Broker.Polling;
using Broker.Tesla;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Broker.Connect;

/// <summary>
/// Finishes a connect once Tesla has handed over tokens: asks Tesla for the user's region (which must belong to the
/// realm the user signed in at), email (only with <c>user_data</c> and no validated id_token) and products, then
/// stores the account, its devices and its encrypted tokens in one transaction. Every Tesla call happens before the
/// first write, so a failure stores nothing.
/// </summary>
public sealed partial class ConnectService(
    BrokerDbContext db,
    TeslaFleetClient fleet,
    FleetUsage usage,
    TokenVault vault,
    AuditLog audit,
    TeslaAppGuard apps,
    IOptions<TeslaOptions> options,
    TimeProvider time,
    ILogger<ConnectService> logger)
{
    private readonly TeslaOptions _tesla = options.Value;

    /// <summary>Links (or re-links) the account; says which scopes it had before, so the result page can say what changed.</summary>
    public async Task<ConnectOutcome> CompleteAsync(Guid linkId, TeslaRealm realm, TeslaIdentity identity, TeslaTokenResponse tokens, string audience, CancellationToken ct)
    {
        var subject = identity.Subject;
        var link = await db.ConnectLinks.AsNoTracking().SingleOrDefaultAsync(l => l.Id == linkId, ct);
        if (link is null || link.RevokedAt is not null)
        {
            throw new ConnectException(ConnectFailure.LinkRevoked, "The connect link was revoked during the sign-in.");
        }
        if (link.ExpiresAt is { } expires && expires <= time.GetUtcNow())
        {
            throw new ConnectException(ConnectFailure.LinkExpired, "The reconnect link expired during the sign-in.");
        }
        // A reconnect link re-links one account: another Tesla user signing in through it changes nothing.
        if (link.AccountId is { } target
            && await db.TeslaAccounts.Where(a => a.Id == target).Select(a => a.Subject).SingleOrDefaultAsync(ct) != subject)
        {
            throw new ConnectException(ConnectFailure.WrongTeslaAccount, "A different Tesla user signed in through a reconnect link.");
        }

        // Tesla documents `scp` in the access token as the list of granted scopes (TESLA.md §1.8).
        var scopes = GrantedScopes(tokens.AccessToken).Order(StringComparer.Ordinal).ToArray();
        // Known before any write, so the calls below are counted against the right account.
        var accountId = await db.TeslaAccounts.Where(a => a.TenantId == link.TenantId && a.Subject == subject)
            .Select(a => (Guid?)a.Id).SingleOrDefaultAsync(ct) ?? Guid.CreateVersion7();
        var userRegion = await fleet.GetRegionAsync(new FleetAccount(link.TenantId, accountId, audience, tokens.AccessToken), ct);
        var region = userRegion.Region.ToLowerInvariant();
        // Only ever send tokens to a configured Fleet API host of the realm that issued them, whatever the answer names.
        var baseUrl = (realm.Regions.Contains(region) ? _tesla.RegionBaseUrl(region) : null)
            ?? throw new ConnectException(ConnectFailure.TeslaRefused, $"Tesla placed the account in region '{region}', which is not configured in the {realm.Name} realm.");
        var caller = new FleetAccount(link.TenantId, accountId, baseUrl, tokens.AccessToken);
        var email = identity.Email ?? (scopes.Contains("user_data") ? await EmailAsync(caller, ct) : null);
        IReadOnlyList<Product> products = scopes.Contains("vehicle_device_data") || scopes.Contains("energy_device_data")
            ? await fleet.GetProductsAsync(caller, ct)
            : [];

        var account = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            db.ChangeTracker.Clear();
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var (saved, previous) = await UpsertAccountAsync(link, accountId, subject, email, region, baseUrl, scopes, ct);
            await StoreTokensAsync(saved.Id, tokens, ct);
            AccountDevices.Reconcile(db, saved, products, time.GetUtcNow()); // a reconnect also retires cars the account lost
            await StartAfreshAsync(saved, scopes, ct);
            await apps.LiftedAsync(region, ct); // Tesla just answered this app: whatever disabled it is over
            audit.Add(previous is null ? "account.connected" : "account.reconnected", link.TenantId, saved.Id,
                $"region={region}; scopes={string.Join(' ', scopes)}; vehicles={saved.Vehicles.Count(v => v.RetiredAt is null)}; energy_sites={saved.EnergySites.Count(s => s.RetiredAt is null)}",
                actor: $"{(link.AccountId is null ? "connect-link" : "reconnect-link")}:{link.Id}");
            // The link is spent (a reconnect link) or marked used in this transaction, and only while still usable: the row
            // lock makes a second callback of the same link wait here and then find it spent, so it fails and writes nothing.
            var now = time.GetUtcNow();
            var usable = await db.ConnectLinks
                .Where(l => l.Id == link.Id && l.RevokedAt == null && (l.ExpiresAt == null || l.ExpiresAt > now))
                .ExecuteUpdateAsync(s => s
                    .SetProperty(l => l.LastUsedAt, now)
                    .SetProperty(l => l.RevokedAt, l => l.AccountId == null ? l.RevokedAt : now), ct);
            if (usable == 0)
            {
                throw new ConnectException(link.AccountId is null ? ConnectFailure.LinkRevoked : ConnectFailure.LinkUsed,
                    "The connect link was revoked or spent by another sign-in while this one was finishing.");
            }
            await db.SaveChangesAsync(ct);
            await usage.FlushAsync(db, ct);
            await tx.CommitAsync(ct);
            return new ConnectOutcome(saved, previous);
        });
        logger.LogInformation("Linked Tesla account {AccountId} to tenant {TenantId} ({Region}, {Vehicles} vehicles, {Sites} energy sites)",
            account.Account.Id, link.TenantId, region, account.Account.Vehicles.Count, account.Account.EnergySites.Count);
        return account;
    }

    private async Task<(TeslaAccount, string[]? PreviousScopes)> UpsertAccountAsync(
        ConnectLink link, Guid accountId, string subject, string? email, string region, string baseUrl, string[] scopes, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var account = await db.TeslaAccounts.Include(a => a.Vehicles).Include(a => a.EnergySites)
            .SingleOrDefaultAsync(a => a.TenantId == link.TenantId && a.Subject == subject, ct);
        var previous = account?.GrantedScopes;
        account ??= db.TeslaAccounts.Add(new TeslaAccount
        {
            Id = accountId, TenantId = link.TenantId, Subject = subject, Region = region, FleetApiBaseUrl = baseUrl,
        }).Entity;
        account.Email = email ?? account.Email;
        account.Region = region;
        account.FleetApiBaseUrl = baseUrl;
        account.GrantedScopes = scopes;
        account.Status = AccountStatus.Active;
        account.RevokedAt = null;
        account.RevokedBy = null;
        account.ConnectedAt = now;
        account.UpdatedAt = now;
        account.ConnectLinkId = link.AccountId is null ? link.Id : account.ConnectLinkId;
        return (account, previous);
    }

    /// <summary>
    /// A (re)connect starts the account afresh: Tesla's refusal of the old token and the waits set for it are over, every
    /// car and site is due at once (a back-off or a missing scope may have put them hours out), and what a scope the owner
    /// no longer grants covered leaves storage, so /metrics stops showing it at once (location without vehicle_location).
    /// </summary>
    private async Task StartAfreshAsync(TeslaAccount account, string[] scopes, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        (account.TokenRejectedSince, account.TokenRejectedError, account.TokenRetryAt) = (null, null, null);
        var cars = db.VehicleReadings.Where(r => r.AccountId == account.Id);
        if (!scopes.Contains("vehicle_device_data"))
        {
            await cars.ExecuteDeleteAsync(ct);
        }
        else
        {
            await cars.ExecuteUpdateAsync(s => s.SetProperty(r => r.NextPollAt, now).SetProperty(r => r.ConsecutiveFailures, 0), ct);
            if (!scopes.Contains("vehicle_location"))
            {
                await cars.ExecuteUpdateAsync(s => s
                    .SetProperty(r => r.Latitude, (double?)null).SetProperty(r => r.Longitude, (double?)null).SetProperty(r => r.Heading, (double?)null), ct);
            }
        }
        var sites = db.EnergySiteReadings.Where(r => r.AccountId == account.Id);
        await (scopes.Contains("energy_device_data")
            ? sites.ExecuteUpdateAsync(s => s.SetProperty(r => r.NextPollAt, now).SetProperty(r => r.ConsecutiveFailures, 0), ct)
            : sites.ExecuteDeleteAsync(ct));
    }

    /// <summary>The owner's email from <c>/api/1/users/me</c>; a refusal there costs the email, never the connect.</summary>
    private async Task<string?> EmailAsync(FleetAccount caller, CancellationToken ct)
    {
        try
        {
            return Hosting.TextInput.Clean((await fleet.GetMeAsync(caller, ct))?.Email);
        }
        catch (TeslaApiException ex)
        {
            logger.LogWarning("Tesla's users/me answered {Status} {Error}; the account's email stays unknown", ex.Status, ex.Error);
            return null;
        }
    }
}

/// <summary>The linked account, and the scopes it had before this connect (null when it is new).</summary>
public sealed record ConnectOutcome(TeslaAccount Account, string[]? PreviousScopes);

/// <summary>Associated data binding each token envelope to its account and kind.</summary>
public static class TokenContext
{
    public static string Access(Guid accountId) => $"tesla-access-token:{accountId:N}";
    public static string Refresh(Guid accountId) => $"tesla-refresh-token:{accountId:N}";
}
