using System.Security.Cryptography;
using Broker.Accounts;
using Broker.Partner;
using Broker.Tests.Infrastructure;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Vault;

/// <summary>
/// Key rotation the way an operator runs it: every replica restarted with the old and the new key
/// (the new one last), <c>vault rekey</c> run while they poll and refresh, then the old key removed.
/// </summary>
public sealed class RekeyUnderLoadTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const int Rounds = 5;
    private static readonly string NewKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    [Fact]
    public async Task RekeyDuringRefreshesLeavesEveryTokenUnderTheNewKeyUsableAfterTheOldKeyIsRemoved()
    {
        var (_, _, otherLink) = await SeedTenantAsync("neighbours", "The Neighbours");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");
        await NewUser().ConnectAsync(otherLink, "alice@example.com", "alice-demo"); // a second grant, its own refresh chain
        await using (var scope = Broker.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<PartnerKeys>().GenerateAsync(Ct);
            await scope.ServiceProvider.GetRequiredService<global::Broker.Data.BrokerDbContext>().SaveChangesAsync(Ct);
        }
        var accounts = await AccountIdsAsync();
        Assert.Equal(3, accounts.Count);
        await ResetSimCallsAsync();

        await using var rotated = new BrokerApplication(Broker.ConnectionString, Simulator, new()
        {
            ["Vault:Keys:1:Id"] = "test-2", ["Vault:Keys:1:Key"] = NewKey,
        }, Time);

        // Round 1 is the race: two refreshes hold their token rows (Tesla answers after 3 s, one of them
        // with a 503), and rekey starts while they do. The failed refresh leaves its row under the old key.
        Time.Advance(TimeSpan.FromHours(8));
        await AddSimFaultAsync(new { path = "/oauth2/v3/token", delayMs = 3000, status = 503, count = 1 });
        await AddSimFaultAsync(new { path = "/oauth2/v3/token", delayMs = 3000, count = 1 });
        var polls = accounts.Take(2).Select(id => PollAsync(rotated, id)).ToList();
        await WaitUntilAsync(async () => await PendingFaultsAsync() == 0, "both refreshes reached Tesla");
        var rekey = RekeyCommand.RunAsync(rotated.Services, Ct);
        polls.Add(PollAsync(rotated, accounts[2]));
        await Task.WhenAll([.. polls, rekey]);
        Assert.Equal(0, await rekey);
        await AssertEveryRowUnderAsync("test-2");

        // Then refreshes keep coming: every round each account's poll races a second refresh of the same
        // token (another replica's), and only one of them may reach Tesla.
        for (var round = 2; round <= Rounds; round++)
        {
            Time.Advance(TimeSpan.FromHours(8));
            await Task.WhenAll(accounts.SelectMany(id => new[] { PollAsync(rotated, id), AccessTokenAsync(rotated, id) }));
        }

        await AssertEveryRowUnderAsync("test-2");
        await AssertAllActiveAsync(rotated);
        // Not lost: every rotation Tesla handed out was committed. Not doubled: one refresh per account per round.
        var committed = accounts.ToDictionary(id => id, id => rotated.Logs.Lines.Count(l => l.Contains($"Refreshed the Tesla tokens of account {id}")));
        var answered = (await SimCallsAsync()).Where(c => c.Category == "auth" && c.Status == 200).Sum(c => c.Count);
        Assert.Equal(answered, committed.Values.Sum());
        Assert.Equal(accounts.Count * Rounds - 1, committed.Values.Sum()); // all but the one Tesla answered 503
        Assert.All(committed.Values, n => Assert.InRange(n, Rounds - 1, Rounds));

        // The old key leaves configuration: a restarted broker holds only test-2 and everything still works.
        await using var newOnly = new BrokerApplication(Broker.ConnectionString, Simulator, new()
        {
            ["Vault:Keys:0:Id"] = "test-2", ["Vault:Keys:0:Key"] = NewKey,
        }, Time);
        Time.Advance(TimeSpan.FromHours(8));
        await ResetSimCallsAsync();
        foreach (var id in accounts)
        {
            Assert.NotNull(await PollAsync(newOnly, id)); // a refresh, then the account's calls to Tesla
        }
        var calls = await SimCallsAsync();
        Assert.Equal(accounts.Count, calls.Where(c => c.Category == "auth" && c.Status == 200).Sum(c => c.Count));
        Assert.All(new[] { "alice@example.com", "bob@example.com" }, email =>
            Assert.True(calls.Any(c => c.Account == email && c.Category != "auth" && c.Status == 200), $"{email}'s devices were read"));
        await AssertAllActiveAsync(newOnly);
        await using (var db = newOnly.CreateDbContext())
        {
            Assert.All(await db.VehicleReadings.ToListAsync(Ct), r => Assert.Equal((0, null), (r.ConsecutiveFailures, r.LastError)));
        }
        await using (var scope = newOnly.Services.CreateAsyncScope())
        {
            using var partnerKey = await scope.ServiceProvider.GetRequiredService<PartnerKeys>().LoadPrivateKeyAsync(Ct);
            Assert.NotNull(partnerKey);
        }
        Assert.Equal(System.Net.HttpStatusCode.OK, (await newOnly.CreateClient().GetAsync("/readyz", Ct)).StatusCode);
    }

    private async Task<DateTimeOffset?> PollAsync(BrokerApplication app, Guid accountId)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<global::Broker.Polling.AccountPoller>().PollAsync(accountId, null, Ct);
    }

    private static async Task<DateTimeOffset?> AccessTokenAsync(BrokerApplication app, Guid accountId)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<global::Broker.Tokens.TokenRefresher>().GetAccessTokenAsync(accountId, Ct);
        return null;
    }

    private async Task<List<Guid>> AccountIdsAsync()
    {
        await using var db = Broker.CreateDbContext();
        return await db.TeslaAccounts.OrderBy(a => a.ConnectedAt).Select(a => a.Id).ToListAsync(Ct);
    }

    private async Task AssertEveryRowUnderAsync(string keyId)
    {
        await using var db = Broker.CreateDbContext();
        var rows = await db.TeslaTokens.ToListAsync(Ct);
        Assert.All(rows, t => Assert.Equal((keyId, keyId, keyId), (t.KeyId, TokenVault.KeyIdOf(t.AccessTokenCipher), TokenVault.KeyIdOf(t.RefreshTokenCipher!))));
        Assert.All(await db.PartnerKeys.ToListAsync(Ct), k => Assert.Equal((keyId, keyId), (k.VaultKeyId, TokenVault.KeyIdOf(k.PrivateKeyCipher))));
    }

    private static async Task AssertAllActiveAsync(BrokerApplication app)
    {
        await using var db = app.CreateDbContext();
        Assert.All(await db.TeslaAccounts.ToListAsync(Ct), a => Assert.Equal(AccountStatus.Active, a.Status));
    }

    private async Task<int> PendingFaultsAsync()
    {
        using var control = Simulator.CreateControlClient();
        return (await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<List<object>>(control, "/_sim/faults", Ct))!.Count;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"gave up waiting: {what}");
            await Task.Delay(50, Ct);
        }
    }
}
