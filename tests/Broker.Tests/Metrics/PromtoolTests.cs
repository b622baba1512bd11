using Broker.Tests.Infrastructure;

namespace Broker.Tests.Metrics;

/// <summary><c>promtool check metrics</c> (parse and lint) on what /metrics serves to a tenant and to the operator.</summary>
public sealed class PromtoolTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string OperatorToken = BrokerApplication.OperatorToken;

    [Fact]
    public async Task TenantAndOperatorExpositionsPassPromtool()
    {
        var (_, fleetKey, fleetLink) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(fleetLink, "bob@example.com", "bob-demo");
        await PollAccountsAsync();
        await PollAccountsAsync(); // a second round: counters and the lag histogram hold more than one sample

        var household = await ScrapeMetricsAsync(ApiKey);
        var fleet = await ScrapeMetricsAsync(fleetKey);
        var all = await ScrapeMetricsAsync(OperatorToken);

        // The families worth linting are really there: vehicle and site readings, usage, health.
        Assert.Contains("tesla_vehicle_battery_level_percent{", household);
        Assert.Contains("tesla_energy_site_solar_power_watts{", household);
        Assert.Contains("tesla_broker_api_cost_dollars_total{", household);
        Assert.Contains("tesla_vehicle_info{", fleet);
        Assert.Contains("tesla_broker_polls_total{", all);
        Assert.Contains("tesla_broker_poll_last_success_timestamp_seconds", all);
        foreach (var (who, text) in new[] { ("household tenant key", household), ("fleet tenant key", fleet), ("operator token", all) })
        {
            var (exitCode, output) = await PrometheusTools.CheckMetricsAsync(text, Ct);
            Assert.True(exitCode == 0, $"promtool check metrics failed ({exitCode}) on the {who}'s exposition:\n{output}\n--- exposition ---\n{text}");
        }
    }

    [Fact]
    public async Task PromtoolRejectsALintProblemSoAPassMeansSomething()
    {
        var (exitCode, output) = await PrometheusTools.CheckMetricsAsync(
            "# HELP tesla_broker_bad A counter without _total.\n# TYPE tesla_broker_bad counter\ntesla_broker_bad 1\n", Ct);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("_total", output);
    }
}
