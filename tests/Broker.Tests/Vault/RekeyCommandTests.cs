using System.Security.Cryptography;
using Broker.Connect;
using Broker.Tests.Infrastructure;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Vault;

public sealed class RekeyCommandTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    [Fact]
    public async Task RekeyReencryptsEveryTokenUnderTheNewestKeyWithoutChangingIt()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");
        var before = await ReadTokensAsync(Broker);

        var newKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var rotated = new BrokerApplication(Broker.ConnectionString, Simulator, new()
        {
            ["Vault:Keys:1:Id"] = "test-2", ["Vault:Keys:1:Key"] = newKey,
        });
        Assert.Equal(0, await RekeyCommand.RunAsync(rotated.Services, Ct));

        await using var db = rotated.CreateDbContext();
        Assert.All(await db.TeslaTokens.ToListAsync(Ct), t => Assert.Equal("test-2", t.KeyId));
        Assert.All(await db.TeslaTokens.ToListAsync(Ct), t => Assert.Equal("test-2", TokenVault.KeyIdOf(t.RefreshTokenCipher!)));
        // Only the new key is needed from now on: the old one can be removed from configuration.
        var newOnly = new TokenVault([("test-2", Convert.FromBase64String(newKey))]);
        Assert.Equal(before, await ReadTokensAsync(rotated, newOnly));
    }

    private async Task<List<(string Access, string Refresh)>> ReadTokensAsync(BrokerApplication app, TokenVault? vault = null)
    {
        vault ??= app.Services.GetRequiredService<TokenVault>();
        await using var db = app.CreateDbContext();
        return (await db.TeslaTokens.OrderBy(t => t.AccountId).ToListAsync(Ct))
            .Select(t => (vault.Decrypt(t.AccessTokenCipher, TokenContext.Access(t.AccountId)), vault.Decrypt(t.RefreshTokenCipher!, TokenContext.Refresh(t.AccountId))))
            .ToList();
    }
}
