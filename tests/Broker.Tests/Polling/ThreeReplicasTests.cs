using System.Diagnostics;
using System.Net.Http.Headers;
using Broker.Polling;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace Broker.Tests.Polling;

/// <summary>
/// Three replicas on one database, clustered Quartz on the wall clock, access tokens living 60 s so that each
/// account is refreshed every ~30 s: for a stretch, every account is polled by one replica at a time, refreshed
/// no more often than one replica alone would, and every replica answers the tenant's scrape with the same exposition
/// (checked every 30 s, not only at the end). `bench/Replicas/run.sh` runs the same scaled up: BROKER_REPLICAS_COUNT,
/// BROKER_REPLICAS_ACCOUNTS, BROKER_REPLICAS_SECONDS, BROKER_REPLICAS_CHECK_SECONDS, BROKER_REPLICAS_REPORT.
/// </summary>
public sealed class ThreeReplicasTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private static readonly int Replicas = Setting("BROKER_REPLICAS_COUNT", 3);
    private static readonly int Accounts = Setting("BROKER_REPLICAS_ACCOUNTS", 2);
    private static readonly TimeSpan Stretch = TimeSpan.FromSeconds(Setting("BROKER_REPLICAS_SECONDS", 65));
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(Setting("BROKER_REPLICAS_CHECK_SECONDS", 30));

    protected override bool UseFakeTime => false;
    protected override Dictionary<string, string?> BrokerSettings => Settings;
    protected override Dictionary<string, string?> SimulatorSettings => new() { ["Simulator:AccessTokenLifetimeSeconds"] = "60" };
    protected override string? SimulatorSeedFile => Accounts > 2 ? ReplicaFleet.WriteSeed(Accounts) : null;

    private static int Setting(string name, int fallback) => int.TryParse(Environment.GetEnvironmentVariable(name), out var v) ? v : fallback;

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
        ["Console:ConnectPerMinute"] = "1000",
        // Each replica would serve its own build for 5 s: with a poll landing every few hundred ms, three caches
        // built at different moments never agree. The test compares what the replicas build, not cache ages.
        ["Metrics:CacheSeconds"] = "0",
    };

    [Fact]
    public async Task ThreeReplicasPollEachAccountOneAtATimeRefreshOnceAndScrapeTheSame()
    {
        var replicas = new List<(string Name, BrokerApplication App)> { ("broker-1", Broker) };
        try
        {
            for (var i = 2; i <= Replicas; i++)
            {
                replicas.Add(($"broker-{i}", new BrokerApplication(Broker.ConnectionString, Simulator, Settings)));
            }
            await RunStretchAsync(replicas);
        }
        finally
        {
            foreach (var (_, app) in replicas.Skip(1))
            {
                await app.DisposeAsync();
            }
        }
    }

    private async Task RunStretchAsync(List<(string Name, BrokerApplication App)> replicas)
    {
        var polls = new PollRecorder();
        foreach (var (name, app) in replicas)
        {
            await polls.AttachAsync(name, app.Services, Ct);
        }
        var people = ReplicaFleet.People(Accounts).ToList();
        foreach (var (email, password) in people)
        {
            await NewUser().ConnectAsync(LinkToken, email, password);
        }
        await using (var db = Broker.CreateDbContext())
        {
            Assert.Equal(Accounts, await db.TeslaAccounts.CountAsync(Ct));
        }
        await ResetSimCallsAsync(); // from here on, every auth call is a refresh
        var started = Stopwatch.StartNew();
        var disagreements = new List<string>();
        var checks = 0;
        while (started.Elapsed < Stretch)
        {
            await Task.Delay(Min(CheckEvery, Stretch - started.Elapsed), Ct);
            checks++;
            if (await ScrapeDifferenceAsync(replicas.Select(r => r.App).ToList()) is { } difference)
            {
                disagreements.Add($"at {started.Elapsed.TotalSeconds:F0} s: {difference}");
            }
            if (Stretch - started.Elapsed > TimeSpan.FromSeconds(10))
            {
                await DuplicateTriggersAsync();
            }
        }
        var elapsed = started.Elapsed;
        var runs = polls.Runs;

        var overlaps = runs.GroupBy(r => r.Account).SelectMany(account =>
        {
            var ordered = account.OrderBy(r => r.Started).ToList();
            return ordered.Zip(ordered.Skip(1)).Where(p => p.Second.Started < p.First.Ended)
                .Select(p => $"{account.Key}: {p.First.Replica} and {p.Second.Replica}");
        }).ToList();
        // One replica alone refreshes an account at most once per 30 s (60 s tokens, refreshed 30 s before expiry).
        // Two replicas refreshing the same token at once would both reach Tesla (the old token stays valid 24 h).
        var auth = (await SimCallsAsync()).Where(c => c.Category == "auth").ToList();
        var perAccount = auth.GroupBy(c => c.Account).ToDictionary(a => a.Key, a => a.Sum(c => c.Count));
        var allowed = (int)(elapsed.TotalSeconds / 30) + 1;
        var figures = $"| {Replicas} | {Accounts} | {elapsed.TotalSeconds:F0} | {string.Join(" / ", replicas.Select(r => runs.Count(p => p.Replica == r.Name)))} "
            + $"| {overlaps.Count} | {perAccount.Values.Sum()} ≤ {Accounts * allowed} (max {perAccount.Values.DefaultIfEmpty().Max()} per account, allowed {allowed}) "
            + $"| {checks - disagreements.Count}/{checks} checks |";
        TestContext.Current.TestOutputHelper?.WriteLine("replicas: " + figures);
        if (Environment.GetEnvironmentVariable("BROKER_REPLICAS_REPORT") is { Length: > 0 } report)
        {
            await File.WriteAllTextAsync(report, figures + "\n", Ct);
        }

        Assert.True(overlaps.Count == 0, "Accounts polled twice at once (replica and replica): " + string.Join("; ", overlaps.Take(20)));
        Assert.True(runs.Select(r => r.Replica).Distinct().Count() >= 2, "Only one replica ever polled: the stretch shows nothing about sharing");
        Assert.Equal(Accounts, runs.Select(r => r.Account).Distinct().Count());
        Assert.DoesNotContain(auth, c => c.Status != 200);
        Assert.All(perAccount, a => Assert.True(a.Value <= allowed,
            $"{a.Key}: {a.Value} token calls in {elapsed.TotalSeconds:F0} s, at most {allowed} without concurrent refreshes"));
        Assert.Equal(people.Select(p => p.Email).Order(), perAccount.Keys.Order()); // every account was refreshed
        Assert.True(disagreements.Count == 0, "The replicas' scrapes differ:\n" + string.Join('\n', disagreements.Take(5)));
    }

    /// <summary>
    /// Two extra one-shot triggers per account's job, firing together: what two nodes re-declaring one trigger did
    /// (TOOLING.md, clustered Quartz). <see cref="PollAccountJob"/> must still run once at a time.
    /// </summary>
    private async Task DuplicateTriggersAsync()
    {
        var scheduler = await Broker.Services.GetRequiredService<ISchedulerFactory>().GetScheduler(Ct);
        await using var db = Broker.CreateDbContext();
        var at = DateTimeOffset.UtcNow.AddSeconds(2);
        foreach (var id in await db.TeslaAccounts.Select(a => a.Id).ToListAsync(Ct))
        {
            foreach (var copy in new[] { "a", "b" })
            {
                await scheduler.ScheduleJob(TriggerBuilder.Create()
                    .WithIdentity($"duplicate-{copy}-{id:N}-{at.ToUnixTimeMilliseconds()}", PollSchedule.Group)
                    .ForJob(PollSchedule.JobKeyOf(id)).StartAt(at).Build(), new ScheduleJobOptions(), Ct);
            }
        }
    }

    /// <summary>
    /// Null when the tenant's exposition, built from Postgres, is byte-for-byte the same on every replica (a poll
    /// landing between the scrapes is retried); otherwise the first differing lines.
    /// </summary>
    private async Task<string?> ScrapeDifferenceAsync(List<BrokerApplication> replicas)
    {
        var scrapes = new List<string[]>();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            scrapes = [];
            foreach (var app in replicas)
            {
                var client = app.CreateClient();
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
                var body = await client.GetStringAsync("/metrics", Ct);
                // The one per-process series a tenant sees: how long this replica took to build the exposition.
                scrapes.Add([.. body.Split('\n').Where(l => !l.Contains("tesla_broker_scrape_duration_seconds"))]);
            }
            if (scrapes.All(s => s.SequenceEqual(scrapes[0])))
            {
                Assert.Contains(scrapes[0], l => l.StartsWith("tesla_vehicle_"));
                return null;
            }
            await Task.Delay(250, Ct);
        }
        return string.Join('\n', scrapes.Skip(1).SelectMany(s => s.Except(scrapes[0])).Take(10));
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
