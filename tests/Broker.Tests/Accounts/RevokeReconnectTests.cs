using System.Net;
using System.Net.Http.Json;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Accounts;

/// <summary>Revoke and reconnect over the API, through the real pipeline, Postgres and the simulator.</summary>
public sealed class RevokeReconnectTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private sealed record Revoked(Guid Id, string Status, string TeslaConsentRevocationUrl);
    private sealed record ReconnectLink(Guid Id, Guid AccountId, DateTimeOffset ExpiresAt, string Url);

    [Fact]
    public async Task RevokeDeletesTokensStopsPollingRemovesSeriesAndIsAudited()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo", ["openid", "offline_access", "vehicle_device_data", "vehicle_location"]);
        await PollAccountsAsync();
        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Contains("tesla_vehicle_battery_level_percent{", await ScrapeMetricsAsync(ApiKey));

        var response = await ApiClient(BrokerApplication.OperatorToken).PostAsync($"/api/v1/tenants/household/accounts/{account.Id}/revoke", null, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var revoked = (await response.Content.ReadFromJsonAsync<Revoked>(Ct))!;
        Assert.Equal("revoked", revoked.Status);
        // One thing to do about it, whatever else was amiss before (the simulator's cars have no virtual key).
        Assert.Equal(["missing_scopes"], account.Attention);   // no energy data shared
        Assert.Equal(["revoked"], Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts")).Attention);
        Assert.Equal($"{Simulator.AuthBaseUrl}/user/revoke/consent?revoke_client_id={SimulatorHost.ClientId}", revoked.TeslaConsentRevocationUrl);
        await using (var db = Broker.CreateDbContext())
        {
            Assert.False(await db.TeslaTokens.AnyAsync(t => t.AccountId == account.Id, Ct));
            var row = await db.TeslaAccounts.SingleAsync(a => a.Id == account.Id, Ct);
            Assert.Equal(AccountStatus.Revoked, row.Status);
            Assert.Equal("operator-token", row.RevokedBy);
            Assert.Equal(2, await db.Vehicles.CountAsync(v => v.AccountId == account.Id, Ct)); // kept for a reconnect
            var audit = await db.AuditEvents.SingleAsync(e => e.Action == "account.revoked", Ct);
            Assert.Equal(("operator-token", TenantId, (Guid?)account.Id), (audit.Actor, audit.TenantId.GetValueOrDefault(), audit.AccountId));
        }
        var metrics = await ScrapeMetricsAsync(ApiKey);
        Assert.DoesNotContain("tesla_vehicle_battery_level_percent{", metrics);
        Assert.Contains("status=\"revoked\"", metrics);

        await ResetSimCallsAsync();
        await PollAccountsAsync();
        Assert.Empty(await SimCallsAsync());
        var again = await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{account.Id}/revoke", null, Ct);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode); // idempotent
    }

    [Fact]
    public async Task ReconnectLinkRenewsTheSameAccountKeepingItsDevices()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var before = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{before.Id}/revoke", null, Ct);
        Guid[] vehicleIds;
        await using (var db = Broker.CreateDbContext())
        {
            vehicleIds = await db.Vehicles.Where(v => v.AccountId == before.Id).OrderBy(v => v.Vin).Select(v => v.Id).ToArrayAsync(Ct);
        }

        var link = await CreateReconnectLinkAsync(before.Id);
        Assert.InRange(link.ExpiresAt, Time.GetUtcNow().AddDays(6.9), Time.GetUtcNow().AddDays(7.1));
        var token = link.Url[(link.Url.LastIndexOf('/') + 1)..];
        var page = await Broker.CreateBrowser().GetStringAsync($"/connect/{token}", Ct);
        Assert.Contains("Reconnect your Tesla account to The Household", page);
        await NewUser().ConnectAsync(token, "alice@example.com", "alice-demo");

        var after = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Equal((before.Id, "active"), (after.Id, after.Status));
        await using (var db = Broker.CreateDbContext())
        {
            Assert.Equal(vehicleIds, await db.Vehicles.Where(v => v.AccountId == before.Id).OrderBy(v => v.Vin).Select(v => v.Id).ToArrayAsync(Ct));
            Assert.True(await db.TeslaTokens.AnyAsync(t => t.AccountId == before.Id, Ct));
            Assert.Null((await db.TeslaAccounts.SingleAsync(a => a.Id == before.Id, Ct)).RevokedAt);
            Assert.True(await db.AuditEvents.AnyAsync(e => e.Action == "account.reconnected" && e.AccountId == before.Id, Ct));
        }
        // Spent by its use.
        var reuse = await Broker.CreateBrowser().GetAsync($"/connect/{token}", Ct);
        Assert.Equal(HttpStatusCode.Conflict, reuse.StatusCode);
        Assert.Contains("this one was used on", await reuse.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ReconnectLinkUsedTwiceAtOnceReconnectsOnceAndTheOtherCallbackWritesNothing()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var alice = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        var token = (await CreateReconnectLinkAsync(alice.Id)).Url.Split('/')[^1];
        // Two browsers (one person, two tabs and a copied link; or an attacker racing a copy) both finish at Tesla.
        var first = NewUser();
        var second = NewUser();
        var callbacks = new[]
        {
            await first.SignInAndConsentAsync(await first.StartAsync(token), "alice@example.com", "alice-demo"),
            await second.SignInAndConsentAsync(await second.StartAsync(token), "alice@example.com", "alice-demo"),
        };
        // Tesla's products answer is slow, so both callbacks are past every check made before the write when they race.
        await AddSimFaultAsync(new { path = "/api/1/products", delayMs = 1500, count = 2 });

        var answers = await Task.WhenAll(first.ReturnToBrokerAsync(callbacks[0]), second.ReturnToBrokerAsync(callbacks[1]));

        var statuses = answers.Select(a => (int)a.StatusCode).Order().ToArray();
        Assert.Equal([302, 409], statuses);
        var refused = answers.Single(a => a.StatusCode == HttpStatusCode.Conflict);
        Assert.Contains("data-reason=\"link_used\"", await refused.Content.ReadAsStringAsync(Ct));
        await using var db = Broker.CreateDbContext();
        Assert.Equal(1, await db.AuditEvents.CountAsync(e => e.Action == "account.reconnected" && e.AccountId == alice.Id, Ct));
    }

    [Fact]
    public async Task ReconnectLinkRefusesADifferentTeslaUserAndChangesNothing()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var alice = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        var link = await CreateReconnectLinkAsync(alice.Id);
        var token = link.Url[(link.Url.LastIndexOf('/') + 1)..];

        var bob = NewUser();
        var callback = await bob.SignInAndConsentAsync(await bob.StartAsync(token), "bob@example.com", "bob-demo");
        var response = await bob.ReturnToBrokerAsync(callback);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("data-reason=\"wrong_tesla_account\"", html);
        Assert.Contains("different Tesla account", html);
        var accounts = await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts");
        Assert.Equal(alice.Id, Assert.Single(accounts).Id);
        // Not spent: the right person can still use it.
        await NewUser().ConnectAsync(token, "alice@example.com", "alice-demo");
    }

    [Fact]
    public async Task ExpiredReconnectLinkCannotStartAConnect()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var alice = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        var link = await CreateReconnectLinkAsync(alice.Id);
        Time.Advance(TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1));

        var response = await Broker.CreateBrowser().GetAsync(new Uri(link.Url).PathAndQuery, Ct);
        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        Assert.Contains("This reconnect link expired on", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ReconnectLinkForAnAccountOfAnotherTenantIsNotFound()
    {
        var (_, otherKey, otherLink) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(otherLink, "bob@example.com", "bob-demo");
        var bob = Assert.Single(await GetJsonAsync<AccountResponse[]>(otherKey, "/api/v1/accounts"));

        var response = await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{bob.Id}/reconnect-links", null, Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var revoke = await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{bob.Id}/revoke", null, Ct);
        Assert.Equal(HttpStatusCode.NotFound, revoke.StatusCode);
    }

    private async Task<ReconnectLink> CreateReconnectLinkAsync(Guid accountId)
    {
        var response = await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{accountId}/reconnect-links", null, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ReconnectLink>(Ct))!;
    }
}
