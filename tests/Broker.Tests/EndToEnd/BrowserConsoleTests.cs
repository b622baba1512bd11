using Broker.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Broker.Tests.EndToEnd;

/// <summary>
/// The operator's day in a real Chromium: sign in to the console through a real OpenID provider,
/// find an account, revoke it, hand its owner a reconnect link, and watch the owner reconnect.
/// </summary>
public sealed class BrowserConsoleTests(PostgresServer postgres, BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private ConsoleStack _stack = null!;
    private string _brokerUrl = "";

    public async ValueTask InitializeAsync()
    {
        _stack = await ConsoleStack.StartAsync(postgres);
        _brokerUrl = _stack.BrokerUrl;
    }

    [Fact]
    public async Task OperatorRevokesAnAccountAndItsOwnerReconnectsWithTheLinkInChromium()
    {
        await using var owner = await browser.NewContextAsync();
        var ownerPage = await owner.NewPageAsync();
        await _stack.ConnectAliceAsync(ownerPage, _stack.ConnectUrl);

        await using var operatorContext = await browser.NewContextAsync();
        var page = await operatorContext.NewPageAsync();
        await _stack.SignInAsync(page);
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

        await _stack.ConnectAliceAsync(ownerPage, reconnectUrl, expectTitle: "Reconnect your Tesla account to The Household");

        await page.GotoAsync(accountUrl);
        Assert.Equal("connected", await page.Locator(".tag").First.InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "The Household" }).ClickAsync();
        var audit = await page.Locator(".audit").InnerTextAsync();
        Assert.Contains("account.revoked", audit);
        Assert.Contains("account.reconnected", audit);
        Assert.Contains("person:operator@example.com", audit);
        Assert.Contains("127.0.0.1", audit); // the address the operator acted from

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(_stack.ProviderIssuer));
        await page.GetByRole(AriaRole.Button, new() { Name = "Yes, sign me out" }).ClickAsync();
        await page.WaitForURLAsync($"{_brokerUrl}/console/signed-out");
        await page.GotoAsync($"{_brokerUrl}/console");
        Assert.Equal("Sign in", await page.Locator("h1").InnerTextAsync());
    }

    public ValueTask DisposeAsync() => _stack.DisposeAsync();
}
