using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Broker.Tests.EndToEnd;

/// <summary>What one person's "Connect Tesla" in Chromium through nginx looked like from outside.</summary>
public sealed record ConnectRun(
    string Email, string RedirectUri, IReadOnlyList<BrowserContextCookiesResult> FlowCookies,
    string StartedOn, string CallbackOn, string ResultUrl, string Heading);

/// <summary>
/// docker-compose.yml's deployment on this machine, with the real programs: the fixture's Postgres, the Tesla
/// simulator on a loopback port, two broker replicas (clustered Quartz, one database), Debian's nginx running
/// the repository's <c>deploy/nginx/broker.conf</c> and Debian's Prometheus running <c>deploy/prometheus/prometheus.yml</c>,
/// each with only what must differ on this machine substituted (<see cref="NginxSite"/>, <see cref="PrometheusConfig"/>).
/// Then alice (NA: two cars and a Powerwall) and bob (EU) connect in Chromium through nginx, and the replicas poll.
/// </summary>
public sealed partial class ProductionDeployment(PostgresServer postgres) : IAsyncLifetime
{
    /// <summary>nginx connects to the replicas from this address (<c>proxy_bind</c>); the replicas trust only it.</summary>
    public const string ProxyAddress = "127.0.0.2";
    public const string BobAsleep = "XP7YGCEK1PB209361";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("broker-production-");
    private BrowserFixture? _browser;

    public SimulatorHost Simulator { get; private set; } = null!;
    /// <summary>broker-1 and broker-2, as docker-compose.yml names them, with their loopback ports.</summary>
    public Dictionary<string, (BrokerApplication App, int Port)> Replicas { get; } = [];
    public NginxHost Nginx { get; private set; } = null!;
    public PrometheusHost Prometheus { get; private set; } = null!;
    public PollRecorder Polls { get; } = new();
    public Dictionary<string, string> QuartzInstanceIds { get; } = [];
    public int HttpsPort { get; private set; }
    public int HttpPort { get; private set; }
    public string PublicUrl => $"https://localhost:{HttpsPort}";
    public string HouseholdKey { get; private set; } = "";
    public ConnectRun Alice { get; private set; } = null!;
    public ConnectRun Bob { get; private set; } = null!;
    /// <summary>When alice's account was connected (a <see cref="Stopwatch"/> timestamp): polling starts here.</summary>
    public long AliceConnectedAt { get; private set; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        HttpsPort = PostgresServer.FreePort();
        HttpPort = PostgresServer.FreePort();
        // 127.0.0.1, not localhost: Tesla and the broker are two sites to the browser, as in production.
        Simulator = new SimulatorHost($"http://127.0.0.1:{PostgresServer.FreePort()}");
        Simulator.RedirectUris.Add($"{PublicUrl}/connect/callback");
        Simulator.StartOnRealPort();

        var database = await postgres.CreateDatabaseAsync();
        foreach (var name in new[] { "broker-1", "broker-2" })
        {
            var app = new BrokerApplication(database, Simulator, ReplicaSettings);
            app.Responses.Enabled = true;   // tells which replica served a request (the broker logs no request lines)
            var port = PostgresServer.FreePort();
            app.StartOnRealPort(port);
            Replicas[name] = (app, port);
            QuartzInstanceIds[name] = await Polls.AttachAsync(name, app.Services, Ct);
        }

        Prometheus = new PrometheusHost(_dir.CreateSubdirectory("prometheus"), PostgresServer.FreePort());
        // As in compose: Prometheus holds the metrics-only token (Metrics:TokenFile), never the operator's.
        var tokenFile = Path.Combine(_dir.FullName, "metrics_token");
        await File.WriteAllTextAsync(tokenFile, MetricsToken, Ct);
        Prometheus.Start(PrometheusConfig(await ReadRepoFileAsync("deploy/prometheus/prometheus.yml"), tokenFile),
            ("alerts.yml", await ReadRepoFileAsync("deploy/prometheus/alerts.yml")));   // beside it, as compose mounts it

        Nginx = new NginxHost(_dir);
        await Nginx.StartAsync(NginxSite(await ReadRepoFileAsync("deploy/nginx/broker.conf")), HttpsPort, Ct);

        string householdLink, fleetLink;
        await using (var scope = Replicas["broker-1"].App.Services.CreateAsyncScope())
        {
            var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
            HouseholdKey = await provisioning.AddApiKeyAsync((await provisioning.EnsureTenantAsync("household", "The Household", Ct)).Id, "e2e", Ct);
            var fleetKey = await provisioning.AddApiKeyAsync((await provisioning.EnsureTenantAsync("fleet", "The Fleet", Ct)).Id, "e2e", Ct);
            // Links are asked for through nginx, as a partner's backend would: they carry the public https host.
            householdLink = await CreateLinkThroughNginxAsync(HouseholdKey);
            fleetLink = await CreateLinkThroughNginxAsync(fleetKey);
            // The fleet names its accounts in /metrics (the dashboard's tables and the alerts show bob's email); the
            // household does not, so both the named and the unnamed way through every query are exercised.
            await NamesInMetricsThroughNginxAsync(fleetKey);
        }

        _browser = new BrowserFixture();
        await _browser.InitializeAsync();
        Alice = await ConnectInChromiumAsync(householdLink, "alice@example.com", "alice-demo", callbackOnOtherReplica: true);
        AliceConnectedAt = Stopwatch.GetTimestamp();
        await TeslaRateLimitsAlicesPowerwallOnceAsync();
        Bob = await ConnectInChromiumAsync(fleetLink, "bob@example.com", "bob-demo", callbackOnOtherReplica: false);
        await BobWithdrawsAccessAfterHisFirstPollAsync();
    }

