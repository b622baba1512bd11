using Broker.Admin;
using Broker.Connect;
using Broker.Data;
using Broker.People;
using Broker.Polling;
using Broker.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Quartz;

namespace Broker.Accounts;

public enum RevokeOutcome { Revoked, AlreadyRevoked, NotFound }

/// <summary>
/// What operators and tenant admins do to a linked account. Revoke forgets the tokens, stops the
/// polling and removes the series; reconnect hands the owner a single-use link that renews the same
/// account. Both are audited with who did it and from where.
/// </summary>
public sealed class AccountLifecycle(
    BrokerDbContext db, AuditLog audit, TenantProvisioning provisioning, ISchedulerFactory schedulers,
    IOptions<ConsoleOptions> console, TimeProvider time, ILogger<AccountLifecycle> logger)
{
    public async Task<RevokeOutcome> RevokeAsync(Guid tenantId, Guid accountId, CancellationToken ct)
    {
        var outcome = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            db.ChangeTracker.Clear();
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            // The token row first: a refresh in flight holds it FOR UPDATE, so the revoke waits for it and then wins.
            await db.TeslaTokens.Where(t => t.AccountId == accountId && db.TeslaAccounts.Any(a => a.Id == accountId && a.TenantId == tenantId))
                .ExecuteDeleteAsync(ct);
            var account = await db.TeslaAccounts.SingleOrDefaultAsync(a => a.Id == accountId && a.TenantId == tenantId, ct);
            if (account is null)
            {
                return RevokeOutcome.NotFound;
            }
            if (account.Status == AccountStatus.Revoked)
            {
                return RevokeOutcome.AlreadyRevoked;
            }
            var now = time.GetUtcNow();
            await db.VehicleReadings.Where(r => r.AccountId == accountId).ExecuteDeleteAsync(ct);
            await db.EnergySiteReadings.Where(r => r.AccountId == accountId).ExecuteDeleteAsync(ct);
            // Telemetry/: the cars' stream configs are deleted at Tesla by the reconcile job, with the partner token.
            await db.VehicleTelemetry.Where(t => t.AccountId == accountId).ExecuteUpdateAsync(s => s.SetProperty(t => t.DeletePending, true), ct);
            var entry = audit.Add("account.revoked", tenantId, accountId, "tokens deleted; polling stopped; series removed; stream configs to be deleted");
            (account.Status, account.RevokedAt, account.RevokedBy, account.UpdatedAt) = (AccountStatus.Revoked, now, entry.Actor, now);
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            return RevokeOutcome.Revoked;
        });
        if (outcome == RevokeOutcome.Revoked)
        {
            logger.LogInformation("Account {AccountId} of tenant {TenantId} revoked", accountId, tenantId);
            // After the commit, and only tidying: a poll starting now finds the account revoked and deletes its own job, and the
            // reconcile job sweeps up any leftover. A poll finishing at this moment deletes the same job (Quartz then fails
            // one of the two with "Unable to unschedule trigger"): the revoke stands either way.
            try
            {
                await (await schedulers.GetScheduler(ct)).DeleteJob(PollSchedule.JobKeyOf(accountId), ct);
            }
            catch (SchedulerException ex)
            {
                logger.LogWarning(ex, "Revoked account {AccountId}'s poll job was not deleted now (a poll was removing it too); the reconcile job removes any left", accountId);
            }
        }
        return outcome;
    }

    /// <summary>A single-use link that runs the connect flow again for this account only; null when there is no such account.</summary>
    public async Task<(ConnectLink Link, string Token)?> CreateReconnectLinkAsync(Guid tenantId, Guid accountId, CancellationToken ct)
    {
        var email = await db.TeslaAccounts.Where(a => a.Id == accountId && a.TenantId == tenantId).Select(a => new { a.Email, a.Region }).SingleOrDefaultAsync(ct);
        if (email is null)
        {
            return null;
        }
        var expires = time.GetUtcNow().AddDays(console.Value.ReconnectLinkDays);
        var actor = audit.Add("account.reconnect_link_created", tenantId, accountId, $"expires={expires:O}").Actor;
        return await provisioning.AddConnectLinkAsync(tenantId, $"reconnect {email.Email ?? accountId.ToString()}", ct,
            accountId: accountId, expiresAt: expires, createdBy: actor, region: email.Region); // back to the account's own Tesla sign-in
    }
}
