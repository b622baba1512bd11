using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Broker.Accounts;
using Broker.Tenants;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Metrics;

/// <summary>
/// <c>tesla_broker_account_info</c>: each account's connect-link label and email, exported only for a tenant whose
/// policy turns <c>accountNamesInMetrics</c> on (personal data: off by default).
/// </summary>
public sealed class AccountNamesTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Label = "Fleet \"B\" \\ north";

    [Fact]
    public async Task AccountNamesAreInTheMetricsOnlyOfTenantsThatTurnThemOn()
    {
        var (_, fleetKey, fleetLink) = await SeedTenantAsync("fleet", "The Fleet");
        // A label with a quote and a backslash: escaped in the exposition, or promtool (below) refuses it.
        var link = await (await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/connect-links", new { label = Label }, Ct)).Content.ReadFromJsonAsync<LinkResponse>(Ct);
        await NewUser().ConnectAsync(link!.Url[(link.Url.LastIndexOf('/') + 1)..], "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(fleetLink, "bob@example.com", "bob-demo");
        var alice = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts")).Id.ToString("N");

        Assert.False((await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).AccountNamesInMetrics);
        var before = await ScrapeMetricsAsync(BrokerApplication.OperatorToken);
        Assert.DoesNotContain("tesla_broker_account_info{", before);
        Assert.DoesNotContain("@example.com", before);

        var on = await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null, accountNamesInMetrics = true }, Ct);
        Assert.True((await on.Content.ReadFromJsonAsync<PolicyResponse>(Ct))!.AccountNamesInMetrics);

        var expected = $"tesla_broker_account_info{{tenant=\"household\",account=\"{alice}\",label=\"Fleet \\\"B\\\" \\\\ north\",email=\"alice@example.com\"}} 1\n";
        Assert.Contains(expected, await ScrapeMetricsAsync(ApiKey));
        var all = await ScrapeMetricsAsync(BrokerApplication.OperatorToken);
        Assert.Contains(expected, all);
        Assert.DoesNotContain("bob@example.com", all);   // the fleet tenant has not turned names on
        Assert.DoesNotContain("tesla_broker_account_info{", await ScrapeMetricsAsync(fleetKey));
        Assert.Single(Regex.Matches(all, "^# TYPE tesla_broker_account_info ", RegexOptions.Multiline));
        var (exitCode, output) = await PrometheusTools.CheckMetricsAsync(string.Concat(all.Split('\n')
            .Where(l => l.StartsWith("tesla_broker_account") || l.StartsWith("# HELP tesla_broker_account") || l.StartsWith("# TYPE tesla_broker_account"))
            .Select(l => l + "\n")), Ct);
        Assert.True(exitCode == 0, output);

        // A PUT replaces the whole policy: without the flag, names are off again.
        (await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = 60 }, Ct)).EnsureSuccessStatusCode();
        Assert.DoesNotContain("alice@example.com", await ScrapeMetricsAsync(BrokerApplication.OperatorToken));
        var policy = await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy");
        Assert.Equal((60, false, (decimal?)null), (policy.WakeAfterSleepMinutes, policy.AccountNamesInMetrics, policy.MonthlyBudgetUsd));
    }

    private sealed record LinkResponse(string Url);
}
