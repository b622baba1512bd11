using System.Diagnostics;
using System.Net.Http.Headers;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Polling;

/// <summary>
/// Three replicas on one database, clustered Quartz on the wall clock, access tokens living 60 s so that each
/// account is refreshed every ~30 s: for a stretch, every account is polled by one replica at a time, refreshed
/// no more often than one replica alone would, and every replica answers the tenant's scrape with the same exposition.
/// </summary>
public sealed class ThreeReplicasTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private static readonly TimeSpan Stretch = TimeSpan.FromSeconds(65);

    protected override bool UseFakeTime => false;
    protected override Dictionary<string, string?> BrokerSettings => Settings;
    protected override Dictionary<string, string?> SimulatorSettings => new() { ["Simulator:AccessTokenLifetimeSeconds"] = "60" };

    private static Dictionary<string, string?> Settings => new()
    {
        ["Jobs:Enabled"] = "true",
        ["Jobs:IdleWaitSeconds"] = "1",
        ["Jobs:ClusterCheckinSeconds"] = "2",
        ["Tokens:RefreshBeforeExpirySeconds"] = "30",
        ["Polling:DrivingIntervalSeconds"] = "5",
        ["Polling:ChargingIntervalSeconds"] = "5",
        ["Polling:ParkedIntervalSeconds"] = "5",
        ["Polling:ListIntervalSeconds"] = "5",
        ["Polling:EnergyIntervalSeconds"] = "10",
    };

    [Fact]
    public async Task ThreeReplicasPollEachAccountOneAtATimeRefreshOnceAndScrapeTheSame()
    {
        await using var second = new BrokerApplication(Broker.ConnectionString, Simulator, Settings);
        await using var third = new BrokerApplication(Broker.ConnectionString, Simulator, Settings);
        var replicas = new[] { ("broker-1", Broker), ("broker-2", second), ("broker-3", third) };
        var polls = new PollRecorder();
        foreach (var (name, app) in replicas)
        {
            await polls.AttachAsync(name, app.Services, Ct);
        }
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");
        await ResetSimCallsAsync(); // from here on, every auth call is a refresh
        var started = Stopwatch.StartNew();
        await Task.Delay(Stretch, Ct);
        var runs = polls.Runs;

        foreach (var account in runs.GroupBy(r => r.Account))
        {
            var ordered = account.OrderBy(r => r.Started).ToList();
            var overlaps = ordered.Zip(ordered.Skip(1)).Where(p => p.Second.Started < p.First.Ended).ToList();
            Assert.True(overlaps.Count == 0, $"{account.Key} was polled by two replicas at once: "
                + string.Join("; ", overlaps.Select(p => $"{p.First.Replica} and {p.Second.Replica}")));
        }
        Assert.True(runs.Select(r => r.Replica).Distinct().Count() >= 2, "Only one replica ever polled: the stretch shows nothing about sharing");
        Assert.Equal(2, runs.Select(r => r.Account).Distinct().Count());

        // One replica alone refreshes an account at most once per 30 s (60 s tokens, refreshed 30 s before expiry).
        // Two replicas refreshing the same token at once would both reach Tesla (the old token stays valid 24 h).
        var auth = (await SimCallsAsync()).Where(c => c.Category == "auth").ToList();
        Assert.DoesNotContain(auth, c => c.Status != 200);
        var allowed = (int)(started.Elapsed.TotalSeconds / 30) + 1;
        Assert.All(auth.GroupBy(c => c.Account), a => Assert.True(a.Sum(c => c.Count) <= allowed,
            $"{a.Key}: {a.Sum(c => c.Count)} token calls in {started.Elapsed.TotalSeconds:F0} s, at most {allowed} without concurrent refreshes"));
        Assert.Equal(["alice@example.com", "bob@example.com"], auth.Select(c => c.Account).Distinct().Order());
        Assert.All(auth.GroupBy(c => c.Account), a => Assert.True(a.Sum(c => c.Count) >= 1, $"{a.Key} was never refreshed"));

        await ScrapesAgreeAsync(replicas.Select(r => r.Item2).ToList());
    }

    /// <summary>The tenant's exposition, built from Postgres, is byte-for-byte the same on every replica (a poll landing between scrapes is retried).</summary>
    private async Task ScrapesAgreeAsync(List<BrokerApplication> replicas)
    {
        var scrapes = new List<string>();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            scrapes = [];
            foreach (var app in replicas)
            {
                var client = app.CreateClient();
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
                var body = await client.GetStringAsync("/metrics", Ct);
                // The one per-process series a tenant sees: how long this replica took to build the exposition.
                scrapes.Add(string.Join('\n', body.Split('\n').Where(l => !l.Contains("tesla_broker_scrape_duration_seconds"))));
            }
            if (scrapes.Distinct().Count() == 1)
            {
                Assert.Contains("tesla_vehicle_", scrapes[0]);
                return;
            }
            await Task.Delay(300, Ct);
        }
        var differing = scrapes[1].Split('\n').Except(scrapes[0].Split('\n')).Concat(scrapes[2].Split('\n').Except(scrapes[0].Split('\n')));
        Assert.Fail("The replicas' scrapes differ in 10 attempts:\n" + string.Join('\n', differing.Take(20)));
    }
}
