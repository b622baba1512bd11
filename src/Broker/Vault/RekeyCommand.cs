using Broker.Connect;
using Broker.Data;
using Microsoft.EntityFrameworkCore;

namespace Broker.Vault;

/// <summary>
/// <c>Broker vault rekey</c>: re-encrypts every stored token under the newest key, in batches,
/// each batch in its own transaction. Safe to interrupt and run again; afterwards older keys can
/// be removed from configuration.
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
        do
        {
            done = await strategy.ExecuteAsync(async () =>
            {
                db.ChangeTracker.Clear();
                // Row locks keep a concurrent token refresh from being overwritten with an older pair.
                await using var tx = await db.Database.BeginTransactionAsync(ct);
                var batch = await db.TeslaTokens
                    .FromSql($"SELECT * FROM tesla_tokens WHERE key_id <> {vault.CurrentKeyId} LIMIT 100 FOR UPDATE SKIP LOCKED")
                    .ToListAsync(ct);
                foreach (var token in batch)
                {
                    token.AccessTokenCipher = Reseal(vault, token.AccessTokenCipher, TokenContext.Access(token.AccountId));
                    token.RefreshTokenCipher = token.RefreshTokenCipher is { } refresh ? Reseal(vault, refresh, TokenContext.Refresh(token.AccountId)) : null;
                    token.KeyId = vault.CurrentKeyId;
                    token.UpdatedAt = time.GetUtcNow();
                }
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                return batch.Count;
            });
            total += done;
        }
        while (done > 0);
        Console.WriteLine($"Re-encrypted {total} token row(s) under key '{vault.CurrentKeyId}'.");
        return 0;
    }

    private static byte[] Reseal(TokenVault vault, byte[] envelope, string context) =>
        vault.Encrypt(vault.Decrypt(envelope, context), context);
}
