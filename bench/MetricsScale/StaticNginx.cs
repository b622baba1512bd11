using System.Diagnostics;
using System.Net.Sockets;

namespace MetricsScale;

/// <summary>
/// Debian's nginx serving files from a directory on a loopback port: the yardstick a scrape is
/// compared with (the same bytes, as a static file). Configured the plain way: sendfile, no access log.
/// </summary>
internal sealed class StaticNginx : IAsyncDisposable
{
    private readonly string _dir;
    private readonly Process _process;

    private StaticNginx(string dir, Process process) => (_dir, _process) = (dir, process);

    public static async Task<StaticNginx> StartAsync(string root, int port)
    {
        var dir = Directory.CreateTempSubdirectory("metrics-scale-nginx-").FullName;
        // Started as root, nginx's workers run as nobody: they must reach the files.
        foreach (var path in new[] { dir, root })
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
            }
        }
        await File.WriteAllTextAsync(Path.Combine(dir, "nginx.conf"), $$"""
            worker_processes auto;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log;
            events { worker_connections 512; }
            http {
                access_log off;
                sendfile on;
                tcp_nopush on;
                default_type text/plain;
                client_body_temp_path {{dir}}/client_body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                server {
                    listen 127.0.0.1:{{port}};
                    root {{root}};
                }
            }
            """);
        var start = new ProcessStartInfo("/usr/sbin/nginx") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "-p", dir, "-c", Path.Combine(dir, "nginx.conf"), "-g", "daemon off;" })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("nginx did not start (apt-get install nginx)");
        var nginx = new StaticNginx(dir, process);
        for (var i = 0; ; i++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return nginx;
            }
            catch (SocketException) when (i < 100 && !process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true); // the workers too: killed alone, the master leaves them running
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
