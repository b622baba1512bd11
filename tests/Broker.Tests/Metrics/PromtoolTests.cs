using Broker.Tests.Infrastructure;

namespace Broker.Tests.Metrics;

/// <summary>
/// <c>promtool check metrics</c> on what /metrics serves to a tenant and to the operator: the broker's families
/// parse and pass the lint; the whole exposition, the operator's process and runtime families included, parses.
/// </summary>
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
        Assert.Contains("process_cpu_seconds_total ", all);
        Assert.Contains("system_runtime_dotnet_gc_heap_total_allocated ", all);
        foreach (var (who, text) in new[] { ("household tenant key", household), ("fleet tenant key", fleet), ("operator token", all) })
        {
            // The broker's own families: parsed and linted, with no problem at all.
            var ours = BrokerFamilies(text);
            var (exitCode, output) = await PrometheusTools.CheckMetricsAsync(ours, Ct);
            Assert.True(exitCode == 0, $"promtool check metrics failed ({exitCode}) on the broker's families in the {who}'s exposition:\n{output}\n--- exposition ---\n{ours}");

            // Everything served, the runtime's families included: it must parse (1 = parse error); 3 = lint problems, which
            // may only concern names the broker does not choose (System.Runtime's *_count gauges).
            (exitCode, output) = await PrometheusTools.CheckMetricsAsync(text, Ct);
            Assert.True(exitCode is 0 or 3, $"promtool could not parse the {who}'s exposition ({exitCode}):\n{output}");
            Assert.DoesNotContain("tesla_", output);
        }
    }

    [Fact]
    public async Task TheLintOfTheBrokersFamiliesIsNotWeakenedByTheRuntimesOnes()
    {
        var text = "# HELP system_runtime_dotnet_timer_count A runtime gauge.\n# TYPE system_runtime_dotnet_timer_count gauge\nsystem_runtime_dotnet_timer_count 3\n"
            + "# HELP tesla_broker_bad A counter without _total.\n# TYPE tesla_broker_bad counter\ntesla_broker_bad 1\n";

        var (exitCode, output) = await PrometheusTools.CheckMetricsAsync(BrokerFamilies(text), Ct);

        Assert.Equal(3, exitCode);
        Assert.Contains("tesla_broker_bad", output);
        Assert.DoesNotContain("system_runtime", output);
    }

    [Fact]
    public async Task PromtoolTellsALintProblemFromAParseErrorSoAPassMeansSomething()
    {
        var (exitCode, output) = await PrometheusTools.CheckMetricsAsync(
            "# HELP tesla_broker_bad A counter without _total.\n# TYPE tesla_broker_bad counter\ntesla_broker_bad 1\n", Ct);

        Assert.Equal(3, exitCode);
        Assert.Contains("_total", output);

        // And a broken line is a parse error (1), which the whole-exposition check above never lets through.
        (exitCode, _) = await PrometheusTools.CheckMetricsAsync("# TYPE tesla_broker_x gauge\ntesla_broker_x{tenant=\"a} 1\n", Ct);
        Assert.Equal(1, exitCode);
    }

    /// <summary>The lines of the families the broker names itself (<c>tesla_*</c>): comments and samples.</summary>
    private static string BrokerFamilies(string exposition) => string.Concat(exposition.Split('\n')
        .Where(l => (l.StartsWith("# HELP ") || l.StartsWith("# TYPE ") ? l[7..] : l).StartsWith("tesla_", StringComparison.Ordinal))
        .Select(l => l + "\n"));
}
