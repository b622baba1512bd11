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
        while (true)
        {
            // Row locks keep a concurrent token refresh from being overwritten with an older pair.
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var batch = await db.TeslaTokens
                .FromSql($"SELECT * FROM tesla_tokens WHERE key_id <> {vault.CurrentKeyId} LIMIT 100 FOR UPDATE SKIP LOCKED")
                .ToListAsync(ct);
            if (batch.Count == 0)
            {
                break;
            }
            foreach (var token in batch)
            {
                token.AccessTokenCipher = vault.Encrypt(vault.Decrypt(token.AccessTokenCipher, TokenContext.Access(token.AccountId)), TokenContext.Access(token.AccountId));
                if (token.RefreshTokenCipher is { } refresh)
                {
                    token.RefreshTokenCipher = vault.Encrypt(vault.Decrypt(refresh, TokenContext.Refresh(token.AccountId)), TokenContext.Refresh(token.AccountId));
                }
                token.KeyId = vault.CurrentKeyId;
                token.UpdatedAt = time.GetUtcNow();
            }
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            db.ChangeTracker.Clear();
            total += batch.Count;
        }
        Console.WriteLine($"Re-encrypted {total} token row(s) under key '{vault.CurrentKeyId}'.");
        return 0;
    }
}
