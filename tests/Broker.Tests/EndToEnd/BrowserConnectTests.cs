using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Broker.Tests.EndToEnd;

/// <summary>
/// "Connect Tesla" in a real headless Chromium: broker and simulator on real loopback ports, the
/// person clicking through the broker's pages and the simulator's sign-in and consent forms.
/// </summary>
public sealed class BrowserConnectTests(PostgresServer postgres, BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private SimulatorHost _simulator = null!;
    private BrokerApplication _broker = null!;
    private IBrowserContext _context = null!;
    private string _brokerUrl = "";
    private string _connectUrl = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var brokerPort = PostgresServer.FreePort();
        // localhost and 127.0.0.1 are two sites to the browser, as Tesla and the broker are: the
        // return from Tesla is a cross-site navigation, which is what the SameSite=Lax cookies must survive.
        _simulator = new SimulatorHost($"http://localhost:{PostgresServer.FreePort()}");
        _simulator.RedirectUris.Add($"http://127.0.0.1:{brokerPort}/connect/callback");
        _simulator.StartOnRealPort();
        _broker = new BrokerApplication(await postgres.CreateDatabaseAsync(), _simulator);
        _brokerUrl = _broker.StartOnRealPort(brokerPort);

        await using var scope = _broker.Services.CreateAsyncScope();
        var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
        var tenant = await provisioning.EnsureTenantAsync("household", "The Household", Ct);
        var (_, token) = await provisioning.AddConnectLinkAsync(tenant.Id, "test", Ct);
        _connectUrl = $"{_brokerUrl}/connect/{token}";
        _context = await browser.NewContextAsync();
    }

    [Fact]
    public async Task PersonConnectsTeslaAccountInChromium()
    {
        var page = await ContinueToTeslaAsync();
        await SignInAsAliceAsync(page);
        await page.GetByLabel("Select all").CheckAsync();
        await AllowAndReturnToBrokerAsync(page);

        Assert.Equal("Your Tesla account is connected", await page.Locator("h1").InnerTextAsync());
        var vehicles = await page.Locator("#vehicles").InnerTextAsync();
        Assert.Contains("Midnight Runner", vehicles);
        Assert.Contains("Blue Yonder", vehicles);
        Assert.Contains("Alice's Home", await page.Locator("#energy-sites").InnerTextAsync());
        Assert.Contains("Everything Broker asked for was shared.", await page.Locator("body").InnerTextAsync());
        Assert.Equal(0, await page.Locator("#missing-scopes").CountAsync());
        await ScreenshotAsync(page, "connect-result.png");
    }

    [Fact]
    public async Task PersonWhoWithholdsScopesSeesWhatIsMissingInChromium()
    {
        var page = await ContinueToTeslaAsync();
        await SignInAsAliceAsync(page);
        // openid is always granted (a disabled, ticked box); location and energy stay unticked.
        await page.Locator("input[name=scope][value=offline_access]").CheckAsync();
        await page.Locator("input[name=scope][value=vehicle_device_data]").CheckAsync();
        await AllowAndReturnToBrokerAsync(page);

        Assert.Equal("Your Tesla account is connected, with limits", await page.Locator("h1").InnerTextAsync());
        Assert.Contains("Midnight Runner", await page.Locator("#vehicles").InnerTextAsync());
        var missing = await page.Locator("#missing-scopes").InnerTextAsync();
        Assert.Contains("vehicle_location", missing);
        Assert.Contains("energy_device_data", missing);
        Assert.DoesNotContain("vehicle_device_data", missing);
        await ScreenshotAsync(page, "connect-result-missing-scopes.png");

        await page.GetByRole(AriaRole.Button, new() { Name = "Ask Tesla again for what is missing" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(_simulator.AuthBaseUrl + "/oauth2/v3/authorize?"));
        Assert.Contains("prompt_missing_scopes=true", new Uri(page.Url).Query);
    }

    [Fact]
    public async Task ConnectFlowCookiesAreHttpOnlySameSiteLaxAndGoneAfterTheCallback()
    {
        var page = await ContinueToTeslaAsync();

        // Scoped to the callback path: only the request that consumes them carries them.
        var flowCookies = FlowCookies(await _context.CookiesAsync([_brokerUrl + "/connect/callback"]));
        Assert.Contains(flowCookies, c => c.Name.StartsWith(".AspNetCore.Correlation."));
        Assert.Contains(flowCookies, c => c.Name.StartsWith(".AspNetCore.OpenIdConnect.Nonce."));
        Assert.All(flowCookies, c =>
        {
            Assert.True(c.HttpOnly, $"{c.Name} is readable by script");
            Assert.Equal(SameSiteAttribute.Lax, c.SameSite);
            Assert.Equal("/connect/callback", c.Path);
        });

        await SignInAsAliceAsync(page);
        await page.GetByLabel("Select all").CheckAsync();
        await AllowAndReturnToBrokerAsync(page);
        Assert.Empty(FlowCookies(await _context.CookiesAsync([_brokerUrl + "/connect/callback"])));
    }

    /// <summary>Opens the connect link, reads the explanation, presses the button; ends on Tesla's sign-in page.</summary>
    private async Task<IPage> ContinueToTeslaAsync()
    {
        var page = await _context.NewPageAsync();
        await page.GotoAsync(_connectUrl);
        Assert.Equal("Connect your Tesla account to The Household", await page.Locator("h1").InnerTextAsync());
        Assert.Contains("You will sign in at Tesla", await page.Locator("body").InnerTextAsync());
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue to Tesla" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(_simulator.AuthBaseUrl + "/oauth2/v3/authorize?"));
        return page;
    }

    private static async Task SignInAsAliceAsync(IPage page)
    {
        await page.GetByLabel("Email").FillAsync("alice@example.com");
        await page.GetByLabel("Password").FillAsync("alice-demo");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign In" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Allow" }).WaitForAsync();
    }

    private async Task AllowAndReturnToBrokerAsync(IPage page)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = "Allow", Exact = true }).ClickAsync();
        // Back on the broker: the result page, or a failure page that says why (shown in the assertion).
        await page.WaitForURLAsync(url => url.StartsWith(_brokerUrl + "/connect/"), new() { Timeout = 60_000 });
        await page.WaitForLoadStateAsync(LoadState.DOMContentLoaded);
        Assert.True(page.Url.StartsWith(_brokerUrl + "/connect/result?r="),
            $"Expected the result page, landed on {page.Url}: {await page.Locator("body").InnerTextAsync()}\n"
            + string.Join("\n", _broker.Logs.Lines.Where(l => l.StartsWith("Warning") || l.StartsWith("Error"))));
    }

    private static List<BrowserContextCookiesResult> FlowCookies(IEnumerable<BrowserContextCookiesResult> cookies) =>
        cookies.Where(c => c.Name.StartsWith(".AspNetCore.Correlation.") || c.Name.StartsWith(".AspNetCore.OpenIdConnect.Nonce.")).ToList();

    private static Task ScreenshotAsync(IPage page, string name) => page.ScreenshotAsync(new PageScreenshotOptions
    {
        Path = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots", name),
        FullPage = true,
    });

    public async ValueTask DisposeAsync()
    {
        await _context.DisposeAsync();
        await _broker.DisposeAsync();
        await _simulator.DisposeAsync();
    }
}
