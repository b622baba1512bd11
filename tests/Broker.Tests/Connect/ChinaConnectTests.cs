using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Tests.Infrastructure;
using Broker.Tokens;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Connect;

/// <summary>
/// Tesla China is a realm of its own (tesla-confirmed §2): its own sign-in host, token host, app and Fleet API host.
/// A China account's tokens go only to China's hosts, and a global account's never do.
/// </summary>
public sealed class ChinaConnectTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Chen = "chen@example.cn";
    private static readonly string CnAuthHost = new Uri(SimulatorHost.CnAuthBase).Authority;
    private static readonly string CnFleetHost = new Uri(SimulatorHost.CnBase).Authority;

    [Fact]
    public async Task TheConnectPageOffersChinaAndSendsItsChoiceToChinasSignInWithChinasApp()
    {
        var user = NewUser();
        var page = await user.Browser.GetStringAsync($"/connect/{LinkToken}", Ct);
        Assert.Contains("Tesla in mainland China", page);

        var authorize = await user.StartAsync(LinkToken, realm: "cn");

        Assert.Equal($"{SimulatorHost.CnAuthBase}/oauth2/v3/authorize", authorize.GetLeftPart(UriPartial.Path));
        Assert.Equal(SimulatorHost.CnClientId, QueryHelpers.ParseQuery(authorize.Query)["client_id"]);
        var global = await NewUser().StartAsync(LinkToken);
        Assert.Equal((SimulatorHost.AuthBase, SimulatorHost.ClientId), (global.GetLeftPart(UriPartial.Authority), QueryHelpers.ParseQuery(global.Query)["client_id"].ToString()));
    }

    [Fact]
    public async Task AChinaAccountConnectsRefreshesAndIsPolledOnlyAtChinasHosts()
    {
        var html = await NewUser().ConnectAsync(LinkToken, Chen, "chen-demo", realm: "cn");

        Assert.Contains("Jade Rabbit", html);
        Assert.Contains("China", html);
        var account = await AccountAsync();
        Assert.Equal(("cn", SimulatorHost.CnBase), (account.Region, account.FleetApiBaseUrl));
        var state = await SimStateAsync();
        Assert.Equal(SimulatorHost.CnClientId, state.GetProperty("consents").EnumerateArray().Single(c => c.GetProperty("account").GetString() == Chen).GetProperty("clientId").GetString());

        var connecting = await SimCallsAsync(Chen);
        Assert.All(connecting, c => Assert.Contains(c.Host, new[] { CnAuthHost, CnFleetHost }));
        Assert.Contains(connecting, c => c.Category == "meta" && c.Host == CnFleetHost); // users/region and products
        await ResetSimCallsAsync();

        await PollAccountsAsync();
        await ExpireAccessTokenAsync(account.Id);
        await using (var scope = Broker.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<TokenRefresher>().GetAccessTokenAsync(account.Id, Ct);
        }

        var calls = await SimCallsAsync();
        Assert.Equal([(CnAuthHost, 200)], calls.Where(c => c.Category == "auth").Select(c => (c.Host, c.Status))); // the one refresh
        Assert.Contains(calls, c => c.Host == CnFleetHost);
        Assert.All(calls, c => Assert.Contains(c.Host, new[] { CnAuthHost, CnFleetHost }));
    }

    [Fact]
    public async Task AGlobalAccountNeverTouchesChinasHosts()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var account = await AccountAsync();
        await PollAccountsAsync();
        await ExpireAccessTokenAsync(account.Id);
        await using (var scope = Broker.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<TokenRefresher>().GetAccessTokenAsync(account.Id, Ct);
        }

        var calls = await SimCallsAsync();
        Assert.Contains(calls, c => c.Category == "auth" && c.Host == new Uri(SimulatorHost.AuthBase).Authority);
        Assert.DoesNotContain(calls, c => c.Host == CnAuthHost || c.Host == CnFleetHost);
    }

    [Fact]
    public async Task ALinkBoundToChinaOffersNoChoiceAndSignsInAtChina()
    {
        var created = await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/connect-links", new { label = "Chen", region = "cn" }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var link = await created.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal("cn", link.GetProperty("region").GetString());
        var token = link.GetProperty("url").GetString()!.Split('/')[^1];
        var user = NewUser();

        Assert.DoesNotContain("Tesla in mainland China", await user.Browser.GetStringAsync($"/connect/{token}", Ct));
        var authorize = await user.StartAsync(token, realm: "global"); // a bound link ignores what the form says

        Assert.Equal(SimulatorHost.CnAuthBase, authorize.GetLeftPart(UriPartial.Authority));
        var refused = await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/connect-links", new { region = "xx" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task AReconnectLinkOfAChinaAccountGoesBackToChinasSignIn()
    {
        await NewUser().ConnectAsync(LinkToken, Chen, "chen-demo", realm: "cn");
        var account = await AccountAsync();

        var created = await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{account.Id}/reconnect-links", null, Ct);
        var url = (await created.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("url").GetString()!;
        var html = await NewUser().ConnectAsync(url.Split('/')[^1], Chen, "chen-demo");

        Assert.Contains("Jade Rabbit", html);
        Assert.Equal(account.Id, (await AccountAsync()).Id);
    }

    [Fact]
    public async Task RevokingAChinaAccountPointsToChinasConsentPage()
    {
        await NewUser().ConnectAsync(LinkToken, Chen, "chen-demo", realm: "cn");
        var account = await AccountAsync();

        var revoked = await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{account.Id}/revoke", null, Ct);

        Assert.Equal($"{SimulatorHost.CnAuthBase}/user/revoke/consent?revoke_client_id={SimulatorHost.CnClientId}",
            (await revoked.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("teslaConsentRevocationUrl").GetString());
    }

    private async Task<global::Broker.Accounts.TeslaAccount> AccountAsync()
    {
        await using var db = Broker.CreateDbContext();
        return await db.TeslaAccounts.SingleAsync(Ct);
    }

    private async Task ExpireAccessTokenAsync(Guid accountId)
    {
        await using var db = Broker.CreateDbContext();
        var soon = Time.GetUtcNow().AddSeconds(30);
        await db.TeslaTokens.Where(t => t.AccountId == accountId).ExecuteUpdateAsync(s => s.SetProperty(t => t.AccessTokenExpiresAt, soon), Ct);
    }

    private async Task<JsonElement> SimStateAsync()
    {
        using var control = Simulator.CreateControlClient();
        return await control.GetFromJsonAsync<JsonElement>("/_sim/state", Ct);
    }
}