    public const string MetricsToken = "e2e-metrics-token-0123456789";

    private Dictionary<string, string?> ReplicaSettings => new()
    {
        ["Metrics:TokenFile"] = Path.Combine(_dir.FullName, "metrics_token"),
        ["Jobs:Enabled"] = "true",
        ["Jobs:IdleWaitSeconds"] = "1",
        ["Jobs:ClusterCheckinSeconds"] = "2",
        ["ForwardedHeaders:KnownProxies:0"] = ProxyAddress,
        // Shipped at Warning (request lines name VINs); the per-replica vehicle_data count below reads the request lines.
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Information",
        // The shortest intervals the options allow, so a short run sees several polls of each account.
        ["Polling:DrivingIntervalSeconds"] = "5",
        ["Polling:ChargingIntervalSeconds"] = "5",
        ["Polling:ParkedIntervalSeconds"] = "5",
        ["Polling:ListIntervalSeconds"] = "5",
        ["Polling:EnergyIntervalSeconds"] = "10",
    };

    /// <summary>
    /// Bob is polled once (his EU car's state is known), then withdraws the broker's access at Tesla: his next poll
    /// meets a 401, the refresh is refused and his account needs a reconnect. Without this the dashboard's
    /// "Accounts needing reconnect" and "Token refreshes by result" (Tesla's tokens live 8 hours) stay empty.
    /// </summary>
    private async Task BobWithdrawsAccessAfterHisFirstPollAsync()
    {
        await WaitForAsync("bob's first poll", async db => await db.VehicleReadings.AnyAsync(r => db.Vehicles.Any(v => v.Id == r.VehicleId && v.Vin == BobAsleep), Ct));
        using var control = Simulator.CreateControlClient();
        (await control.PostAsync("/_sim/accounts/bob@example.com/revoke-consent", null, Ct)).EnsureSuccessStatusCode();
    }

    /// <summary>
    /// One 429 on alice's Powerwall (live_status, not billed, not counted by the vehicle_data checks): the dashboard's
    /// Fleet API failure panels need a failure that a poll records (bob's 401 ends his poll before it saves).
    /// </summary>
    private async Task TeslaRateLimitsAlicesPowerwallOnceAsync()
    {
        using var control = Simulator.CreateControlClient();
        (await control.PostAsJsonAsync("/_sim/faults", new { path = "/api/1/energy_sites/", status = 429, retryAfterSeconds = 5, count = 1 }, Ct)).EnsureSuccessStatusCode();
    }

    private async Task<string> CreateLinkThroughNginxAsync(string apiKey)
    {
        using var http = Nginx.CreateClient(PublicUrl);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        var response = await http.PostAsJsonAsync("/api/v1/connect-links", new { label = "e2e" }, Ct);
        Assert.True(response.IsSuccessStatusCode, $"POST /api/v1/connect-links through nginx: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}\n{Nginx.ErrorLog}");
        return (await response.Content.ReadFromJsonAsync<LinkResponse>(Ct))!.Url;
    }

    private sealed record LinkResponse(string Url);

