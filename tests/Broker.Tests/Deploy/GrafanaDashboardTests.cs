using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Deploy;

/// <summary>
/// deploy/grafana: the dashboard parses, every panel asks the provisioned Prometheus data source,
/// every query is PromQL that promtool accepts once Grafana's two variables are filled in, and it
/// names only metrics the broker's code creates.
/// </summary>
public sealed partial class GrafanaDashboardTests : IDisposable
{
    private const string DataSourceUid = "prometheus";
    private static readonly string[] Variables = ["tenant", "__rate_interval"];
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("broker-dashboard-");

    [Fact]
    public void EveryPanelQueriesTheProvisionedPrometheus()
    {
        var panels = Panels().ToList();

        Assert.NotEmpty(panels);
        Assert.All(panels, p =>
        {
            Assert.Equal(DataSourceUid, (string?)p["datasource"]?["uid"]);
            var targets = p["targets"]!.AsArray();
            Assert.NotEmpty(targets);
            Assert.All(targets, t =>
            {
                Assert.False(string.IsNullOrWhiteSpace((string?)t!["expr"]), $"panel '{p["title"]}' has an empty query");
                Assert.Equal(DataSourceUid, (string?)t["datasource"]?["uid"]);
            });
        });
        var provisioned = File.ReadAllText(DeployTools.PathOf("deploy/grafana/provisioning/datasources/prometheus.yml"));
        Assert.Contains($"uid: {DataSourceUid}", provisioned);
        Assert.Contains("url: http://prometheus:9090", provisioned);
    }

    [Fact]
    public void QueriesUseOnlyTheTenantAndRateIntervalVariablesAndFilterTenantSeries()
    {
        var dashboard = Dashboard();
        var tenant = dashboard["templating"]!["list"]!.AsArray().Single(v => (string?)v!["name"] == "tenant")!;
        Assert.Equal(DataSourceUid, (string?)tenant["datasource"]?["uid"]);
        Assert.StartsWith("label_values(", (string?)tenant["definition"]);
        Assert.Equal(".*", (string?)tenant["allValue"]);

        foreach (var expr in Exprs())
        {
            Assert.All(VariableUse().Matches(expr), m => Assert.Contains(m.Groups[1].Value, Variables));
            // Every selector of a tenant-labelled family is narrowed to the chosen tenants.
            Assert.All(TenantSelector().Matches(expr), m => Assert.Contains("tenant=~\"$tenant\"", m.Groups[2].Value));
        }
    }

    [Fact]
    public async Task QueriesAreValidPromQl()
    {
        var rules = Exprs(Substitutions).Select((e, i) => $"      - record: dashboard:query_{i}\n        expr: {Yaml(e)}\n");
        var file = Path.Combine(_dir.FullName, "dashboard.rules.yml");
        await File.WriteAllTextAsync(file, "groups:\n  - name: dashboard\n    rules:\n" + string.Concat(rules), TestContext.Current.CancellationToken);

        var (exit, output) = await DeployTools.RunAsync(DeployTools.Locate("promtool", "prometheus"), ["check", "rules", file]);

        Assert.True(exit == 0, output);
    }

    [Fact]
    public void QueriesNameOnlyMetricsTheBrokerExports()
    {
        var code = string.Concat(Directory.EnumerateFiles(DeployTools.PathOf("src/Broker"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Select(File.ReadAllText));
        var names = Exprs().SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();

        Assert.NotEmpty(names);
        Assert.All(names, name =>
        {
            var family = HistogramSeries().Replace(name, "");
            Assert.True(code.Contains($"\"{name}\"") || code.Contains($"\"{family}\""), $"{name} is not created anywhere in src/Broker");
        });
    }

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>What the e2e test and a reader outside Grafana do: All is .*, the rate window 1m.</summary>
    private static readonly Dictionary<string, string> Substitutions = new() { ["tenant"] = ".*", ["__rate_interval"] = "1m" };

    private static string Yaml(string s) => JsonSerializer.Serialize(s, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private static string DashboardJson() => File.ReadAllText(DeployTools.PathOf("deploy/grafana/dashboards/broker.json"));

    private static JsonNode Dashboard() => JsonNode.Parse(DashboardJson())!;

    /// <summary>Every panel that shows data (rows are only headings; collapsed rows hold their panels).</summary>
    private static IEnumerable<JsonNode> Panels()
    {
        foreach (var panel in Dashboard()["panels"]!.AsArray())
        {
            if ((string?)panel!["type"] != "row")
            {
                yield return panel;
                continue;
            }
            foreach (var inner in panel["panels"]?.AsArray() ?? [])
            {
                yield return inner!;
            }
        }
    }

    /// <summary>Every query of the dashboard, with only <paramref name="variables"/> filled in (none: as written).</summary>
    private static IEnumerable<string> Exprs(IReadOnlyDictionary<string, string>? variables = null) =>
        GrafanaDashboard.Queries(DashboardJson(), variables ?? new Dictionary<string, string>()).Select(q => q.Expr);

    /// <summary>A Grafana variable; <c>$1</c> in label_replace is the regex group, not one.</summary>
    [GeneratedRegex(@"\$\{?([A-Za-z_]\w*)")]
    private static partial Regex VariableUse();

    [GeneratedRegex(@"\b(tesla_vehicle_\w+|tesla_energy_site_\w+|tesla_broker_accounts|tesla_broker_account_\w+|tesla_broker_api_\w+|tesla_broker_token_(?:refreshable|expiry_timestamp_seconds))(\{[^}]*\})?")]
    private static partial Regex TenantSelector();

    [GeneratedRegex(@"\btesla_\w+")]
    private static partial Regex MetricName();

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSeries();
}
