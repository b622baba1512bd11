using Broker.Connect;
using Broker.Data;
using Microsoft.EntityFrameworkCore;

namespace Broker.Vault;

/// <summary>
/// <c>Broker vault rekey</c>: re-encrypts every stored token under the newest key, in batches,
/// each batch in its own transaction. Safe to interrupt and run again; afterwards older keys can
/// be removed from configuration. Runs beside live replicas: rows a token refresh holds are skipped
/// at first, then waited for, so it only returns once no row is left under an older key (a refresh
/// that fails rolls back to the old envelope, and that row must still be re-encrypted).
/// </summary>
public static class RekeyCommand
{
    public static async Task<int> RunAsync(IServiceProvider services, CancellationToken ct = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BrokerDbContext>();
        var vault = scope.ServiceProvider.GetRequiredService<TokenVault>();
        var time = scope.ServiceProvider.GetRequiredService<TimeProvider>();
        var total = 0;
        var strategy = db.Database.CreateExecutionStrategy();
        int done;
        var wait = false;
        do
        {
            done = await strategy.ExecuteAsync(async () =>
            {
                db.ChangeTracker.Clear();
                // Row locks keep a concurrent token refresh from being overwritten with an older pair. Without
                // SKIP LOCKED, Postgres waits for the refresh and re-checks key_id on the row it committed.
                await using var tx = await db.Database.BeginTransactionAsync(ct);
                var batch = await (wait
                    ? db.TeslaTokens.FromSql($"SELECT * FROM tesla_tokens WHERE key_id <> {vault.CurrentKeyId} LIMIT 100 FOR UPDATE")
                    : db.TeslaTokens.FromSql($"SELECT * FROM tesla_tokens WHERE key_id <> {vault.CurrentKeyId} LIMIT 100 FOR UPDATE SKIP LOCKED"))
                    .ToListAsync(ct);
                foreach (var token in batch)
                {
                    token.AccessTokenCipher = vault.Reseal(token.AccessTokenCipher, TokenContext.Access(token.AccountId));
                    token.RefreshTokenCipher = token.RefreshTokenCipher is { } refresh ? vault.Reseal(refresh, TokenContext.Refresh(token.AccountId)) : null;
                    token.KeyId = vault.CurrentKeyId;
                    token.UpdatedAt = time.GetUtcNow();
                }
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                return batch.Count;
            });
            total += done;
            // An empty batch while skipping only means the rest is locked: wait for those rows once more.
            (wait, done) = done == 0 && !wait ? (true, 1) : (false, done);
        }
        while (done > 0);
        var partnerKeys = await RekeyPartnerKeysAsync(db, vault, ct);
        Console.WriteLine($"Re-encrypted {total} token row(s) and {partnerKeys} partner key(s) under key '{vault.CurrentKeyId}'.");
        return 0;
    }

    /// <summary>The partner private key is sealed with the same vault (Partner/PartnerKeys.cs); a handful of rows at most.</summary>
    private static Task<int> RekeyPartnerKeysAsync(BrokerDbContext db, TokenVault vault, CancellationToken ct) =>
        db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            db.ChangeTracker.Clear();
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var keys = await db.PartnerKeys
                .FromSql($"SELECT * FROM partner_keys WHERE vault_key_id <> {vault.CurrentKeyId} FOR UPDATE")
                .ToListAsync(ct);
            foreach (var key in keys)
            {
                key.PrivateKeyCipher = vault.Reseal(key.PrivateKeyCipher, Partner.PartnerKeys.Context(key.Id));
                key.VaultKeyId = vault.CurrentKeyId;
            }
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            return keys.Count;
        });
}
