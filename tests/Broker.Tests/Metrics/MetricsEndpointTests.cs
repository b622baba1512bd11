using System.Net;
using System.Net.Http.Headers;
using Broker.Polling;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Metrics;

public sealed class MetricsEndpointTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string OperatorToken = BrokerApplication.OperatorToken;

    [Fact]
    public async Task PolledReadingsAppearAsTenantSeries()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();

        var text = await ScrapeMetricsAsync(ApiKey);

        Assert.Contains("tesla_vehicle_battery_level_percent{tenant=\"household\"", text);
        Assert.Matches("tesla_vehicle_info\\{[^}]*vin=\"5YJ3E1EA7PF381204\"[^}]*display_name=\"Midnight Runner\"", text);
        Assert.Contains("tesla_vehicle_latitude_degrees{", text);
        Assert.Matches("tesla_vehicle_charging_state\\{[^}]*vin=\"7SAYGDEE5PA114587\",state=\"Charging\"\\} 1", text);
        Assert.Matches("tesla_energy_site_solar_power_watts\\{tenant=\"household\",[^}]*site=\"2252179001\"\\}", text);
        Assert.Matches("tesla_broker_api_calls_total\\{[^}]*device=\"5YJ3E1EA7PF381204\",category=\"data\",billable=\"true\"\\} 1", text);
        Assert.Matches("tesla_broker_api_calls_total\\{[^}]*device=\"\",category=\"free\",billable=\"true\"\\} [1-9]", text);
        Assert.Matches("tesla_broker_api_cost_dollars_total\\{tenant=\"household\",category=\"data\"\\} 0.004", text);
        Assert.DoesNotContain("tesla_broker_polls_total", text); // replica health is for the operator
        var expiry = System.Text.RegularExpressions.Regex.Match(text, "tesla_broker_token_expiry_timestamp_seconds\\{tenant=\"household\",account=\"[0-9a-f]{32}\"\\} (\\d+)");
        Assert.True(expiry.Success, "no token expiry series");
        Assert.InRange(long.Parse(expiry.Groups[1].Value), Time.GetUtcNow().ToUnixTimeSeconds(), Time.GetUtcNow().AddHours(9).ToUnixTimeSeconds());
        Assert.Matches("tesla_broker_token_refreshable\\{tenant=\"household\",account=\"[0-9a-f]{32}\"\\} 1", text);
    }

    [Fact]
    public async Task LocationIsLeftOutWithoutTheVehicleLocationScope()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo", ["openid", "offline_access", "vehicle_device_data"]);
        await PollAccountsAsync();

        var text = await ScrapeMetricsAsync(ApiKey);

        Assert.Contains("tesla_vehicle_battery_level_percent{", text);
        Assert.DoesNotContain("tesla_vehicle_latitude_degrees{", text);
        Assert.DoesNotContain("tesla_energy_site_solar_power_watts{", text);
    }

    [Fact]
    public async Task TenantSeesOnlyItsOwnSeriesAndOperatorSeesEveryone()
    {
        var (_, otherKey, otherLink) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(otherLink, "bob@example.com", "bob-demo");
        await PollAccountsAsync();

        var mine = await ScrapeMetricsAsync(ApiKey);
        var theirs = await ScrapeMetricsAsync(otherKey);
        var all = await ScrapeMetricsAsync(OperatorToken);

        Assert.DoesNotContain("tenant=\"fleet\"", mine);
        Assert.DoesNotContain("XP7YGCEK1PB209361", mine);
        Assert.DoesNotContain("tenant=\"household\"", theirs);
        Assert.Contains("tenant=\"fleet\"", all);
        Assert.Contains("tenant=\"household\"", all);
        Assert.Contains("tesla_broker_polls_total", all);
        Assert.Contains("tesla_broker_scrape_duration_seconds", all);
        // The replica's process and runtime are the operator's business: a tenant's exposition names only tesla_* families.
        Assert.Contains("\nprocess_cpu_seconds_total ", all);
        Assert.Contains("\nsystem_runtime_dotnet_thread_pool_queue_length ", all);
        foreach (var tenant in new[] { mine, theirs })
        {
            Assert.All(tenant.Split('\n').Where(l => l.StartsWith("# TYPE ")), l => Assert.StartsWith("# TYPE tesla_", l));
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("brk_wrong")]
    [InlineData("not-the-operator-token")]
    public async Task ScrapeWithoutAValidCredentialIsRefused(string? token)
    {
        var client = Broker.CreateClient();
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        var response = await client.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task StaleReadingsLeaveTheExposition()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        Assert.Contains("tesla_vehicle_battery_level_percent{", await ScrapeMetricsAsync(ApiKey));

        Time.Advance(TimeSpan.FromMinutes(61));

        var text = await ScrapeMetricsAsync(ApiKey);
        Assert.DoesNotContain("tesla_vehicle_battery_level_percent{", text);
        Assert.Contains("tesla_vehicle_info{", text);
        Assert.Contains("tesla_vehicle_last_seen_timestamp_seconds{", text);
    }
}
