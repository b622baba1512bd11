using System.Net;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;

namespace Broker.Tests.Connect;

public sealed class ConnectReplicaTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    [Fact]
    public async Task CallbackLandingOnAnotherReplicaStillValidates()
    {
        await using var replicaB = new BrokerApplication(Broker.ConnectionString, Simulator);
        var cookies = new CookieContainer();
        using var onA = Broker.CreateDefaultClient(new CookieContainerHandler(cookies));
        using var onB = replicaB.CreateDefaultClient(new CookieContainerHandler(cookies));

        var page = await onA.GetStringAsync($"/connect/{LinkToken}", Ct);
        var start = await onA.PostAsync($"/connect/{LinkToken}/start", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = TeslaUser.Hidden(page, "__RequestVerificationToken"),
        }), Ct);
        var callback = await NewUser().SignInAndConsentAsync(start.Headers.Location!, "alice@example.com", "alice-demo");
        var landed = await onB.GetAsync(callback.PathAndQuery, Ct);

        Assert.Equal(HttpStatusCode.Redirect, landed.StatusCode);
        var result = await onA.GetStringAsync(landed.Headers.Location, Ct); // and the result page back on A
        Assert.Contains("Midnight Runner", result);
        Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        // What made B accept A's state: one key ring, in the shared database.
        await using var db = Broker.CreateDbContext();
        Assert.Single(db.DataProtectionKeys);
    }

    [Fact]
    public async Task CorrelationCookieIsHttpOnlyLaxAndSecureOverHttps()
    {
        var browser = Broker.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://localhost"), AllowAutoRedirect = false });
        var page = await browser.GetStringAsync($"/connect/{LinkToken}", Ct);
        var start = await browser.PostAsync($"/connect/{LinkToken}/start", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = TeslaUser.Hidden(page, "__RequestVerificationToken"),
        }), Ct);

        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        Assert.Contains("default-src 'none'", start.Headers.GetValues("Content-Security-Policy").Single());
        var authorize = start.Headers.Location!.Query;
        Assert.Contains("code_challenge_method=S256", authorize);
        Assert.Contains("nonce=", authorize);
        Assert.Contains("state=", authorize);
        var flowCookies = start.Headers.GetValues("Set-Cookie").Where(c => c.StartsWith(".AspNetCore.Correlation") || c.StartsWith(".AspNetCore.OpenIdConnect.Nonce")).ToList();
        Assert.Equal(2, flowCookies.Count);
        Assert.All(flowCookies, c =>
        {
            Assert.Contains("httponly", c, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("samesite=lax", c, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("secure", c, StringComparison.OrdinalIgnoreCase);
        });
    }
}
