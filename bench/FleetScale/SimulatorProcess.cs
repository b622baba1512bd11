extern alias simulator;

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Bench;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace FleetScale;

/// <summary>
/// The Tesla simulator in a child process (this program with <c>--serve-simulator</c>), so the broker's
/// CPU and memory are measured without it. One loopback port serves every host name: the broker's
/// handler connects every request there and the Host header still names the auth server or the region.
/// </summary>
public sealed class SimulatorProcess : IAsyncDisposable
{
    public const string AuthBase = "http://tesla-auth.test";
    public const string NaBase = "http://fleet-na.test";
    public const string EuBase = "http://fleet-eu.test";
    public const string ClientId = "broker-scale";
    public const string Secret = "scale-client-secret";
    public const string RedirectUri = "http://localhost/connect/callback"; // the in-memory broker's host

    private readonly Process _process;

    private SimulatorProcess(Process process, int port) => (_process, Port) = (process, port);

    public int Port { get; }

    public static async Task<SimulatorProcess> StartAsync(string seedFile, DateTimeOffset wallStart)
    {
        var port = LocalPostgres.FreePort();
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--serve-simulator", port.ToString(CultureInfo.InvariantCulture), seedFile, wallStart.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start)!;
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(3)) is { } line && line != "ready")
        {
            Console.Error.WriteLine($"simulator: {line}");
        }
        if (process.HasExited)
        {
            throw new InvalidOperationException($"The simulator process exited ({process.ExitCode}).");
        }
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                Console.Error.WriteLine($"simulator: {line}"); // its warnings; draining keeps the pipe from filling
            }
        });
        return new SimulatorProcess(process, port);
    }

    /// <summary>Tells the child to switch its clock at the same wall instant as ours.</summary>
    public async Task AccelerateAsync(DateTimeOffset wallAt, double speed) =>
        await _process.StandardInput.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"accelerate {wallAt.ToUnixTimeMilliseconds()} {speed}"));

    public HttpMessageHandler CreateHandler() => new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPAddress.Loopback, Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        },
    };

    public HttpClient Client(string baseUrl = AuthBase) => new(CreateHandler()) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(2) };

    public TimeSpan Cpu
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public long PeakRssBytes => Memory.PeakRssBytes(_process.Id);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.StandardInput.Close(); // the child stops when its stdin ends
            if (!_process.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                _process.Kill();
            }
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    /// <summary>The child: hosts the simulator on Kestrel until stdin ends.</summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        var (port, seedFile, wallStart) = (int.Parse(args[1], CultureInfo.InvariantCulture), args[2],
            DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(args[3], CultureInfo.InvariantCulture)));
        var clock = new ScaledClock(wallStart);
        Hosting.PointAtSources();
        await using var app = new SimulatorApp(seedFile, clock);
        app.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        app.StartServer();
        Console.WriteLine("ready");
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var parts = line.Split(' ');
            if (parts is ["accelerate", var at, var speed])
            {
                clock.Accelerate(DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(at, CultureInfo.InvariantCulture)), double.Parse(speed, CultureInfo.InvariantCulture));
            }
        }
        return 0;
    }

    private sealed class SimulatorApp(string seedFile, TimeProvider clock) : WebApplicationFactory<simulator::TeslaSimulator.SimulatorMarker>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Bench");
            foreach (var (k, v) in new Dictionary<string, string>
            {
                ["Simulator:AuthBaseUrl"] = AuthBase, ["Simulator:Regions:na"] = NaBase, ["Simulator:Regions:eu"] = EuBase,
                ["Simulator:SeedFile"] = seedFile, ["Logging:LogLevel:Default"] = "Warning",
            })
            {
                builder.UseSetting(k, v);
            }
            builder.ConfigureTestServices(s => s.AddSingleton(clock));
        }
    }
}

public static class Memory
{
    /// <summary>VmHWM: the process's peak resident set since start or since <see cref="ResetPeak"/>.</summary>
    public static long PeakRssBytes(int pid) => Status(pid, "VmHWM:");

    public static long RssBytes(int pid) => Status(pid, "VmRSS:");

    /// <summary>Linux: writing 5 to clear_refs resets VmHWM to the current RSS (so the peak is the measured stretch's own).</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long Status(int pid, string field) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith(field, StringComparison.Ordinal))
            .Select(l => long.Parse(l[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024).FirstOrDefault();
}
