using Broker.Accounts;
using Broker.Admin;
using Broker.Connect;
using Broker.Data;
using Broker.Tesla;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Tokens;

/// <summary>
/// Hands out a usable access token for an account, refreshing it shortly before it expires or
/// once after Tesla rejected it. The rules (TESLA.md §1.5, DESIGN.md flow 2):
/// <list type="bullet">
/// <item>One refresh per account across every replica: the token row is locked
/// (<c>SELECT … FOR UPDATE</c>) for the whole exchange, and whoever waited re-reads it afterwards.</item>
/// <item>The rotated refresh token is committed before the new access token is handed out.</item>
/// <item>A refresh whose answer is lost (timeout, 5xx, garbage, a crash) changes nothing stored, so
/// the next attempt uses the same refresh token, which Tesla keeps valid for 24 hours after use.</item>
/// <item><c>login_required</c> / <c>invalid_grant</c> marks the account <c>needs_reconnect</c>; it is never retried.</item>
/// <item>The account's region decides its realm: a China account refreshes only at China's token endpoint, with China's
/// client id, and a global one never there (tesla-confirmed §2).</item>
/// </list>
/// </summary>
public sealed class TokenRefresher(
    IDbContextFactory<BrokerDbContext> contexts, TeslaAuthClient auth, TokenVault vault, TimeProvider time,
    IOptions<TokenOptions> options, IOptions<TeslaOptions> tesla, ILogger<TokenRefresher> logger)
{
    private readonly TokenOptions _options = options.Value;

    /// <param name="rejected">The access token Tesla just answered 401 to, if any: forces a refresh unless someone already replaced it.</param>
    public async Task<string> GetAccessTokenAsync(Guid accountId, CancellationToken ct, string? rejected = null)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var token = await db.TeslaTokens.AsNoTracking().SingleOrDefaultAsync(t => t.AccountId == accountId, ct)
            ?? throw new AccountNotUsableException(accountId, "has no tokens (revoked or never connected)");
        var access = vault.Decrypt(token.AccessTokenCipher, TokenContext.Access(accountId));
        return IsUsable(token, access, rejected) ? access : await RefreshAsync(accountId, rejected, ct);
    }

    private bool IsUsable(TeslaToken token, string access, string? rejected) =>
        rejected is null
            ? token.AccessTokenExpiresAt - time.GetUtcNow() > TimeSpan.FromSeconds(_options.RefreshBeforeExpirySeconds)
            : access != rejected && token.AccessTokenExpiresAt > time.GetUtcNow();

    private async Task<string> RefreshAsync(Guid accountId, string? rejected, CancellationToken ct)
    {
        // Its own context: it commits on its own, whatever the caller has pending.
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            db.ChangeTracker.Clear();
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var token = await db.TeslaTokens
                .FromSql($"SELECT * FROM tesla_tokens WHERE account_id = {accountId} FOR UPDATE")
                .SingleOrDefaultAsync(ct)
                ?? throw new AccountNotUsableException(accountId, "has no tokens (revoked or never connected)");
            var access = vault.Decrypt(token.AccessTokenCipher, TokenContext.Access(accountId));
            if (IsUsable(token, access, rejected))
            {
                return access; // another replica refreshed while we waited for the lock
            }
            if (token.RefreshTokenCipher is null)
            {
                await MarkNeedsReconnectAsync(db, accountId, "no refresh token (offline_access not granted)", ct);
                await tx.CommitAsync(ct);
                throw new AccountNotUsableException(accountId, "needs reconnecting: offline_access was not granted");
            }

            TeslaTokenResponse answer;
            var region = await db.TeslaAccounts.Where(a => a.Id == accountId).Select(a => a.Region).SingleAsync(ct);
            try
            {
                answer = await auth.RefreshAsync(tesla.Value.RealmOfRegion(region), vault.Decrypt(token.RefreshTokenCipher, TokenContext.Refresh(accountId)), ct);
            }
            catch (TeslaAuthException ex) when (ex.NeedsReconnect)
            {
                await MarkNeedsReconnectAsync(db, accountId, $"Tesla refused the refresh token ({ex.Error})", ct);
                await tx.CommitAsync(ct);
                TokenMetrics.Refreshes.WithLabels("needs_reconnect").Inc();
                throw new AccountNotUsableException(accountId, $"needs reconnecting: Tesla answered {ex.Error}", ex);
            }
            catch (TeslaAuthException)
            {
                // Nothing stored changes: the next attempt retries with the same refresh token.
                TokenMetrics.Refreshes.WithLabels("failed").Inc();
                throw;
            }

            var now = time.GetUtcNow();
            token.AccessTokenCipher = vault.Encrypt(answer.AccessToken, TokenContext.Access(accountId));
            if (answer.RefreshToken is { Length: > 0 } rotated)
            {
                token.RefreshTokenCipher = vault.Encrypt(rotated, TokenContext.Refresh(accountId));
                token.RefreshTokenIssuedAt = now;
            }
            else
            {
                // Kept, but sealed again: key_id below names the key of both envelopes, which `vault rekey` relies on.
                token.RefreshTokenCipher = vault.Reseal(token.RefreshTokenCipher, TokenContext.Refresh(accountId));
            }
            token.AccessTokenExpiresAt = now.AddSeconds(answer.ExpiresIn);
            token.KeyId = vault.CurrentKeyId;
            token.UpdatedAt = now;
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct); // the rotated refresh token is safe before anyone uses the new access token
            TokenMetrics.Refreshes.WithLabels("ok").Inc();
            logger.LogInformation("Refreshed the Tesla tokens of account {AccountId}; access valid until {ExpiresAt:O}", accountId, token.AccessTokenExpiresAt);
            return answer.AccessToken;
        });
    }

    private async Task MarkNeedsReconnectAsync(BrokerDbContext db, Guid accountId, string reason, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var tenantId = await db.TeslaAccounts.Where(a => a.Id == accountId).Select(a => a.TenantId).SingleAsync(ct);
        await db.TeslaAccounts.Where(a => a.Id == accountId && a.Status == AccountStatus.Active)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, AccountStatus.NeedsReconnect).SetProperty(a => a.UpdatedAt, now), ct);
        db.AuditEvents.Add(new AuditEvent { At = now, TenantId = tenantId, AccountId = accountId, Action = "account.needs_reconnect", Actor = "token-refresher", Detail = reason });
        await db.SaveChangesAsync(ct);
        logger.LogWarning("Account {AccountId} needs reconnecting: {Reason}", accountId, reason);
    }
}

public sealed class TokenOptions
{
    public const string SectionName = "Tokens";

    /// <summary>Refresh this long before the access token expires (Tesla's live 8 hours).</summary>
    [System.ComponentModel.DataAnnotations.Range(30, 7200)]
    public int RefreshBeforeExpirySeconds { get; set; } = 600;
}

/// <summary>The account cannot be polled until a person connects it again (or it was revoked).</summary>
public sealed class AccountNotUsableException(Guid accountId, string reason, Exception? inner = null)
    : Exception($"Account {accountId} {reason}.", inner)
{
    public Guid AccountId { get; } = accountId;
}
