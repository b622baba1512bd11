using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// Debian's nginx (<c>/usr/sbin/nginx</c>) in the foreground, unprivileged-style: prefix, pid, logs and
/// temp files in a test directory. The site configuration (server and upstream blocks, what
/// <c>conf.d/default.conf</c> holds in the nginx image) comes from the test; this only supplies the
/// main <c>nginx.conf</c> around it and a self-signed certificate for <c>localhost</c>.
/// A missing nginx fails the test with the way to install it: never a skip.
/// </summary>
public sealed class NginxHost : IAsyncDisposable
{
    public const string NginxPath = "/usr/sbin/nginx";

    private readonly DirectoryInfo _dir;
    private readonly X509Certificate2 _certificate;
    private Process? _process;

    public NginxHost(DirectoryInfo dir)
    {
        Assert.True(File.Exists(NginxPath), $"{NginxPath} not found: these tests run the real nginx. `./broker.sh test` installs it "
            + "(or `apt-get install -y --no-install-recommends nginx`); they never skip.");
        _dir = dir.CreateSubdirectory("nginx");
        // nginx started as root runs its workers as nobody, which must reach the temp directories.
        Chmod(dir.FullName, (UnixFileMode)0b111_101_101);
        Chmod(_dir.FullName, (UnixFileMode)0b111_101_101);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CertificatePath = Path.Combine(_dir.FullName, "fullchain.pem");
        KeyPath = Path.Combine(_dir.FullName, "privkey.pem");
        File.WriteAllText(CertificatePath, _certificate.ExportCertificatePem());
        File.WriteAllText(KeyPath, key.ExportPkcs8PrivateKeyPem());
        Chmod(KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite); // read by the master only
    }

    public string CertificatePath { get; }
    public string KeyPath { get; }

    /// <summary>Where a site configuration should write its access log (the http block's own default goes beside it).</summary>
    public string AccessLogPath => Path.Combine(_dir.FullName, "site-access.log");

    /// <summary>nginx's error log (startup problems, upstream errors) for failure messages.</summary>
    public string ErrorLog => File.Exists(Path.Combine(_dir.FullName, "error.log")) ? File.ReadAllText(Path.Combine(_dir.FullName, "error.log")) : "";

    /// <summary>
    /// Checks the configuration (<c>nginx -t</c>), starts nginx and waits until <paramref name="waitForPort"/> accepts connections.
    /// One worker: upstream round-robin then alternates strictly over every request, which tests rely on.
    /// </summary>
    public async Task StartAsync(string siteConfig, int waitForPort, CancellationToken ct)
    {
        var site = Path.Combine(_dir.FullName, "site.conf");
        await File.WriteAllTextAsync(site, siteConfig, ct);
        await File.WriteAllTextAsync(Path.Combine(_dir.FullName, "nginx.conf"), $$"""
            worker_processes 1;
            pid {{_dir.FullName}}/nginx.pid;
            error_log {{_dir.FullName}}/error.log info;
            events { worker_connections 256; }
            http {
                access_log {{_dir.FullName}}/access.log;
                client_body_temp_path {{_dir.FullName}}/client_body;
                proxy_temp_path {{_dir.FullName}}/proxy;
                fastcgi_temp_path {{_dir.FullName}}/fastcgi;
                uwsgi_temp_path {{_dir.FullName}}/uwsgi;
                scgi_temp_path {{_dir.FullName}}/scgi;
                include {{site}};
            }
            """, ct);

        var (exitCode, output) = await RunAsync(["-t"], ct);
        Assert.True(exitCode == 0, $"nginx -t rejected the configuration:\n{output}\n--- site.conf ---\n{siteConfig}");
        _process = Process.Start(StartInfo(["-g", "daemon off;"]))!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"nginx exited ({_process.ExitCode}):\n{ErrorLog}");
            }
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, waitForPort, ct);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50, ct);
            }
        }
    }

    /// <summary>An HTTP client that trusts exactly this nginx's self-signed certificate.</summary>
    public HttpClient CreateClient(string baseUrl) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == _certificate.GetCertHashString() },
    }) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(15) };

    private static void Chmod(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    private ProcessStartInfo StartInfo(string[] args)
    {
        var start = new ProcessStartInfo(NginxPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-p", _dir.FullName + "/", "-c", Path.Combine(_dir.FullName, "nginx.conf") }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }
        return start;
    }

    private async Task<(int ExitCode, string Output)> RunAsync(string[] args, CancellationToken ct)
    {
        using var process = Process.Start(StartInfo(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = await process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return (process.ExitCode, stderr + await stdout);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true); // the master and its worker
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process?.Dispose();
        _certificate.Dispose();
    }
}
