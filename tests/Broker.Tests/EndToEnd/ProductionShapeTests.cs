using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.EndToEnd;

/// <summary>
/// The production shape end to end (<see cref="ProductionDeployment"/>): Chromium → nginx (TLS, the repository's
/// config) → two broker replicas on one Postgres → the Tesla simulator, and Prometheus scraping both replicas
/// with the repository's config, queried with every expression of the repository's Grafana dashboard.
/// </summary>
public sealed partial class ProductionShapeTests(ProductionDeployment deployment) : IClassFixture<ProductionDeployment>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void TeslaGetsThePublicHttpsCallbackAndTheFlowCookiesAreSecure()
    {
        Assert.All(new[] { deployment.Alice, deployment.Bob }, run =>
        {
            // Built from nginx's X-Forwarded-Proto/Host: what the browser sees, not the hop to Kestrel.
            Assert.Equal($"{deployment.PublicUrl}/connect/callback", run.RedirectUri);
            Assert.Contains(run.FlowCookies, c => c.Name.StartsWith(".AspNetCore.Correlation."));
            Assert.Contains(run.FlowCookies, c => c.Name.StartsWith(".AspNetCore.OpenIdConnect.Nonce."));
            Assert.All(run.FlowCookies, c =>
            {
                Assert.True(c.Secure, $"{run.Email}'s {c.Name} is not Secure");
                Assert.True(c.HttpOnly, $"{run.Email}'s {c.Name} is readable by script");
            });
            Assert.True(run.ResultUrl.StartsWith($"{deployment.PublicUrl}/connect/result?r=") && run.Heading == "Your Tesla account is connected",
                $"{run.Email} ended on {run.ResultUrl}: \"{run.Heading}\". Replicas said:\n{deployment.Problems()}");
        });
    }

    [Fact]
    public void NginxLogsTheCallbackWithoutTeslasCode()
    {
        var log = File.Exists(deployment.Nginx.AccessLogPath) ? File.ReadAllText(deployment.Nginx.AccessLogPath) : "";
        Assert.Contains("/connect/callback", log);   // it is logged, so the next lines mean something
        Assert.DoesNotContain("code=", log);
        Assert.DoesNotContain("state=", log);
    }

    [Fact]
    public async Task CallbackLandingOnTheOtherReplicaCompletesTheConnect()
    {
        var alice = deployment.Alice;
        Assert.NotEqual(alice.StartedOn, alice.CallbackOn);
        Assert.Equal("Your Tesla account is connected", alice.Heading);

        await using var db = deployment.Replicas["broker-1"].App.CreateDbContext();
        var accounts = await db.TeslaAccounts.Include(a => a.Vehicles).Include(a => a.EnergySites).ToListAsync(Ct);
        var aliceAccount = Assert.Single(accounts, a => a.Region == "na");
        Assert.Equal(2, aliceAccount.Vehicles.Count);
        Assert.Single(aliceAccount.EnergySites);
        Assert.Equal(AccountStatus.Active, aliceAccount.Status);
        Assert.Single(accounts, a => a.Region == "eu");
        TestContext.Current.TestOutputHelper?.WriteLine($"alice: started on {alice.StartedOn}, callback on {alice.CallbackOn} (lined up); "
            + $"bob: started on {deployment.Bob.StartedOn}, callback on {deployment.Bob.CallbackOn} (as round-robin fell)");
    }

    [Fact]
    public async Task OnlyNginxMayClaimHttpsAndThePublicHost()
    {
        foreach (var (_, port) in deployment.Replicas.Values)
        {
            // Straight from 127.0.0.1 (not the proxy's 127.0.0.2), forged headers are ignored.
            using var direct = Client($"http://127.0.0.1:{port}", deployment.HouseholdKey, forged: true);
            Assert.StartsWith($"http://127.0.0.1:{port}/connect/", await CreateLinkAsync(direct), StringComparison.Ordinal);

            var token = new Uri(await CreateLinkAsync(direct)).Segments[^1];
            Assert.Equal($"http://127.0.0.1:{port}/connect/callback", await StartConnectAsync(direct, token));
        }

        // Through nginx the same forged headers are replaced by nginx's own: the public https host.
        using var proxied = deployment.Nginx.CreateClient(deployment.PublicUrl);
        proxied.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", deployment.HouseholdKey);
        Forge(proxied);
        Assert.StartsWith($"{deployment.PublicUrl}/connect/", await CreateLinkAsync(proxied), StringComparison.Ordinal);

        // And plain http on nginx is only ever a redirect to https.
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false });
        var redirect = await http.GetAsync($"http://localhost:{deployment.HttpPort}/connect/anything", Ct);
        Assert.Equal(HttpStatusCode.MovedPermanently, redirect.StatusCode);
        Assert.Equal("https://localhost/connect/anything", redirect.Headers.Location!.OriginalString);
    }

    /// <summary>
    /// Grafana's variables as a person looking at "All tenants" over the last minutes would have them. The 24 h
    /// windows need no shortening: increase() over a range holding a few samples is already evaluable.
    /// </summary>
    private static readonly Dictionary<string, string> DashboardVariables = new()
    {
        ["tenant"] = ".*", ["__rate_interval"] = "1m", ["__range"] = "5m", ["__interval"] = "15s",
    };

    [Fact]
    public async Task EveryDashboardQueryHasDataInPrometheus()
    {
        var path = Path.Combine(PostgresServer.RepoRoot(), "deploy/grafana/dashboards/broker.json");
        Assert.True(File.Exists(path), $"{path} is missing: the dashboard docker-compose.yml provisions into Grafana.");
        var json = await File.ReadAllTextAsync(path, Ct);
        var queries = GrafanaDashboard.Queries(json, DashboardVariables);
        Assert.NotEmpty(queries);
        await deployment.Prometheus.WaitForTargetsUpAsync("broker", 2, Ct);

        // Data arrives over the run (polls every 5 s, a scrape every second, rates need two samples): ask again until all answer.
        var watch = Stopwatch.StartNew();
        List<string> failures;
        while (true)
        {
            failures = [];
            foreach (var query in queries)
            {
                var result = await deployment.Prometheus.QueryAsync(query.Expr, Ct);
                if (!result.HasData)
                {
                    failures.Add($"[{query.Panel}] {query.Expr}\n    → {(result.Status == "success" ? $"no data ({result.ResultType}, 0 series)" : $"{result.Status}: {result.Error}")}");
                }
            }
            foreach (var variable in GrafanaDashboard.VariableQueries(json))
            {
                if (LabelValues().Match(variable) is not { Success: true } m)
                {
                    failures.Add($"[variable] {variable}\n    → not label_values(selector, label): the test cannot evaluate it");
                }
                else if (await deployment.Prometheus.LabelValuesAsync(m.Groups[2].Value, m.Groups[1].Value, Ct) is var values
                    && !(values.Contains("household") && values.Contains("fleet")))
                {
                    failures.Add($"[variable] {variable}\n    → [{string.Join(", ", values)}], expected both tenants");
                }
            }
            if (failures.Count == 0 || watch.Elapsed > TimeSpan.FromSeconds(60))
            {
                break;
            }
            await Task.Delay(1000, Ct);
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {queries.Count} dashboard queries still had no data after {watch.Elapsed.TotalSeconds:F0} s:\n"
            + string.Join('\n', failures) + $"\nReplicas said:\n{deployment.Problems()}");
        TestContext.Current.TestOutputHelper?.WriteLine($"All {queries.Count} dashboard queries answered with data after {watch.Elapsed.TotalSeconds:F1} s.");
    }

    [GeneratedRegex(@"^label_values\((.+),\s*(\w+)\)$")]
    private static partial Regex LabelValues();

    [Fact]
    public async Task EachAccountIsPolledByOneReplicaAtATime()
    {
        // Let the scheduler run for a while: at 5 s intervals alice's account is due several times.
        var wait = TimeSpan.FromSeconds(20) - Stopwatch.GetElapsedTime(deployment.AliceConnectedAt);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, Ct);
        }
        var (runs, fetches, billed) = await QuietSnapshotAsync();
        var origin = deployment.AliceConnectedAt;
        string Show(PollRun r) => $"{r.Replica} {r.StartedAt(origin).TotalSeconds:F3}–{r.EndedAt(origin).TotalSeconds:F3} s";

        Assert.NotEqual(deployment.QuartzInstanceIds["broker-1"], deployment.QuartzInstanceIds["broker-2"]);
        var overlaps = runs.GroupBy(r => r.Account).SelectMany(account =>
        {
            var ordered = account.OrderBy(r => r.Started).ToList();
            return ordered.Zip(ordered.Skip(1)).Where(p => p.Second.Started < p.First.Ended)
                .Select(p => $"{account.Key}: {Show(p.First)} overlaps {Show(p.Second)}");
        }).ToList();
        Assert.True(overlaps.Count == 0, "An account was polled twice at once:\n" + string.Join('\n', overlaps));
        Assert.True(runs.Count >= 4, $"Only {runs.Count} polls in {Stopwatch.GetElapsedTime(origin).TotalSeconds:F0} s: is the scheduler running?\n{deployment.Problems()}");

        // Tesla's own ledger agrees with the replicas: every vehicle_data it answered (each attempt) is one a replica
        // logged sending, and only replicas with recorded poll runs sent any.
        Assert.Equal(billed, fetches.Values.Sum());
        Assert.All(fetches.Where(f => f.Value > 0), f => Assert.Contains(runs, r => r.Replica == f.Key));

        // Sharing the work is Quartz's choice, not a promise: reported, not asserted.
        var output = TestContext.Current.TestOutputHelper;
        foreach (var account in runs.GroupBy(r => r.Account))
        {
            output?.WriteLine($"{account.Key}: {string.Join(", ", account.GroupBy(r => r.Replica).OrderBy(g => g.Key).Select(g => $"{g.Count()} on {g.Key}"))}");
            output?.WriteLine("  " + string.Join("; ", account.OrderBy(r => r.Started).Select(Show)));
        }
        output?.WriteLine($"vehicle_data fetches: {string.Join(", ", fetches.Select(f => $"{f.Value} by {f.Key}"))}; Tesla's ledger: {billed}");
    }

    /// <summary>
    /// Poll runs, vehicle_data requests each replica logged (every attempt, as the simulator counts them) and the
    /// simulator's count of vehicle_data calls, read while no poll is running so that the three agree in time.
    /// </summary>
    private async Task<(IReadOnlyList<PollRun> Runs, Dictionary<string, int> Fetches, long Billed)> QuietSnapshotAsync()
    {
        using var control = deployment.Simulator.CreateControlClient();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var runs = deployment.Polls.Runs;
            if (deployment.Polls.Running.Count == 0)
            {
                var fetches = deployment.Replicas.ToDictionary(r => r.Key, r => r.Value.App.Logs.Lines.Count(l =>
                    l.Contains(".ClientHandler: Sending HTTP request") && l.Contains("/vehicle_data")));
                var ledger = await control.GetFromJsonAsync<JsonElement>("/_sim/calls", Ct);
                var billed = ledger.GetProperty("calls").EnumerateArray()
                    .Where(c => c.GetProperty("category").GetString() == "data").Sum(c => c.GetProperty("count").GetInt64());
                if (deployment.Polls.Running.Count == 0 && deployment.Polls.Runs.Count == runs.Count)
                {
                    return (runs, fetches, billed);
                }
            }
            await Task.Delay(100, Ct);
        }
        Assert.Fail("Polls never paused for a consistent snapshot.");
        return default;
    }

    private static HttpClient Client(string baseUrl, string apiKey, bool forged)
    {
        var http = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false, AllowAutoRedirect = false, CookieContainer = new CookieContainer(),
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // explicitly not the proxy's address
                await socket.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        }) { BaseAddress = new Uri(baseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        if (forged)
        {
            Forge(http);
        }
        return http;
    }

    private static void Forge(HttpClient http)
    {
        http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        http.DefaultRequestHeaders.Add("X-Forwarded-Host", "evil.example");
        http.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");
    }

    private static async Task<string> CreateLinkAsync(HttpClient http)
    {
        var response = await http.PostAsJsonAsync("/api/v1/connect-links", new { label = "forged" }, Ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("url").GetString()!;
    }

    /// <summary>Opens the connect page and presses the button; returns the redirect_uri the broker sends Tesla.</summary>
    private static async Task<string> StartConnectAsync(HttpClient http, string token)
    {
        var page = await http.GetStringAsync($"/connect/{token}", Ct);
        var start = await http.PostAsync($"/connect/{token}/start", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = TeslaUser.Hidden(page, "__RequestVerificationToken"),
        }), Ct);
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        return QueryHelpers.ParseQuery(start.Headers.Location!.Query)["redirect_uri"].ToString();
    }
}
