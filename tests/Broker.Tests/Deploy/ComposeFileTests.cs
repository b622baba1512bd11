using System.Text.RegularExpressions;

namespace Broker.Tests.Deploy;

/// <summary>
/// docker-compose.yml (with and without deploy/compose.operator-token.yml), .env.example, nginx's upstream and
/// Prometheus' targets, checked the way CI can without a Docker engine: `docker-compose config` and
/// `promtool check config`. deploy/docker-check.sh runs the same stack on a real engine.
/// </summary>
public sealed partial class ComposeFileTests : IDisposable
{
    private static readonly string[] Replicas = ["broker-1", "broker-2"];
    private const string OperatorTokenFile = "deploy/compose.operator-token.yml";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("broker-compose-");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ComposeFileIsValidWhenEverySettingOfTheExampleIsFilledIn(bool withOperatorToken)
    {
        var (exit, output) = await ComposeAsync(FilledEnvFile(), withOperatorToken, "config", "--quiet");

        Assert.True(exit == 0, $"docker-compose config failed ({exit}):\n{output}");
        Assert.DoesNotContain("variable is not set", output);
        Assert.DoesNotContain("WARNING", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ComposeRefusesToStartWithTheExampleUnedited()
    {
        var (exit, output) = await ComposeAsync(DeployTools.PathOf(".env.example"), false, "config", "--quiet");

        Assert.NotEqual(0, exit);
        Assert.Contains("in .env (see .env.example)", output);
    }

    [Fact]
    public void EnvExampleCommitsNoValuesAndNamesEveryVariableTheComposeFileReads()
    {
        var example = File.ReadAllLines(DeployTools.PathOf(".env.example"));
        var set = example.Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.All(set, line => Assert.Matches("^[A-Z0-9_]+=$", line));

        var documented = example.Select(l => EnvLine().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToHashSet();
        var used = new[] { "docker-compose.yml", OperatorTokenFile }
            .SelectMany(f => Interpolation().Matches(File.ReadAllText(DeployTools.PathOf(f)))).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Empty(used.Except(documented));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NoContainerGetsASecretThroughItsEnvironment(bool withOperatorToken)
    {
        var (exit, config) = await ComposeAsync(FilledEnvFile(), withOperatorToken, "config");
        Assert.True(exit == 0, config);

        foreach (var (service, block) in Services(config))
        {
            var environment = EnvironmentOf(block);
            // A setting named like a secret names the file that holds it (compose secrets), never the value.
            Assert.All(environment.Where(e => SecretName().IsMatch(e.Key)), e => Assert.Matches("(_FILE|File)$", e.Key));
            Assert.All(environment.Values, v => Assert.DoesNotContain("Password=", v, StringComparison.OrdinalIgnoreCase));
            Assert.DoesNotContain("placeholder", environment.Where(e => SecretName().IsMatch(e.Key)).Select(e => e.Value));
            // Every file under /run/secrets a setting names is mounted into that container.
            foreach (var secret in environment.Values.Select(v => Regex.Match(v, @"^/run/secrets/(\w+)$")).Where(m => m.Success))
            {
                Assert.True(block.Contains($"- source: {secret.Groups[1].Value}\n"), $"{service} names {secret.Value} but does not mount it");
            }
        }
    }

    [Fact]
    public async Task EveryContainerGivesUpPrivilegesIsBoundedAndRotatesItsLogs()
    {
        var (exit, config) = await ComposeAsync(FilledEnvFile(), false, "config");
        Assert.True(exit == 0, config);
        var services = Services(config);

        Assert.Superset(new HashSet<string>(["postgres", "migrate", "broker-1", "broker-2", "nginx", "prometheus", "grafana", "simulator",
            "mosquitto", "fleet-telemetry"]), services.Keys.ToHashSet());
        foreach (var (service, block) in services)
        {
            Assert.Contains("- no-new-privileges:true", block);
            Assert.Matches(@"cap_drop:\n\s*- ALL\n", block);
            Assert.Matches(@"mem_limit: \d+[mg]\n", block);
            Assert.Matches(@"cpus: \d+(\.\d+)?\n", block);
            Assert.Matches(@"logging:\n\s*driver: json-file\n\s*options:\n\s*max-file: '\d+'\n\s*max-size: \d+m\n", block);
            // Grafana's writable paths were not checked against the real image (docs/deploy-hardening.md).
            if (service != "grafana")
            {
                Assert.True(block.Contains("read_only: true\n"), $"{service} has a writable root file system");
            }
            string[] added = service switch
            {
                "postgres" => ["CHOWN", "DAC_READ_SEARCH", "SETGID", "SETUID"],
                "nginx" => ["CHOWN", "SETGID", "SETUID"],
                _ => [],
            };
            Assert.Equal(added, Regex.Match(block, @"cap_add:\n((\s*- \w+\n)+)").Groups[1].Value
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(c => c.TrimStart('-', ' ')));
        }
    }

    [Fact]
    public async Task PrometheusScrapesWithTheMetricsOnlyTokenAndTheOperatorTokenIsOptIn()
    {
        var (exit, plain) = await ComposeAsync(FilledEnvFile(), false, "config");
        Assert.True(exit == 0, plain);
        var (exitWith, withToken) = await ComposeAsync(FilledEnvFile(), true, "config");
        Assert.True(exitWith == 0, withToken);

        foreach (var replica in Replicas)
        {
            Assert.Equal("/run/secrets/metrics_token", EnvironmentOf(Services(plain)[replica])["Metrics__TokenFile"]);
            Assert.DoesNotContain("Operator__TokenFile", EnvironmentOf(Services(plain)[replica]).Keys);
            Assert.Equal("/run/secrets/operator_token", EnvironmentOf(Services(withToken)[replica])["Operator__TokenFile"]);
        }
        Assert.DoesNotContain("operator_token", Services(withToken)["prometheus"]);
        Assert.DoesNotContain("operator_token", Services(withToken)["migrate"]);
        Assert.Contains("- source: metrics_token\n", Services(plain)["prometheus"]);
        Assert.Contains("credentials_file: /run/secrets/metrics_token", File.ReadAllText(DeployTools.PathOf("deploy/prometheus/prometheus.yml")));
    }

    [Fact]
    public async Task MigrationRunsOnceBeforeTwoReplicasThatTrustOnlyTheComposeNetwork()
    {
        var (exit, config) = await ComposeAsync(FilledEnvFile(), false, "config");
        Assert.True(exit == 0, config);
        var services = Services(config);

        Assert.Superset(new HashSet<string>(["postgres", "migrate", "broker-1", "broker-2", "nginx", "prometheus", "grafana"]), services.Keys.ToHashSet());
        Assert.Contains("- migrate", services["migrate"]);
        Assert.Contains("restart: \"no\"", services["migrate"]);
        var subnet = Regex.Match(config, @"subnet: (\d+\.\d+\.\d+)\.0/24").Groups[1].Value;
        Assert.NotEmpty(subnet);
        foreach (var replica in Replicas)
        {
            var s = services[replica];
            Assert.Matches(@"migrate:\s+condition: service_completed_successfully", s);
            Assert.Matches(@"postgres:\s+condition: service_healthy", s);
            Assert.Contains("Database__MigrateOnStart: \"false\"", s);
            Assert.Contains($"ForwardedHeaders__KnownNetworks__0: {subnet}.0/24", s);
            Assert.Matches($@"ipv4_address: {Regex.Escape(subnet)}\.\d+", s);
            Assert.Contains("/readyz", s);
            Assert.DoesNotContain("ASPNETCORE_FORWARDEDHEADERS_ENABLED", s); // it would trust every sender
        }
        Assert.Matches(@"broker-1:\s+condition: service_healthy", services["nginx"]);
        Assert.Matches(@"broker-2:\s+condition: service_healthy", services["nginx"]);
        Assert.Contains("pg_isready", services["postgres"]);
        Assert.Contains("127.0.0.1:3000:3000", services["grafana"]);
        Assert.Contains("GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana_admin_password", services["grafana"]);
    }

    [Fact]
    public async Task EveryBrokerContainerWritesTheJsonLogsComposeLogsTestsRan()
    {
        var (exit, config) = await ComposeAsync(FilledEnvFile(), false, "config");
        Assert.True(exit == 0, config);

        foreach (var service in new[] { "migrate", "broker-1", "broker-2" })
        {
            var logging = EnvironmentOf(Services(config)[service]).Where(e => e.Key.StartsWith("Logging__")).ToDictionary();
            Assert.Equal(ComposeLogsTests.ComposeLogging(), logging);
        }
    }

    [Fact]
    public void NginxAndPrometheusReachEveryReplica()
    {
        var upstream = Regex.Match(File.ReadAllText(DeployTools.PathOf("deploy/nginx/broker.conf")), @"upstream broker \{(.*?)\}", RegexOptions.Singleline).Groups[1].Value;
        var servers = Regex.Matches(upstream, @"^\s*server (\S+);", RegexOptions.Multiline).Select(m => m.Groups[1].Value);
        Assert.Equal(Replicas.Select(r => r + ":8080"), servers);

        var prometheus = File.ReadAllText(DeployTools.PathOf("deploy/prometheus/prometheus.yml"));
        Assert.Contains("targets: ['broker-1:8080', 'broker-2:8080']", prometheus);
    }

    [Fact]
    public async Task PrometheusConfigPassesPromtool()
    {
        // promtool wants the bearer-token file to exist: point it at a stand-in.
        var token = Path.Combine(_dir.FullName, "metrics_token");
        await File.WriteAllTextAsync(token, "placeholder", TestContext.Current.CancellationToken);
        var config = Path.Combine(_dir.FullName, "prometheus.yml");
        await File.WriteAllTextAsync(config, File.ReadAllText(DeployTools.PathOf("deploy/prometheus/prometheus.yml"))
            .Replace("/run/secrets/metrics_token", token), TestContext.Current.CancellationToken);
        // rule_files are read relative to the configuration, where compose mounts alerts.yml too (below).
        File.Copy(DeployTools.PathOf("deploy/prometheus/alerts.yml"), Path.Combine(_dir.FullName, "alerts.yml"));

        var (exit, output) = await DeployTools.RunAsync(DeployTools.Locate("promtool", "prometheus"), ["check", "config", config]);

        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS: 1 rule files found", output);
        var (composeExit, rendered) = await ComposeAsync(FilledEnvFile(), false, "config");
        Assert.True(composeExit == 0, rendered);
        Assert.Matches(@"- \S+/deploy/prometheus/prometheus\.yml:/etc/prometheus/prometheus\.yml:ro\n", Services(rendered)["prometheus"]);
        Assert.Matches(@"- \S+/deploy/prometheus/alerts\.yml:/etc/prometheus/alerts\.yml:ro\n", Services(rendered)["prometheus"]);
    }

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>.env.example with a placeholder in every empty setting, as an operator's .env would be.</summary>
    private string FilledEnvFile()
    {
        var path = Path.Combine(_dir.FullName, "filled.env");
        File.WriteAllLines(path, File.ReadAllLines(DeployTools.PathOf(".env.example"))
            .Select(l => Regex.IsMatch(l, "^[A-Z0-9_]+=$") ? l + "placeholder" : l));
        return path;
    }

    private static Task<(int ExitCode, string Output)> ComposeAsync(string envFile, bool withOperatorToken, params string[] command)
    {
        var docker = DeployTools.Locate("docker-compose", "docker-compose");
        var names = File.ReadAllLines(DeployTools.PathOf(".env.example")).Select(l => EnvLine().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value);
        string[] files = withOperatorToken ? ["-f", "docker-compose.yml", "-f", OperatorTokenFile] : ["-f", "docker-compose.yml"];
        return DeployTools.RunAsync(docker, ["--env-file", envFile, .. files, .. command],
            unset: [.. names, "COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME"]);
    }

    /// <summary>A rendered service's `environment:` block as name → value (long values are folded over lines).</summary>
    private static Dictionary<string, string> EnvironmentOf(string service)
    {
        var block = Regex.Match(service, @"^    environment:\n((?:      .*\n)*)", RegexOptions.Multiline).Groups[1].Value;
        return Regex.Matches(block, @"^      (\S+): (.*(?:\n        .*)*)", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[1].Value, m => Regex.Replace(m.Groups[2].Value, @"\n\s+", " ").Trim('"'));
    }

    /// <summary>The rendered config's `services:` block, split per service (two-space indented keys).</summary>
    private static Dictionary<string, string> Services(string config)
    {
        var block = Regex.Match(config, @"^services:\n(.*?)(?=^\S)", RegexOptions.Multiline | RegexOptions.Singleline).Groups[1].Value;
        return Regex.Matches(block, @"^  ([a-z0-9-]+):\n(.*?)(?=^  [a-z0-9-]+:\n|\z)", RegexOptions.Multiline | RegexOptions.Singleline)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
    }

    [GeneratedRegex(@"^#?([A-Z0-9_]+)=")]
    private static partial Regex EnvLine();

    [GeneratedRegex(@"\$\{([A-Z0-9_]+)")]
    private static partial Regex Interpolation();

    [GeneratedRegex("(?i)(password|secret|token|key)(?!endpoint)")]
    private static partial Regex SecretName();
}
