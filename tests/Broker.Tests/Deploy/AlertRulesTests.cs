using System.Text.RegularExpressions;

namespace Broker.Tests.Deploy;

/// <summary>
/// deploy/prometheus/alerts.yml: promtool accepts it and its unit tests (alerts.test.yml) pass, every alert has a test in
/// which it fires, a severity, a summary and a description, a section in docs/operations.md, and names only series the
/// broker's code creates. ProductionShapeTests evaluates the same rules in a real Prometheus scraping two replicas.
/// </summary>
public sealed partial class AlertRulesTests
{
    private const string Rules = "deploy/prometheus/alerts.yml";
    private const string RuleTests = "deploy/prometheus/alerts.test.yml";

    [Fact]
    public async Task AlertRulesPassPromtool()
    {
        var (exit, output) = await DeployTools.RunAsync(DeployTools.Locate("promtool", "prometheus"), ["check", "rules", Rules]);

        Assert.True(exit == 0, output);
        Assert.Contains($"SUCCESS: {Alerts().Count} rules found", output);
    }

    [Fact]
    public async Task AlertRulesPassTheirUnitTests()
    {
        var (exit, output) = await DeployTools.RunAsync(DeployTools.Locate("promtool", "prometheus"), ["test", "rules", RuleTests]);

        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS", output);
    }

    [Fact]
    public void EveryAlertFiresInAUnitTestAndHasASeverityASummaryADescriptionAndARunbook()
    {
        var tests = File.ReadAllText(DeployTools.PathOf(RuleTests));
        var runbook = File.ReadAllText(DeployTools.PathOf("docs/operations.md"));

        Assert.NotEmpty(Alerts());
        Assert.All(Alerts(), alert =>
        {
            // A case with expected alerts (exp_alerts: followed by a list, not []) for this alert name.
            Assert.Matches($@"alertname: {alert.Name}\n\s+exp_alerts:\n\s+- exp_labels:", tests);
            Assert.Matches(@"\n\s+severity: (critical|warning)\n", alert.Text);
            Assert.Matches(@"\n\s+summary: ", alert.Text);
            Assert.Matches(@"\n\s+description: ", alert.Text);
            Assert.Contains($"### {alert.Name}", runbook);
        });
    }

    [Fact]
    public void AlertsNameOnlyMetricsTheBrokerExports()
    {
        var code = string.Concat(Directory.EnumerateFiles(DeployTools.PathOf("src/Broker"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Select(File.ReadAllText));
        var names = MetricName().Matches(File.ReadAllText(DeployTools.PathOf(Rules))).Select(m => m.Value).ToHashSet();

        Assert.Contains("tesla_broker_account_info", names);
        Assert.All(names, name => Assert.True(code.Contains($"\"{name}\""), $"{name} is not created anywhere in src/Broker"));
    }

    /// <summary>Each rule of alerts.yml: its name and its text up to the next rule.</summary>
    internal static List<(string Name, string Text)> Alerts() =>
        AlertStart().Split(File.ReadAllText(DeployTools.PathOf(Rules))).Skip(1).Chunk(2).Select(c => (c[0], c[1])).ToList();

    [GeneratedRegex(@"^      - alert: (\w+)$", RegexOptions.Multiline)]
    private static partial Regex AlertStart();

    [GeneratedRegex(@"\btesla_\w+")]
    private static partial Regex MetricName();
}
