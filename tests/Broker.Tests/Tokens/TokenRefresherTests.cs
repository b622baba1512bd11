using System.Net.Http.Headers;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Broker.Tokens;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Tokens;

public sealed class TokenRefresherTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Alice = "alice@example.com";

    [Fact]
    public async Task TokenFarFromExpiryIsNotRefreshed()
    {
        var accountId = await ConnectAliceAsync();
        await ResetSimCallsAsync();

        await GetAccessTokenAsync(Broker, accountId);

        Assert.Equal(0, await AuthCallsAsync());
    }

    [Fact]
    public async Task TwoReplicasRefreshingTheSameAccountAtOnceMakeExactlyOneRefresh()
    {
        var accountId = await ConnectAliceAsync();
        await ExpireAccessTokenAsync(accountId);
        await using var replicaB = new BrokerApplication(Broker.ConnectionString, Simulator, time: Time);
        await ResetSimCallsAsync();
        // Tesla answers slowly, so the second replica arrives while the first holds the lock.
        await AddSimFaultAsync(new { path = "/oauth2/v3/token", delayMs = 700 });

        var tokens = await Task.WhenAll(
            Task.Run(() => GetAccessTokenAsync(Broker, accountId)),
            Task.Run(() => GetAccessTokenAsync(replicaB, accountId)));

        Assert.Equal(1, await AuthCallsAsync());
        Assert.Equal(tokens[0], tokens[1]);
        Assert.Equal(AccountStatus.Active, await StatusAsync(accountId));
    }

    [Fact]
    public async Task RefreshWhoseAnswerIsLostAfterRotationDoesNotLoseTheAccount()
    {
        var accountId = await ConnectAliceAsync();
        await ExpireAccessTokenAsync(accountId);
        var before = await RefreshCipherAsync(accountId);
        // Tesla rotates the refresh token, then the answer never arrives.
        await AddSimFaultAsync(new { path = "/oauth2/v3/token", status = 502, afterCommit = true });

        await Assert.ThrowsAsync<global::Broker.Tesla.TeslaAuthException>(() => GetAccessTokenAsync(Broker, accountId));
        Assert.Equal(before, await RefreshCipherAsync(accountId)); // nothing stored changed

        var access = await GetAccessTokenAsync(Broker, accountId); // same refresh token, inside Tesla's 24 h grace
        Assert.NotEqual(before, await RefreshCipherAsync(accountId));
        Assert.Equal(AccountStatus.Active, await StatusAsync(accountId));
        using var fleet = Simulator.CreateClient();
        fleet.BaseAddress = new Uri(SimulatorHost.NaBase);
        fleet.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", access);
        Assert.True((await fleet.GetAsync("/api/1/products", Ct)).IsSuccessStatusCode);
    }

    [Fact]
    public async Task RevokedConsentMarksTheAccountNeedsReconnectAndStopsItsPolling()
    {
        var accountId = await ConnectAliceAsync();
        await ExpireAccessTokenAsync(accountId);
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsync($"/_sim/accounts/{Alice}/revoke-consent", null, Ct)).EnsureSuccessStatusCode();
        }
        await ResetSimCallsAsync();

        await using var scope = Broker.Services.CreateAsyncScope();
        var next = await scope.ServiceProvider.GetRequiredService<global::Broker.Polling.AccountPoller>().PollAsync(accountId, null, Ct);

        Assert.Null(next); // the job is removed
        Assert.Equal(1, await AuthCallsAsync()); // tried once, never retried into a lock-out
        Assert.Equal(AccountStatus.NeedsReconnect, await StatusAsync(accountId));
        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Equal("needs_reconnect", account.Status);
        await using var db = Broker.CreateDbContext();
        Assert.Contains(await db.AuditEvents.Select(e => e.Action).ToListAsync(Ct), a => a == "account.needs_reconnect");

        await using var again = Broker.Services.CreateAsyncScope();
        Assert.Null(await again.ServiceProvider.GetRequiredService<global::Broker.Polling.AccountPoller>().PollAsync(accountId, null, Ct));
        Assert.Equal(1, await AuthCallsAsync());
    }

    [Fact]
    public async Task A401FromTeslaRefreshesOnceAndRetries()
    {
        var accountId = await ConnectAliceAsync();
        await ResetSimCallsAsync();
        await AddSimFaultAsync(new { path = "/api/1/vehicles", status = 401, count = 1 });

        await PollAccountsAsync();

        Assert.Equal(1, await AuthCallsAsync());
        await using var db = Broker.CreateDbContext();
        Assert.True(2 == await db.VehicleReadings.CountAsync(r => r.AccountId == accountId && r.DataAt != null, Ct),
            string.Join('\n', Broker.Logs.Lines.Where(l => !l.StartsWith("Debug"))));
    }

    private async Task<Guid> ConnectAliceAsync()
    {
        await NewUser().ConnectAsync(LinkToken, Alice, "alice-demo");
        await using var db = Broker.CreateDbContext();
        return await db.TeslaAccounts.Select(a => a.Id).SingleAsync(Ct);
    }

    private async Task ExpireAccessTokenAsync(Guid accountId)
    {
        await using var db = Broker.CreateDbContext();
        var soon = Time.GetUtcNow().AddSeconds(30);
        await db.TeslaTokens.Where(t => t.AccountId == accountId).ExecuteUpdateAsync(s => s.SetProperty(t => t.AccessTokenExpiresAt, soon), Ct);
    }

    private static async Task<string> GetAccessTokenAsync(BrokerApplication app, Guid accountId)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TokenRefresher>().GetAccessTokenAsync(accountId, TestContext.Current.CancellationToken);
    }

    private async Task<long> AuthCallsAsync() =>
        (await SimCallsAsync()).Where(c => c.Category == "auth").Sum(c => c.Count);

    private async Task<AccountStatus> StatusAsync(Guid accountId)
    {
        await using var db = Broker.CreateDbContext();
        return await db.TeslaAccounts.Where(a => a.Id == accountId).Select(a => a.Status).SingleAsync(Ct);
    }

    private async Task<byte[]> RefreshCipherAsync(Guid accountId)
    {
        await using var db = Broker.CreateDbContext();
        return (await db.TeslaTokens.SingleAsync(t => t.AccountId == accountId, Ct)).RefreshTokenCipher!;
    }
}
