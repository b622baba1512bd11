using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Polling;

/// <summary>
/// A 401 that a refresh does not cure: Tesla answers "unknown user" (teslamotors/vehicle-command#187, the real body in
/// Fixtures/TeslaReal) to an owner who never opened the Tesla app, while refreshes keep working. Every poll once refreshed
/// (rotating the refresh token) and failed again.
/// </summary>
public sealed class RejectedTokenTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    [Fact]
    public async Task ATokenTeslaRefusesAfterARefreshIsNotRefreshedAgainAndTheAccountWaitsForAttention()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        await SetUnknownUserAsync(true);
        await ResetSimCallsAsync();

        for (var minute = 0; minute < 30; minute++)
        {
            Time.Advance(TimeSpan.FromMinutes(1));
            await PollAccountsAsync();
        }

        var calls = await SimCallsAsync("alice@example.com");
        Assert.Equal(1, calls.Where(c => c.Category == "auth").Sum(c => c.Count)); // one refresh, not one per poll
        // The refused poll, then one more try after the wait (15 min): nothing in between.
        Assert.InRange(calls.Where(c => c.Status == 401).Sum(c => c.Count), 2, 3);
        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Contains("tesla_rejects_token", account.Attention);
        Assert.Equal("unknown user", account.TeslaError);
        Assert.Equal("active", account.Status); // not a reconnect: the tokens are fine, Tesla's user is not ready
        // The same attention in /metrics, named by account, for an alert (deploy/prometheus/alerts.yml, TeslaRejectsToken).
        Assert.Matches($"tesla_broker_account_token_rejected_since_timestamp_seconds{{tenant=\"household\",account=\"{account.Id:N}\"}} \\d+\n",
            await ScrapeMetricsAsync(ApiKey));

        await SetUnknownUserAsync(false);
        Time.Advance(TimeSpan.FromHours(1));
        await PollAccountsAsync();
        var recovered = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.DoesNotContain("tesla_rejects_token", recovered.Attention);
        Assert.Null(recovered.TeslaError);
        Assert.DoesNotContain("tesla_broker_account_token_rejected_since_timestamp_seconds{", await ScrapeMetricsAsync(ApiKey));
    }

    /// <summary>Found by the outside test: a reconnect kept the old wait (up to 6 h) and the warning, and polled nothing.</summary>
    [Fact]
    public async Task AReconnectStartsTheAccountAfreshWhateverItWasWaitingFor()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await SetUnknownUserAsync(true);
        await PollAccountsAsync(); // refused after its refresh: the account now waits 15 min
        Assert.Contains("tesla_rejects_token", Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts")).Attention);
        await SetUnknownUserAsync(false);
        await ResetSimCallsAsync();

        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();

        Assert.Empty(Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts")).Attention);
        Assert.Contains(await SimCallsAsync("alice@example.com"), c => c.Category == "data" && c.Status == 200); // polled at once
    }

    /// <summary>Found by the operator-health work: consent withdrawn at Tesla between two polls crashed the poll job mid-poll.</summary>
    [Fact]
    public async Task ConsentWithdrawnAtTeslaEndsThePollCleanlyAsNeedsReconnect()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsync("/_sim/accounts/alice@example.com/revoke-consent", null, Ct)).EnsureSuccessStatusCode();
        }
        Time.Advance(TimeSpan.FromMinutes(2));

        await PollAccountsAsync(); // a 401, a refresh Tesla refuses (login_required): no exception escapes the poll

        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Equal("needs_reconnect", account.Status);
        await using var db = Broker.CreateDbContext();
        Assert.True(await db.ApiFailures.AnyAsync(f => f.Status == 401, Ct)); // the refused call was saved with the poll
    }

    [Fact]
    public async Task TheRealUnknownUserBodyIsReadAsARefusedToken()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        // Tesla's own answer, byte for byte, to the list call and to its retry after the refresh.
        await AddSimFaultAsync(new { path = "/api/1/vehicles", status = 401, count = 2, body = RealTesla.Body("error_401_unknown_user_vc187.json") });

        await PollAccountsAsync();

        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Equal("unknown user", account.TeslaError);
    }

    private async Task SetUnknownUserAsync(bool on)
    {
        using var control = Simulator.CreateControlClient();
        var response = on
            ? await control.PutAsync("/_sim/accounts/alice@example.com/unknown-user", null, Ct)
            : await control.DeleteAsync("/_sim/accounts/alice@example.com/unknown-user", Ct);
        response.EnsureSuccessStatusCode();
    }
}
