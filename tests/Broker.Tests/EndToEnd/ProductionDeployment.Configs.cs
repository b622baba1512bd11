namespace Broker.Tests.EndToEnd;

/// <summary>
/// The repository's own nginx and Prometheus configurations, with only what must differ on this machine
/// replaced. Each replacement must find its text exactly once: when deploy/ changes shape, the test says
/// which line to adapt here instead of silently testing something else.
/// </summary>
public sealed partial class ProductionDeployment
{
    /// <summary><c>deploy/nginx/broker.conf</c> (compose mounts it as conf.d/default.conf).</summary>
    private string NginxSite(string repoConfig) => Substitute("deploy/nginx/broker.conf", repoConfig,
        // compose's replicas → this machine's two replicas
        ("server broker-1:8080;", $"server 127.0.0.1:{Replicas["broker-1"].Port};"),
        ("server broker-2:8080;", $"server 127.0.0.1:{Replicas["broker-2"].Port};"),
        // privileged ports on every address → free loopback ports (IPv6 loopback may not exist here)
        ("listen 80;", $"listen 127.0.0.1:{HttpPort};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl;", $"listen 127.0.0.1:{HttpsPort} ssl;"),
        ("listen [::]:443 ssl;", ""),
        // the mounted certificate → the test's self-signed one
        ("/etc/nginx/certs/fullchain.pem", Nginx.CertificatePath),
        ("/etc/nginx/certs/privkey.pem", Nginx.KeyPath),
        // the image's log (stdout) → a file the test reads
        ("/var/log/nginx/access.log", Nginx.AccessLogPath),
        // compose's network is the proxy's identity there; here nginx speaks from an address no browser uses
        ("location / {", $"location / {{\n        proxy_bind {ProxyAddress};"));

    /// <summary><c>deploy/prometheus/prometheus.yml</c>.</summary>
    private string PrometheusConfig(string repoConfig, string tokenFile) => Substitute("deploy/prometheus/prometheus.yml", repoConfig,
        ("scrape_interval: 30s", "scrape_interval: 1s"),
        ("scrape_timeout: 10s", "scrape_timeout: 1s"),
        ("evaluation_interval: 30s", "evaluation_interval: 1s"),
        ("credentials_file: /run/secrets/metrics_token", $"credentials_file: {tokenFile}"),
        ("['broker-1:8080', 'broker-2:8080']", $"['127.0.0.1:{Replicas["broker-1"].Port}', '127.0.0.1:{Replicas["broker-2"].Port}']"),
        ("'localhost:9090'", $"'{Prometheus.ListenAddress}'"));

    private static string Substitute(string file, string text, params (string From, string To)[] replacements)
    {
        foreach (var (from, to) in replacements)
        {
            var count = text.Split(from).Length - 1;
            Assert.True(count == 1, $"{file} contains '{from}' {count} times, expected once: the test substitutes it "
                + "(tests/Broker.Tests/EndToEnd/ProductionDeployment.Configs.cs). Adapt the substitution to the new configuration.");
            text = text.Replace(from, to);
        }
        return text;
    }
}
