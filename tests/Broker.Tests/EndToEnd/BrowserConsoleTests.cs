using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Broker.Tests.EndToEnd;

/// <summary>
/// The operator's day in a real Chromium: sign in to the console through a real OpenID provider,
/// find an account, revoke it, hand its owner a reconnect link, and watch the owner reconnect.
/// </summary>
public sealed class BrowserConsoleTests(PostgresServer postgres, BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly OidcProviderHost _provider = new();
    private SimulatorHost _simulator = null!;
    private BrokerApplication _broker = null!;
    private string _brokerUrl = "";
    private string _connectUrl = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var brokerPort = PostgresServer.FreePort();
        _brokerUrl = $"http://127.0.0.1:{brokerPort}";
        _provider.Clients.Clear();
        _provider.Clients.Add(new OidcClient(OidcProviderHost.ClientId, OidcProviderHost.ClientSecret,
            [$"{_brokerUrl}/signin-oidc"], [$"{_brokerUrl}/signout-callback-oidc"]));
        await _provider.StartAsync(Ct);
        _simulator = new SimulatorHost($"http://localhost:{PostgresServer.FreePort()}");
        _simulator.RedirectUris.Add($"{_brokerUrl}/connect/callback");
        _simulator.StartOnRealPort();
        _broker = new BrokerApplication(await postgres.CreateDatabaseAsync(), _simulator, new()
        {
            ["Console:Oidc:Authority"] = _provider.Issuer,
            ["Console:Oidc:ClientId"] = OidcProviderHost.ClientId,
            ["Console:Oidc:ClientSecret"] = OidcProviderHost.ClientSecret,
            ["Console:Oidc:RequireHttpsMetadata"] = "false",
            ["Console:Operators:Emails:0"] = "operator@example.com",
        });
        _broker.StartOnRealPort(brokerPort);

        await using var scope = _broker.Services.CreateAsyncScope();
        var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
        var tenant = await provisioning.EnsureTenantAsync("household", "The Household", Ct);
        var (_, token) = await provisioning.AddConnectLinkAsync(tenant.Id, "test", Ct);
        _connectUrl = $"{_brokerUrl}/connect/{token}";
    }

    [Fact]
    public async Task OperatorRevokesAnAccountAndItsOwnerReconnectsWithTheLinkInChromium()
    {
        await using var owner = await browser.NewContextAsync();
        var ownerPage = await owner.NewPageAsync();
        await ConnectAsAliceAsync(ownerPage, _connectUrl);

        await using var operatorContext = await browser.NewContextAsync();
        var page = await operatorContext.NewPageAsync();
        await page.GotoAsync($"{_brokerUrl}/console");
        Assert.Equal("Sign in", await page.Locator("h1").InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(_provider.Issuer));
        await page.GetByLabel("Email").FillAsync("operator@example.com");
        await page.GetByLabel("Password").FillAsync("operator-demo");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync($"{_brokerUrl}/console");
        Assert.Contains("operator@example.com (operator)", await page.Locator("nav").InnerTextAsync());

        await page.GetByRole(AriaRole.Link, new() { Name = "The Household" }).ClickAsync();
        Assert.Contains("connected", await page.Locator("#accounts").InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "alice@example.com" }).ClickAsync();
        Assert.Contains("Midnight Runner", await page.Locator("main").InnerTextAsync());
        var accountUrl = page.Url;
        // Revoking asks first; Cancel leaves the account as it was.
        await page.GetByRole(AriaRole.Link, new() { Name = "Revoke access…" }).ClickAsync();
        Assert.Contains("Revoke access to alice@example.com?", await page.Locator("h1").InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "Cancel" }).ClickAsync();
        await page.WaitForURLAsync(accountUrl);
        Assert.Equal("connected", await page.Locator(".tag").First.InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "Revoke access…" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke access" }).ClickAsync();
        await page.WaitForURLAsync(accountUrl);
        var revoked = await page.Locator("#revoked").InnerTextAsync();
        Assert.Contains("/user/revoke/consent?revoke_client_id=" + SimulatorHost.ClientId, revoked);
        Assert.Contains("revoked", await page.Locator(".tag.bad").InnerTextAsync());

        // The reconnect link is shown once, on a page of its own: a reload does not show it again.
        await page.GetByRole(AriaRole.Button, new() { Name = "Create reconnect link" }).ClickAsync();
        await page.WaitForURLAsync($"{_brokerUrl}/console/secret");
        var reconnectUrl = await page.Locator("#secret").InnerTextAsync();
        Assert.StartsWith($"{_brokerUrl}/connect/", reconnectUrl);
        var reload = await page.ReloadAsync();
        Assert.Equal(410, reload!.Status);
        Assert.Equal("Already shown", await page.Locator("h1").InnerTextAsync());
        Assert.DoesNotContain(reconnectUrl, await page.ContentAsync());
        await page.GotoAsync(accountUrl);
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots", "console-account.png"), FullPage = true });

        await ConnectAsAliceAsync(ownerPage, reconnectUrl, expectTitle: "Reconnect your Tesla account to The Household");

        await page.GotoAsync(accountUrl);
        Assert.Equal("connected", await page.Locator(".tag").First.InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "The Household" }).ClickAsync();
        var audit = await page.Locator(".audit").InnerTextAsync();
        Assert.Contains("account.revoked", audit);
        Assert.Contains("account.reconnected", audit);
        Assert.Contains("person:operator@example.com", audit);
        Assert.Contains("127.0.0.1", audit); // the address the operator acted from

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(_provider.Issuer));
        await page.GetByRole(AriaRole.Button, new() { Name = "Yes, sign me out" }).ClickAsync();
        await page.WaitForURLAsync($"{_brokerUrl}/console/signed-out");
        await page.GotoAsync($"{_brokerUrl}/console");
        Assert.Equal("Sign in", await page.Locator("h1").InnerTextAsync());
    }

    private async Task ConnectAsAliceAsync(IPage page, string url, string? expectTitle = null)
    {
        await page.GotoAsync(url);
        if (expectTitle is not null)
        {
            Assert.Equal(expectTitle, await page.Locator("h1").InnerTextAsync());
        }
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue to Tesla" }).ClickAsync();
        await page.WaitForURLAsync(u => u.StartsWith(_simulator.AuthBaseUrl + "/oauth2/v3/authorize?"));
        if (await page.GetByLabel("Password").CountAsync() > 0)
        {
            await page.GetByLabel("Email").FillAsync("alice@example.com");
            await page.GetByLabel("Password").FillAsync("alice-demo");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign In" }).ClickAsync();
        }
        await page.GetByLabel("Select all").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Allow", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(u => u.StartsWith(_brokerUrl + "/connect/"), new() { Timeout = 60_000 });
        Assert.True(page.Url.StartsWith(_brokerUrl + "/connect/result?r="), $"Landed on {page.Url}: {await page.Locator("body").InnerTextAsync()}");
    }

    public async ValueTask DisposeAsync()
    {
        await _broker.DisposeAsync();
        await _simulator.DisposeAsync();
        await _provider.DisposeAsync();
    }
}
