using System.Diagnostics;
using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Metrics;

/// <summary>
/// A real Prometheus server (Debian's package) scrapes the broker on a real loopback port every
/// second, once with a tenant's API key and once with the operator token, and the series are
/// read back through its HTTP API. Accounts are connected and polled through one broker (in
/// memory, where the connect flow's redirect URI lives); Prometheus scrapes a second replica on
/// the same database, as it would behind a load balancer.
/// </summary>
public sealed class PrometheusScrapeTests(PostgresServer postgres) : IAsyncLifetime
{
    private const string OperatorToken = BrokerApplication.OperatorToken;
    private const string AliceDriving = "5YJ3E1EA7PF381204";
    private const string AliceCharging = "7SAYGDEE5PA114587";
    private const string BobAsleep = "XP7YGCEK1PB209361";

    private readonly SimulatorHost _simulator = new();
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("broker-prometheus-");
    private BrokerApplication? _broker;
    private BrokerApplication? _scraped;
    private PrometheusHost? _prometheus;
    private string _householdKey = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var database = await postgres.CreateDatabaseAsync();
        _broker = new BrokerApplication(database, _simulator, new() { ["Operator:Token"] = OperatorToken });

        string householdLink, fleetLink;
        await using (var scope = _broker.Services.CreateAsyncScope())
        {
            var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
            var household = await provisioning.EnsureTenantAsync("household", "The Household", Ct);
            var fleet = await provisioning.EnsureTenantAsync("fleet", "The Fleet", Ct);
            _householdKey = await provisioning.AddApiKeyAsync(household.Id, "prometheus", Ct);
            (_, householdLink) = await provisioning.AddConnectLinkAsync(household.Id, "test", Ct);
            (_, fleetLink) = await provisioning.AddConnectLinkAsync(fleet.Id, "test", Ct);
        }
        await new TeslaUser(_broker, _simulator).ConnectAsync(householdLink, "alice@example.com", "alice-demo");
        await new TeslaUser(_broker, _simulator).ConnectAsync(fleetLink, "bob@example.com", "bob-demo");
        await using (var db = _broker.CreateDbContext())
        {
            foreach (var id in await db.TeslaAccounts.Select(a => a.Id).ToListAsync(Ct))
            {
                await using var scope = _broker.Services.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<global::Broker.Polling.AccountPoller>().PollAsync(id, null, Ct);
            }
        }
        _scraped = new BrokerApplication(database, _simulator, new() { ["Operator:Token"] = OperatorToken });
        StartPrometheus(new Uri(_scraped.StartOnRealPort(PostgresServer.FreePort())).Authority);
    }

    [Fact]
    public async Task PrometheusScrapesTenantAndOperatorSeriesWithTheirLabels()
    {
        var household = await WaitForSeriesAsync("tesla_vehicle_battery_level_percent{job=\"household\"}", 2);
        var everyone = await WaitForSeriesAsync("tesla_vehicle_battery_level_percent{job=\"operator\"}", 2);
        await WaitForSeriesAsync("tesla_vehicle_info{job=\"operator\"}", 3);

        await using var db = _broker!.CreateDbContext();
        var alice = await db.TeslaAccounts.Where(a => a.Vehicles.Any(v => v.Vin == AliceDriving)).Select(a => a.Id).SingleAsync(Ct);
        var stored = await (from r in db.VehicleReadings join v in db.Vehicles on r.VehicleId equals v.Id select new { v.Vin, r.BatteryLevel })
            .ToDictionaryAsync(x => x.Vin, x => x.BatteryLevel, Ct);
        foreach (var series in new[] { household, everyone })
        {
            Assert.Equal([AliceDriving, AliceCharging], series.Select(s => s.Labels["vin"]).Order(StringComparer.Ordinal));
            Assert.All(series, s =>
            {
                Assert.Equal("household", s.Labels["tenant"]);
                Assert.Equal(alice.ToString("N"), s.Labels["account"]);
                Assert.Equal<double>(stored[s.Labels["vin"]]!.Value, s.Value); // what Postgres holds is what Prometheus stored
            });
        }

        // The tenant key's job carries that tenant only; bob's car (another tenant) is nowhere in it.
        Assert.Equal(["household"], (await QueryAsync("group by (tenant) ({job=\"household\",tenant!=\"\"})")).Select(s => s.Labels["tenant"]));
        Assert.Empty(await QueryAsync($"{{job=\"household\",vin=\"{BobAsleep}\"}}"));
        Assert.Empty(await QueryAsync("tesla_broker_polls_total{job=\"household\"}"));

        // The operator's job has every tenant, bob's sleeping car included, and this replica's health.
        Assert.Equal(["fleet", "household"], (await QueryAsync("group by (tenant) (tesla_vehicle_info{job=\"operator\"})")).Select(s => s.Labels["tenant"]).Order());
        Assert.Single(await QueryAsync($"tesla_vehicle_state{{job=\"operator\",tenant=\"fleet\",vin=\"{BobAsleep}\",state=\"asleep\"}} == 1"));
        var polls = await QueryAsync("tesla_broker_polls_total{job=\"operator\",kind=\"vehicle_data\",result=\"ok\"}");
        Assert.True(polls.Single().Value >= 2, $"expected at least the 2 vehicle_data polls made here, got {polls.Single().Value}");
        Assert.Equal([1.0, 1.0], (await QueryAsync("up{job=~\"household|operator\"}")).Select(s => s.Value));
    }

    private void StartPrometheus(string brokerAuthority)
    {
        _prometheus = new PrometheusHost(_dir, PostgresServer.FreePort());
        _prometheus.Start($$"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: household
                authorization: { type: Bearer, credentials: "{{_householdKey}}" }
                static_configs: [{ targets: ["{{brokerAuthority}}"] }]
              - job_name: operator
                authorization: { type: Bearer, credentials: "{{OperatorToken}}" }
                static_configs: [{ targets: ["{{brokerAuthority}}"] }]
            """);
    }

    /// <summary>Polls the query API until it returns at least <paramref name="count"/> series (the first scrape lands ~5 s after start).</summary>
    private async Task<List<PromSample>> WaitForSeriesAsync(string query, int count)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await QueryAsync(query) is { } found && found.Count >= count)
                {
                    return found;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"'{query}' did not reach {count} series within 30 s. Prometheus said:\n{_prometheus!.Log}");
            await Task.Delay(250, Ct);
        }
    }

    /// <summary>The series <paramref name="promql"/> selects; the query must succeed (the host fails the test if prometheus exited).</summary>
    private async Task<List<PromSample>> QueryAsync(string promql)
    {
        var result = await _prometheus!.QueryAsync(promql, Ct);
        Assert.True(result.Status == "success", $"query '{promql}' answered {result.Status}: {result.Body}");
        return result.Samples();
    }

    public async ValueTask DisposeAsync()
    {
        if (_prometheus is not null)
        {
            await _prometheus.DisposeAsync();
        }
        if (_scraped is not null)
        {
            await _scraped.DisposeAsync();
        }
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
        await _simulator.DisposeAsync();
        _dir.Delete(recursive: true);
    }
}
