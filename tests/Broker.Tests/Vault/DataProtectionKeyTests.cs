using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Vault;

public sealed class DataProtectionKeyTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    [Fact]
    public async Task DataProtectionKeysAreStoredSealedByTheVault()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        await using var db = Broker.CreateDbContext();
        var keys = await db.DataProtectionKeys.Select(k => k.Xml!).ToListAsync(Ct);
        Assert.NotEmpty(keys);
        Assert.All(keys, xml =>
        {
            Assert.Contains("vaultEncryptedKey", xml);
            Assert.DoesNotContain("<masterKey", xml);
        });
        Assert.DoesNotContain(Broker.Logs.Lines, l => l.Contains("No XML encryptor configured"));
    }
}
