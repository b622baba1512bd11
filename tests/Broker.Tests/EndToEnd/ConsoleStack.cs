using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Broker.Tests.EndToEnd;

/// <summary>
/// What the Chromium console tests run against: a real OpenID provider for the console, the Tesla simulator on a real
/// port, and the broker on a real port with the household tenant and one connect link. Also the two walks every such test
/// takes: an operator's sign-in to the console, and Alice through the connect page and Tesla's consent.
/// </summary>
public sealed class ConsoleStack : IAsyncDisposable
{
    private readonly OidcProviderHost _provider = new();

    private ConsoleStack()
    {
    }

    public SimulatorHost Simulator { get; private set; } = null!;
    public BrokerApplication Broker { get; private set; } = null!;
    public string BrokerUrl { get; private set; } = "";
    public string ConnectUrl { get; private set; } = "";
    public string ProviderIssuer => _provider.Issuer;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<ConsoleStack> StartAsync(PostgresServer postgres, string linkLabel = "test", Dictionary<string, string?>? settings = null)
    {
        var stack = new ConsoleStack();
        var brokerPort = PostgresServer.FreePort();
        stack.BrokerUrl = $"http://127.0.0.1:{brokerPort}";
        stack._provider.Clients.Clear();
        stack._provider.Clients.Add(new OidcClient(OidcProviderHost.ClientId, OidcProviderHost.ClientSecret,
            [$"{stack.BrokerUrl}/signin-oidc"], [$"{stack.BrokerUrl}/signout-callback-oidc"]));
        await stack._provider.StartAsync(Ct);
        // localhost and 127.0.0.1 are two sites to the browser, as Tesla and the broker are.
        stack.Simulator = new SimulatorHost($"http://localhost:{PostgresServer.FreePort()}");
        stack.Simulator.RedirectUris.Add($"{stack.BrokerUrl}/connect/callback");
        stack.Simulator.StartOnRealPort();
        var config = new Dictionary<string, string?>
        {
            ["Console:Oidc:Authority"] = stack._provider.Issuer,
            ["Console:Oidc:ClientId"] = OidcProviderHost.ClientId,
            ["Console:Oidc:ClientSecret"] = OidcProviderHost.ClientSecret,
            ["Console:Oidc:RequireHttpsMetadata"] = "false",
            ["Console:Operators:Emails:0"] = "operator@example.com",
        };
        foreach (var (key, value) in settings ?? [])
        {
            config[key] = value;
        }
        stack.Broker = new BrokerApplication(await postgres.CreateDatabaseAsync(), stack.Simulator, config);
        stack.Broker.StartOnRealPort(brokerPort);

        await using var scope = stack.Broker.Services.CreateAsyncScope();
        var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
        var tenant = await provisioning.EnsureTenantAsync("household", "The Household", Ct);
        var (_, token) = await provisioning.AddConnectLinkAsync(tenant.Id, linkLabel, Ct);
        stack.ConnectUrl = $"{stack.BrokerUrl}/connect/{token}";
        return stack;
    }

    /// <summary>Signs in to the console at the OpenID provider; ends on /console.</summary>
    public async Task SignInAsync(IPage page, string email = "operator@example.com", string password = "operator-demo")
    {
        await page.GotoAsync($"{BrokerUrl}/console");
        Assert.Equal("Sign in", await page.Locator("h1").InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(_provider.Issuer));
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync($"{BrokerUrl}/console");
    }

    /// <summary>
    /// Alice through a connect link and Tesla's consent, granting every scope (<paramref name="tickAll"/>), the ones named, or,
    /// with neither, none; ends on the result page.
    /// </summary>
    public async Task ConnectAliceAsync(IPage page, string url, bool tickAll = true, string[]? scopes = null, string? expectTitle = null)
    {
        await page.GotoAsync(url);
        if (expectTitle is not null)
        {
            Assert.Equal(expectTitle, await page.Locator("h1").InnerTextAsync());
        }
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue to Tesla" }).ClickAsync();
        await page.WaitForURLAsync(u => u.StartsWith(Simulator.AuthBaseUrl + "/oauth2/v3/authorize?"));
        if (await page.GetByLabel("Password").CountAsync() > 0)
        {
            await page.GetByLabel("Email").FillAsync("alice@example.com");
            await page.GetByLabel("Password").FillAsync("alice-demo");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign In" }).ClickAsync();
        }
        await page.GetByRole(AriaRole.Button, new() { Name = "Allow", Exact = true }).WaitForAsync();
        if (tickAll)
        {
            await page.GetByLabel("Select all").CheckAsync();
        }
        foreach (var scope in scopes ?? [])
        {
            await page.Locator($"input[name=scope][value={scope}]").CheckAsync();
        }
        await page.GetByRole(AriaRole.Button, new() { Name = "Allow", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(u => u.StartsWith(BrokerUrl + "/connect/"));
        Assert.True(page.Url.StartsWith(BrokerUrl + "/connect/result?r="), $"Landed on {page.Url}: {await page.Locator("body").InnerTextAsync()}");
    }

    public async ValueTask DisposeAsync()
    {
        await Broker.DisposeAsync();
        await Simulator.DisposeAsync();
        await _provider.DisposeAsync();
    }
}
