using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Bench;

namespace ConnectScale;

/// <summary>
/// Debian's nginx in the foreground with the repository's deploy/nginx/broker.conf, only what must differ
/// on this machine substituted (as tests/Broker.Tests/EndToEnd/ProductionDeployment.Configs.cs does):
/// the one replica's loopback port, a loopback HTTPS port, a self-signed certificate, proxy_bind.
/// </summary>
public sealed class Nginx : IAsyncDisposable
{
    public const string Path = "/usr/sbin/nginx";
    public const string ProxyAddress = "127.0.0.2";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("broker-connectscale-nginx-");
    private readonly X509Certificate2 _certificate;
    private Process? _process;

    public Nginx()
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_dir.FullName, (UnixFileMode)0b111_101_101); // workers run as nobody
        }
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Combine("fullchain.pem"), _certificate.ExportCertificatePem());
        File.WriteAllText(Combine("privkey.pem"), key.ExportPkcs8PrivateKeyPem());
    }

    public async Task StartAsync(int brokerPort, int httpsPort)
    {
        if (!File.Exists(Path))
        {
            throw new InvalidOperationException($"{Path} not found: apt-get install -y --no-install-recommends nginx");
        }
        var site = Substitute(await File.ReadAllTextAsync(System.IO.Path.Combine(LocalPostgres.RepoRoot(), "deploy/nginx/broker.conf")),
            ("server broker-1:8080;", $"server 127.0.0.1:{brokerPort};"),
            ("server broker-2:8080;", ""), // one node
            ("listen 80;", $"listen 127.0.0.1:{LocalPostgres.FreePort()};"),
            ("listen [::]:80;", ""),
            ("listen 443 ssl;", $"listen 127.0.0.1:{httpsPort} ssl;"),
            ("listen [::]:443 ssl;", ""),
            ("/etc/nginx/certs/fullchain.pem", Combine("fullchain.pem")),
            ("/etc/nginx/certs/privkey.pem", Combine("privkey.pem")),
            ("location / {", $"location / {{\n        proxy_bind {ProxyAddress};"));
        await File.WriteAllTextAsync(Combine("site.conf"), site);
        // The nginx image's main configuration, with paths under the run's directory.
        await File.WriteAllTextAsync(Combine("nginx.conf"), $$"""
            worker_processes auto;
            pid {{Combine("nginx.pid")}};
            error_log {{Combine("error.log")}} warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                keepalive_timeout 65;
                client_body_temp_path {{Combine("client_body")}};
                proxy_temp_path {{Combine("proxy")}};
                fastcgi_temp_path {{Combine("fastcgi")}};
                uwsgi_temp_path {{Combine("uwsgi")}};
                scgi_temp_path {{Combine("scgi")}};
                include {{Combine("site.conf")}};
            }
            """);
        var start = new ProcessStartInfo(Path) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "-p", _dir.FullName + "/", "-c", Combine("nginx.conf"), "-g", "daemon off;" })
        {
            start.ArgumentList.Add(arg);
        }
        _process = Process.Start(start)!;
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"nginx exited ({_process.ExitCode}): {await _process.StandardError.ReadToEndAsync()}");
            }
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, httpsPort);
                return;
            }
            catch (SocketException) when (waited.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>A person's browser: its own cookie jar, trusting exactly this nginx's certificate.</summary>
    public HttpClient Browser(string baseUrl) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = true,
        CookieContainer = new CookieContainer(),
        SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == _certificate.GetCertHashString() },
    }) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(3) };

    public string ErrorLog => File.Exists(Combine("error.log")) ? File.ReadAllText(Combine("error.log")) : "";

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        _certificate.Dispose();
        _dir.Delete(recursive: true);
    }

    private string Combine(string name) => System.IO.Path.Combine(_dir.FullName, name);

    private static string Substitute(string text, params (string From, string To)[] replacements)
    {
        foreach (var (from, to) in replacements)
        {
            if (text.Split(from).Length - 1 != 1)
            {
                throw new InvalidOperationException($"deploy/nginx/broker.conf no longer contains '{from}' exactly once: adapt bench/ConnectScale/Nginx.cs.");
            }
            text = text.Replace(from, to);
        }
        return text;
    }
}