    private async Task NamesInMetricsThroughNginxAsync(string apiKey)
    {
        using var http = Nginx.CreateClient(PublicUrl);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        var response = await http.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null, accountNamesInMetrics = true }, Ct);
        Assert.True(response.IsSuccessStatusCode, $"PUT /api/v1/policy through nginx: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
    }

    /// <summary>
    /// The whole flow in a fresh Chromium profile: the link, "Continue to Tesla", sign-in and consent at the
    /// simulator, back through nginx to the callback and the result page. With <paramref name="callbackOnOtherReplica"/>,
    /// nginx's round-robin is lined up first so the callback goes to the replica that did not start the flow.
    /// </summary>
    private async Task<ConnectRun> ConnectInChromiumAsync(string link, string email, string password, bool callbackOnOtherReplica)
    {
        await using var context = await _browser!.Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
        var page = await context.NewPageAsync();
        await page.GotoAsync(link);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue to Tesla" }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(Simulator.AuthBaseUrl + "/oauth2/v3/authorize?"));
        var redirectUri = QueryHelpers.ParseQuery(new Uri(page.Url).Query)["redirect_uri"].ToString();
        var flowCookies = (await context.CookiesAsync([$"{PublicUrl}/connect/callback"]))
            .Where(c => c.Name.StartsWith(".AspNetCore.Correlation.") || c.Name.StartsWith(".AspNetCore.OpenIdConnect.Nonce.")).ToList();
        var startedOn = ServedBy($"/connect/{new Uri(link).Segments[^1]}/start");

        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign In" }).ClickAsync();
        await page.GetByLabel("Select all").CheckAsync();
        if (callbackOnOtherReplica)
        {
            await LineUpRoundRobinAfterAsync(startedOn);
        }
        var callbacksBefore = CallbackCounts();
        await page.GetByRole(AriaRole.Button, new() { Name = "Allow", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(PublicUrl + "/connect/") && !url.StartsWith(PublicUrl + "/connect/callback"));
        await page.WaitForLoadStateAsync(LoadState.DOMContentLoaded);
        var callbackOn = Replicas.Keys.Where(r => CallbackCounts()[r] > callbacksBefore[r]).ToList();
        Assert.True(callbackOn.Count == 1, $"{email}'s callback was served by [{string.Join(", ", callbackOn)}]; the browser is on {page.Url}.");
        return new ConnectRun(email, redirectUri, flowCookies, startedOn, callbackOn[0], page.Url, await page.Locator("h1").InnerTextAsync());
    }

    /// <summary>
    /// nginx (one worker) alternates the two upstream servers request by request. Probes through nginx until
    /// one lands on <paramref name="replica"/>: the next request (the browser's callback) then goes to the other.
    /// </summary>
    private async Task LineUpRoundRobinAfterAsync(string replica)
    {
        using var http = Nginx.CreateClient(PublicUrl);
        for (var i = 0; i < 4; i++)
        {
            var probe = $"/healthz?round-robin={Guid.NewGuid():N}";
            (await http.GetAsync(probe, Ct)).EnsureSuccessStatusCode();
            if (ServedBy(probe) == replica)
            {
                return;
            }
        }
        Assert.Fail($"Four requests through nginx never reached {replica}: is the upstream still round-robin over both replicas?");
    }

    /// <summary>The one replica that served a request whose path and query contain <paramref name="fragment"/>.</summary>
    public string ServedBy(string fragment)
    {
        var served = Replicas.Where(r => r.Value.App.Responses.Responses.Any(x => x.PathAndQuery.Contains(fragment))).Select(r => r.Key).ToList();
        Assert.True(served.Count == 1, $"Expected exactly one replica to have served {fragment}, found [{string.Join(", ", served)}].");
        return served[0];
    }

    private Dictionary<string, int> CallbackCounts() => Replicas.ToDictionary(r => r.Key,
        r => r.Value.App.Responses.Responses.Count(x => x.PathAndQuery.StartsWith("/connect/callback?")));

    public async Task WaitForAsync(string what, Func<global::Broker.Data.BrokerDbContext, Task<bool>> condition, int seconds = 30)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            await using (var db = Replicas["broker-1"].App.CreateDbContext())
            {
                if (await condition(db))
                {
                    return;
                }
            }
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(seconds), $"Waited {seconds} s for {what}. Replicas said:\n{Problems()}");
            await Task.Delay(250, Ct);
        }
    }

    /// <summary>Every replica's warnings and errors, for failure messages.</summary>
    public string Problems() => string.Join('\n', Replicas.SelectMany(r => r.Value.App.Logs.Lines
        .Where(l => l.StartsWith("Warning") || l.StartsWith("Error") || l.StartsWith("Critical")).Select(l => $"[{r.Key}] {l}")));

    private static Task<string> ReadRepoFileAsync(string path) => File.ReadAllTextAsync(Path.Combine(PostgresServer.RepoRoot(), path), Ct);

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
        if (Prometheus is not null)
        {
            await Prometheus.DisposeAsync();
        }
        if (Nginx is not null)
        {
            await Nginx.DisposeAsync();
        }
        foreach (var (app, _) in Replicas.Values)
        {
            await app.DisposeAsync();
        }
        if (Simulator is not null)
        {
            await Simulator.DisposeAsync();
        }
        _dir.Delete(recursive: true);
    }
}
