using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Broker.Tests.EndToEnd;

/// <summary>
/// What a person finds in the console and on the connect pages in a real Chromium, one test per defect an outside
/// try found (issue 13): failed sign-in, secrets on reload, destructive acts, pages for browsers, the consent with nothing
/// ticked, used links, the tenant form, partner failures, attention counts, the audit log; and every page at 390 px under axe.
/// </summary>
public sealed class BrowserConsolePagesTests(PostgresServer postgres, BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private const int Phone = 390;
    private ConsoleStack _stack = null!;
    private string _brokerUrl = "";
    private string _connectUrl = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // Registration at the simulator downloads the key from https://broker.test/…, which nothing serves: Tesla answers 424.
        _stack = await ConsoleStack.StartAsync(postgres, "Alice's cars", new() { ["Partner:Domain"] = "broker.test" });
        (_brokerUrl, _connectUrl) = (_stack.BrokerUrl, _stack.ConnectUrl);
    }

    [Fact]
    public async Task ACancelledOrFailedSignInIsAPageThatOffersToTryAgainNeverA500()
    {
        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{_brokerUrl}/console");
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(_stack.ProviderIssuer));
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith($"{_brokerUrl}/console/signin?failed="));
        Assert.Equal("Sign in", await page.Locator("h1").InnerTextAsync());
        Assert.Contains("did not complete", await page.Locator("main").InnerTextAsync());

        foreach (var failed in new[] { "1", "true", "junk", "" })
        {
            var response = await page.GotoAsync($"{_brokerUrl}/console/signin?failed={failed}");
            Assert.True(response!.Status < 500, $"?failed={failed}: {response.Status}");
            Assert.Equal("Sign in", await page.Locator("h1").InnerTextAsync());
        }
    }

    [Fact]
    public async Task AKeyOrLinkIsShownOnceAndAReloadMakesNoOther()
    {
        var (context, page) = await SignInAsync("operator@example.com", "operator-demo");
        await using var _ = context;
        var forms = new (string Page, string Button, string Table)[]
        {
            ("/console/tenants/household", "New connect link", "#links"),
            ("/console/tenants/household", "New API key", "#api-keys"),
            ("/console/operator", "New operator key", "#operator-keys"),
        };
        foreach (var (path, button, table) in forms)
        {
            await page.GotoAsync(_brokerUrl + path);
            var before = await page.Locator($"{table} tbody tr").CountAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = button }).ClickAsync();
            await page.WaitForURLAsync($"{_brokerUrl}/console/secret");
            var secret = await page.Locator("#secret").InnerTextAsync();
            Assert.False(string.IsNullOrWhiteSpace(secret));

            var reload = await page.ReloadAsync();
            Assert.Equal(410, reload!.Status);
            Assert.Equal("Already shown", await page.Locator("h1").InnerTextAsync());
            Assert.DoesNotContain(secret, await page.ContentAsync());

            await page.GotoAsync(_brokerUrl + path);
            Assert.Equal(before + 1, await page.Locator($"{table} tbody tr").CountAsync());
        }

        // The sealed secret belongs to the session that made it: its cookie, copied into another signed-in browser, shows nothing.
        await page.GotoAsync($"{_brokerUrl}/console/operator");
        var post = await page.RunAndWaitForResponseAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "New operator key" }).ClickAsync(),
            r => r.Url.EndsWith("/console/operator/keys"));
        var copied = System.Text.RegularExpressions.Regex.Match(await post.HeaderValueAsync("set-cookie") ?? "", "broker\\.console\\.secret=([^;]+)").Groups[1].Value;
        Assert.NotEmpty(copied);
        await page.WaitForURLAsync($"{_brokerUrl}/console/secret");
        var made = await page.Locator("#secret").InnerTextAsync();
        var (other, otherPage) = await SignInAsync("operator@example.com", "operator-demo");
        await using var __ = other;
        await other.AddCookiesAsync([new Cookie { Name = "broker.console.secret", Value = copied, Url = _brokerUrl + "/console/secret" }]);
        var replay = await otherPage.GotoAsync($"{_brokerUrl}/console/secret");
        Assert.Equal(410, replay!.Status);
        Assert.DoesNotContain(made, await otherPage.ContentAsync());
    }

    [Fact]
    public async Task RevokingAndRemovingAskFirstAndATenantKeepsItsLastAdmin()
    {
        var (context, page) = await SignInAsync("operator@example.com", "operator-demo");
        await using var _ = context;
        var tenantUrl = $"{_brokerUrl}/console/tenants/household";
        await page.GotoAsync(tenantUrl);
        await InviteAsync(page, "alice-admin@example.com", "admin");
        Assert.Contains("alice-admin@example.com", await page.Locator("#members").InnerTextAsync());

        // Cancel changes nothing; the act itself refuses to leave the tenant without an admin, and says why.
        await page.Locator("#members").GetByRole(AriaRole.Link, new() { Name = "Remove…" }).ClickAsync();
        Assert.Contains("alice-admin@example.com", await page.Locator("h1").InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "Cancel" }).ClickAsync();
        await page.WaitForURLAsync(tenantUrl);
        await page.Locator("#members").GetByRole(AriaRole.Link, new() { Name = "Remove…" }).ClickAsync();
        await page.Locator("#confirm ~ .actions button").ClickAsync();
        Assert.Contains("only admin", await page.Locator("main").InnerTextAsync());
        await page.GotoAsync(tenantUrl);
        Assert.Contains("alice-admin@example.com", await page.Locator("#members").InnerTextAsync());

        // Someone else made admin with the role control, the first admin may go.
        await InviteAsync(page, "bob-admin@example.com", "member");
        await page.GetByLabel("Role of bob-admin@example.com").SelectOptionAsync("admin");
        await page.Locator("#members tr", new() { HasText = "bob-admin@example.com" }).GetByRole(AriaRole.Button, new() { Name = "Change" }).ClickAsync();
        await page.WaitForURLAsync(tenantUrl);
        Assert.Equal("admin", await page.GetByLabel("Role of bob-admin@example.com").InputValueAsync());
        await page.Locator("#members tr", new() { HasText = "alice-admin@example.com" }).GetByRole(AriaRole.Link, new() { Name = "Remove…" }).ClickAsync();
        await page.Locator("#confirm ~ .actions button").ClickAsync();
        await page.WaitForURLAsync(tenantUrl);
        Assert.DoesNotContain("alice-admin@example.com", await page.Locator("#members").InnerTextAsync());

        // A connect link: revoke asks, cancel keeps it, confirm withdraws it.
        Assert.Equal(1, await page.Locator("#links tbody tr").CountAsync());
        await page.Locator("#links").GetByRole(AriaRole.Link, new() { Name = "Revoke…" }).ClickAsync();
        Assert.Contains("Alice's cars", await page.Locator("main").InnerTextAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "Cancel" }).ClickAsync();
        await page.WaitForURLAsync(tenantUrl);
        Assert.Equal(1, await page.Locator("#links tbody tr").CountAsync());
        await page.Locator("#links").GetByRole(AriaRole.Link, new() { Name = "Revoke…" }).ClickAsync();
        await page.Locator("#confirm ~ .actions button").ClickAsync();
        await page.WaitForURLAsync(tenantUrl);
        Assert.Equal("No open connect links.", await page.Locator("p.empty").First.InnerTextAsync());

        // The withdrawn link names who withdrew it and whom to ask, with one piece of advice.
        await using var owner = await browser.NewContextAsync();
        var ownerPage = await owner.NewPageAsync();
        var gone = await ownerPage.GotoAsync(_connectUrl);
        Assert.Equal(410, gone!.Status);
        Assert.Contains("The Household withdrew this link", await ownerPage.Locator("main").InnerTextAsync());
    }

    [Fact]
    public async Task ABrowserGetsALandingPageAndHtmlErrorsWhileApiClientsKeepProblemJson()
    {
        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var landing = await page.GotoAsync(_brokerUrl + "/");
        Assert.Equal(200, landing!.Status);
        Assert.Equal("Broker", await page.Locator("h1").InnerTextAsync());
        Assert.Equal(1, await page.Locator("a[href='/console']").CountAsync());

        var missing = await page.GotoAsync(_brokerUrl + "/no-such-page");
        Assert.Equal(404, missing!.Status);
        Assert.StartsWith("text/html", missing.Headers["content-type"]);
        Assert.Equal("Page not found", await page.Locator("h1").InnerTextAsync());

        using var api = new HttpClient();
        api.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        var problem = await api.GetAsync(_brokerUrl + "/no-such-page", Ct);
        Assert.Equal("application/problem+json", problem.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AConsentWithNothingTickedSaysExactlyWhatChangedAndTheLocationLeavesMetrics()
    {
        await using var owner = await browser.NewContextAsync(Phone);
        var ownerPage = await owner.NewPageAsync();
        await ConnectAsync(ownerPage, _connectUrl, tickAll: true);
        var accountId = await AliceAccountIdAsync();
        await PollAsync(accountId);
        Assert.Contains("tesla_vehicle_latitude_degrees{", await ScrapeAsync());

        var reconnectUrl = await CreateReconnectLinkAsync(accountId);
        await ConnectAsync(ownerPage, reconnectUrl, tickAll: false);
        Assert.Equal("Your Tesla account is linked, but shares no data", await ownerPage.Locator("h1").InnerTextAsync());
        var changes = await ownerPage.Locator("#changes").InnerTextAsync();
        Assert.Contains("No longer shared: Vehicle location", changes);
        Assert.Contains("Broker deleted your vehicles' stored positions", changes);
        Assert.Equal(0, await ownerPage.Locator("#vehicles").CountAsync());   // not listed while their data is not shared
        Assert.Contains("ask The Household for a new link", await ownerPage.Locator("#linked").InnerTextAsync());
        await PageChecks.ScreenshotAsync(ownerPage, "connect-result-nothing-shared-390.png");

        var metrics = await ScrapeAsync();
        Assert.DoesNotContain("tesla_vehicle_latitude_degrees{", metrics);
        Assert.DoesNotContain("tesla_vehicle_longitude_degrees{", metrics);

        // The link worked once: opened again it says when, who sent it and what to do, once.
        var used = await ownerPage.GotoAsync(reconnectUrl);
        Assert.Equal(409, used!.Status);
        var text = await ownerPage.Locator("main").InnerTextAsync();
        Assert.Contains("this one was used on", text);
        Assert.Contains("ask The Household for a new reconnect link", text);
        await PageChecks.ScreenshotAsync(ownerPage, "connect-link-used-390.png");
    }

    [Fact]
    public async Task TheTenantFormValidatesInTheBrowserAndARefusedTenantKeepsWhatWasTyped()
    {
        var (context, page) = await SignInAsync("operator@example.com", "operator-demo");
        await using var _ = context;
        var consoleErrors = new List<string>();
        page.Console += (_, message) => { if (message.Type is "error" or "warning") consoleErrors.Add(message.Text); };
        await page.GotoAsync($"{_brokerUrl}/console");

        var slug = page.GetByLabel("Slug");
        foreach (var (value, valid) in new[] { ("fleet-2", true), ("a", true), ("Fleet", false), ("-fleet", false), ("fleet-", false), ("fl eet", false) })
        {
            await slug.FillAsync(value);
            Assert.True(valid == await slug.EvaluateAsync<bool>("e => e.checkValidity()"), $"slug '{value}' should be {(valid ? "valid" : "refused")}");
        }
        Assert.DoesNotContain(consoleErrors, e => e.Contains("pattern", StringComparison.OrdinalIgnoreCase));

        // A slug already taken passes the browser's check; the server refuses it and the page keeps both fields and the navigation.
        await page.GetByLabel("Name").FillAsync("Second household");
        await slug.FillAsync("household");
        var refused = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Create tenant" }).ClickAsync(), r => r.Url.EndsWith("/console/tenants"));
        Assert.Equal(400, refused.Status);
        Assert.Contains("household", await page.Locator("#form-error").InnerTextAsync());
        Assert.Equal("Second household", await page.GetByLabel("Name").InputValueAsync());
        Assert.Equal("household", await page.GetByLabel("Slug").InputValueAsync());
        Assert.True(await page.Locator("nav").GetByRole(AriaRole.Link, new() { Name = "Operator" }).IsVisibleAsync());

        // Every other rule of the API's, the same way: the reason beside the form, both fields as typed, no tenant made.
        var longSlug = new string('a', 70);
        foreach (var (name, typedSlug, reason) in new[]
        {
            ("   ", "blank-name", "Give the tenant a name"),
            ("Tab\there", "tab-name", "control or invisible"),
            ("Right\u202Eleft", "bidi-name", "control or invisible"),
            (new string('n', 250), "long-name", "200 at most"),
            ("Long slug", longSlug, "64 at most"),
        })
        {
            await page.GotoAsync($"{_brokerUrl}/console");
            // Set as a script would: past the browser's own maxlength and required checks, as a hand-made post gets.
            await page.GetByLabel("Name").EvaluateAsync("(e, v) => e.value = v", name);
            await page.GetByLabel("Slug").EvaluateAsync("(e, v) => e.value = v", typedSlug);
            var answer = await page.RunAndWaitForResponseAsync(
                () => page.Locator("form[action='/console/tenants']").EvaluateAsync("f => f.submit()"), r => r.Url.EndsWith("/console/tenants"));
            Assert.Equal(400, answer.Status);
            Assert.Contains(reason, await page.Locator("#form-error").InnerTextAsync());
            Assert.Equal(name, await page.GetByLabel("Name").InputValueAsync());
            Assert.Equal(typedSlug, await page.GetByLabel("Slug").InputValueAsync());
        }
        await using var db = _stack.Broker.CreateDbContext();
        Assert.Equal(["household"], await db.Tenants.Select(t => t.Slug).ToListAsync(Ct));
    }

    [Fact]
    public async Task ARegionWhoseRegistrationFailedIsShownInRedWithTheCauseTeslaGave()
    {
        var (context, page) = await SignInAsync("operator@example.com", "operator-demo");
        await using var _ = context;
        await page.GotoAsync($"{_brokerUrl}/console/operator");
        await page.GetByRole(AriaRole.Button, new() { Name = "Generate key pair" }).ClickAsync();
        await page.Locator("#outcome").WaitForAsync();
        Assert.Contains("ok", await page.Locator("#outcome").GetAttributeAsync("class") ?? "");

        await page.Locator("select[name=region]").Last.SelectOptionAsync("na");
        await page.GetByRole(AriaRole.Button, new() { Name = "Register with Tesla" }).ClickAsync();
        var outcome = page.Locator("#outcome");
        await outcome.WaitForAsync();
        Assert.Contains("error", await outcome.GetAttributeAsync("class") ?? "");
        Assert.Equal("alert", await outcome.GetAttributeAsync("role"));
        var text = await outcome.InnerTextAsync();
        Assert.Contains("https://broker.test/.well-known/appspecific/com.tesla.3p.public-key.pem", text);
        Assert.DoesNotContain("client secret", text, StringComparison.OrdinalIgnoreCase);   // not a credentials problem
        Assert.Contains("public-key.pem", await page.Locator("#partner-registrations td.bad-text").InnerTextAsync());   // the one failed row, in red

        // The act was posted, redirected and shown once: a reload asks Tesla nothing again.
        await using (var db = _stack.Broker.CreateDbContext())
        {
            var attempts = await db.AuditEvents.CountAsync(e => e.Action.StartsWith("partner.registration"), Ct);
            await page.ReloadAsync();
            Assert.Equal(0, await page.Locator("#outcome").CountAsync());
            Assert.Equal(attempts, await db.AuditEvents.CountAsync(e => e.Action.StartsWith("partner.registration"), Ct));
        }
    }

    [Fact]
    public async Task AttentionCountsAgreeAndTheAuditLogNamesLinksByLabel()
    {
        await using var owner = await browser.NewContextAsync();
        await ConnectAsync(await owner.NewPageAsync(), _connectUrl, tickAll: false, scopes: ["offline_access", "vehicle_device_data"]);
        var (context, page) = await SignInAsync("operator@example.com", "operator-demo");
        await using var _ = context;

        using var api = new HttpClient();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BrokerApplication.OperatorToken);
        var accounts = await api.GetFromJsonAsync<JsonElement[]>($"{_brokerUrl}/api/v1/tenants/household/accounts", Ct);
        var fromApi = accounts!.Count(a => a.GetProperty("attention").GetArrayLength() > 0);
        Assert.Equal(1, fromApi);   // missing scopes

        await page.GotoAsync($"{_brokerUrl}/console");
        var row = page.Locator("#tenants tbody tr", new() { HasText = "The Household" });
        Assert.Equal(fromApi.ToString(), await row.Locator("td").Nth(3).InnerTextAsync());
        await row.GetByRole(AriaRole.Link).ClickAsync();
        Assert.Contains($"{fromApi} needs attention", await page.Locator("#attention-summary").InnerTextAsync());
        Assert.Equal(fromApi, await page.Locator("#accounts tbody tr", new() { Has = page.Locator(".tag.attn, .tag.bad") }).CountAsync());

        var audit = page.Locator(".audit");
        var connected = audit.Locator("tr", new() { HasText = "account.connected" });
        Assert.Contains("Alice's cars", await connected.InnerTextAsync());
        Assert.DoesNotMatch("connect-link:[0-9a-f-]{36}", await audit.InnerTextAsync());
        var code = connected.Locator("code").First;
        Assert.Equal("nowrap", await code.EvaluateAsync<string>("e => getComputedStyle(e).whiteSpace"));

        // The operator's log of every tenant says whose each event is.
        await page.GotoAsync($"{_brokerUrl}/console/audit");
        var everyone = page.Locator(".audit tr", new() { HasText = "account.connected" });
        Assert.Equal("household", await everyone.Locator("td").Nth(1).InnerTextAsync());
    }

    [Fact]
    public async Task EveryConsoleAndConnectPagePassesAxeAndFitsAPhone()
    {
        await using var owner = await browser.NewContextAsync(Phone, bypassCsp: true);
        var ownerPage = await owner.NewPageAsync();
        await ownerPage.GotoAsync(_connectUrl);
        await CheckAsync(ownerPage, "connect-start-390.png");
        await ConnectAsync(ownerPage, _connectUrl, tickAll: false, scopes: ["offline_access", "vehicle_device_data", "vehicle_location"]);
        await CheckAsync(ownerPage, "connect-result-390.png");
        await ownerPage.GotoAsync($"{_brokerUrl}/connect/not-a-link");
        await CheckAsync(ownerPage, "connect-unknown-link-390.png");
        await ownerPage.GotoAsync(_brokerUrl + "/");
        await CheckAsync(ownerPage, "landing-390.png");
        await ownerPage.GotoAsync(_brokerUrl + "/no-such-page");
        await CheckAsync(ownerPage, null);

        var accountId = await AliceAccountIdAsync();
        await PollAsync(accountId);
        var (context, page) = await SignInAsync("operator@example.com", "operator-demo", Phone, bypassCsp: true);
        await using var _ = context;
        Assert.Equal(1, await page.Locator("a.skip[href='#main']").CountAsync());
        foreach (var (path, screenshot) in new (string, string?)[]
        {
            ("/console", "console-home-390.png"),
            ("/console/tenants/household", "console-tenant-390.png"),
            ($"/console/tenants/household/accounts/{accountId}", "console-account-390.png"),
            ($"/console/tenants/household/accounts/{accountId}/revoke", "console-confirm-390.png"),
            ("/console/operator", "console-operator-390.png"),
            ("/console/audit", "console-audit-390.png"),
            ("/console/tenants/no-such-tenant", null),
        })
        {
            await page.GotoAsync(_brokerUrl + path);
            await CheckAsync(page, screenshot);
        }
        await page.GotoAsync($"{_brokerUrl}/console/operator");
        await page.GetByRole(AriaRole.Button, new() { Name = "New operator key" }).ClickAsync();
        await page.WaitForURLAsync($"{_brokerUrl}/console/secret");
        await CheckAsync(page, "console-secret-390.png");
        await page.ReloadAsync();
        await CheckAsync(page, null);

        // The account page shows the fleet working: readings per car, the token, this month's calls.
        await page.GotoAsync($"{_brokerUrl}/console/tenants/household/accounts/{accountId}");
        var main = await page.Locator("main").InnerTextAsync();
        Assert.Contains("Midnight Runner", main);
        Assert.Contains("refreshes itself before it expires", await page.Locator("#token").InnerTextAsync());
        Assert.Matches(@"\d+ calls? since \d{4}-\d{2}-01", await page.Locator("#usage").InnerTextAsync());
        Assert.Contains("Battery", main);
        Assert.Contains("Next poll", main);
        Assert.Contains("Virtual key", main);
        Assert.DoesNotContain("Pairing link for the owner", main);   // no partner key yet: nothing a car could pair with
        Assert.Contains("an operator first sets up the partner key", main);
    }

    private async Task InviteAsync(IPage page, string email, string role)
    {
        var invite = page.Locator("form[action$='/members']");
        await invite.GetByLabel("Email").FillAsync(email);
        await invite.GetByLabel("Role").SelectOptionAsync(role);
        await page.GetByRole(AriaRole.Button, new() { Name = "Invite" }).ClickAsync();
        await page.WaitForURLAsync($"{_brokerUrl}/console/tenants/household");
    }

    private static async Task CheckAsync(IPage page, string? screenshot)
    {
        await PageChecks.AssertAccessibleAsync(page);
        await PageChecks.AssertNoSidewaysScrollAsync(page);
        if (screenshot is not null)
        {
            await PageChecks.ScreenshotAsync(page, screenshot);
        }
    }

    private async Task<(IBrowserContext, IPage)> SignInAsync(string email, string password, int width = 1024, bool bypassCsp = false)
    {
        var context = await browser.NewContextAsync(width, bypassCsp);
        var page = await context.NewPageAsync();
        await _stack.SignInAsync(page, email, password);
        return (context, page);
    }

    private Task ConnectAsync(IPage page, string url, bool tickAll, string[]? scopes = null) => _stack.ConnectAliceAsync(page, url, tickAll, scopes);

    private async Task<Guid> AliceAccountIdAsync()
    {
        using var api = OperatorApi();
        var accounts = await api.GetFromJsonAsync<JsonElement[]>($"{_brokerUrl}/api/v1/tenants/household/accounts", Ct);
        return Assert.Single(accounts!).GetProperty("id").GetGuid();
    }

    private async Task<string> CreateReconnectLinkAsync(Guid accountId)
    {
        using var api = OperatorApi();
        var response = await api.PostAsync($"{_brokerUrl}/api/v1/tenants/household/accounts/{accountId}/reconnect-links", null, Ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("url").GetString()!;
    }

    private async Task<string> ScrapeAsync()
    {
        using var api = OperatorApi();
        return await api.GetStringAsync($"{_brokerUrl}/metrics", Ct);
    }

    private static HttpClient OperatorApi()
    {
        var api = new HttpClient();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BrokerApplication.OperatorToken);
        return api;
    }

    /// <summary>One poll of the account by the broker's own poller (the scheduler is off in tests).</summary>
    private async Task PollAsync(Guid accountId)
    {
        await using var scope = _stack.Broker.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<global::Broker.Polling.AccountPoller>().PollAsync(accountId, null, Ct);
    }

    public ValueTask DisposeAsync() => _stack.DisposeAsync();
}
