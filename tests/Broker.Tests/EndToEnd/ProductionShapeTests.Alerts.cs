using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.EndToEnd;

/// <summary>
/// deploy/prometheus/alerts.yml in the production shape: the real Prometheus evaluates every rule against what the two
/// replicas export (an expression that names a wrong series, or matches many-to-many, shows up as a rule whose health is
/// not ok), and the account bob made unusable is named in AccountsNeedReconnect by his email (his tenant turned names on).
/// </summary>
public sealed partial class ProductionShapeTests
{
    [Fact]
    public async Task EveryAlertRuleEvaluatesOnWhatTheReplicasExportAndBobIsNamedInTheReconnectAlert()
    {
        var rules = await File.ReadAllTextAsync(Path.Combine(PostgresServer.RepoRoot(), "deploy/prometheus/alerts.yml"), Ct);
        using (var scraper = new HttpClient())
        {
            scraper.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ProductionDeployment.MetricsToken);
            // Families without a sample (no refused token in this run) still have their HELP and TYPE. The polling families
            // appear with a replica's first poll and the alerts sum over both replicas, so each family must be on one of them;
            // this waits for the first polls, however slow the machine.
            var names = AlertMetric().Matches(rules).Select(m => m.Value).Distinct().ToList();
            var deadline = Stopwatch.StartNew();
            List<string> missing;
            while (true)
            {
                var expositions = new List<string>();
                foreach (var replica in deployment.Replicas.Values)
                {
                    expositions.Add(await scraper.GetStringAsync($"http://127.0.0.1:{replica.Port}/metrics", Ct));
                }
                missing = names.Where(n => !expositions.Any(e => e.Contains($"# TYPE {n} "))).ToList();
                if (missing.Count == 0 || deadline.Elapsed > TimeSpan.FromMinutes(2))
                {
                    break;
                }
                await Task.Delay(500, Ct);
            }
            Assert.True(missing.Count == 0, $"alerts.yml names series neither replica exports: {string.Join(", ", missing)}");
        }
        await deployment.Prometheus.WaitForTargetsUpAsync("broker", 2, Ct);

        var expected = AlertRule().Matches(rules).Select(m => m.Groups[1].Value).ToList();
        var watch = Stopwatch.StartNew();
        List<string> problems;
        List<JsonElement> loaded;
        while (true)
        {
            var groups = await deployment.Prometheus.DataAsync("/api/v1/rules", Ct);
            loaded = groups.GetProperty("groups").EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
            problems = loaded.Where(r => r.GetProperty("health").GetString() != "ok")
                .Select(r => $"{r.GetProperty("name")}: {r.GetProperty("health")} {(r.TryGetProperty("lastError", out var e) ? e.GetString() : "")}").ToList();
            if (!loaded.Select(r => r.GetProperty("name").GetString()).Order().SequenceEqual(expected.Order()))
            {
                problems.Add($"loaded [{string.Join(", ", loaded.Select(r => r.GetProperty("name")))}], alerts.yml has [{string.Join(", ", expected)}]");
            }
            if (!AlertsOf(loaded, "AccountsNeedReconnect").Any(a => Label(a, "tenant") == "fleet" && Label(a, "email") == "bob@example.com"))
            {
                problems.Add("AccountsNeedReconnect has no alert (pending or firing) for the fleet's bob@example.com");
            }
            if (problems.Count == 0 || watch.Elapsed > TimeSpan.FromSeconds(60))
            {
                break;
            }
            await Task.Delay(1000, Ct);
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems) + $"\nPrometheus said:\n{deployment.Prometheus.Log}");
        TestContext.Current.TestOutputHelper?.WriteLine("Active alerts: " + string.Join("; ", loaded.SelectMany(r => r.GetProperty("alerts").EnumerateArray())
            .Select(a => $"{Label(a, "alertname")} {a.GetProperty("state")} {a.GetProperty("labels")}")));
    }

    private static IEnumerable<JsonElement> AlertsOf(List<JsonElement> rules, string name) =>
        rules.Where(r => r.GetProperty("name").GetString() == name).SelectMany(r => r.GetProperty("alerts").EnumerateArray());

    private static string? Label(JsonElement alert, string name) =>
        alert.GetProperty("labels").TryGetProperty(name, out var value) ? value.GetString() : null;

    [GeneratedRegex(@"\btesla_\w+")]
    private static partial Regex AlertMetric();

    [GeneratedRegex(@"^\s+- alert: (\w+)$", RegexOptions.Multiline)]
    private static partial Regex AlertRule();
}
