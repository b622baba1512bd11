using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Bench;

/// <summary>
/// Debian's mosquitto (<c>/usr/sbin/mosquitto</c>) on a free loopback port for one benchmark run, set up as the tests'
/// MosquittoHost and docker-compose set it up: no anonymous clients, a subscribe-only account for the broker, a
/// publish-only one for fleet-telemetry (the simulator), and one more for the bench itself (counts and probes the
/// telemetry topics, has <c>bench/#</c> of its own and reads mosquitto's <c>$SYS</c> counters). Stopped and its directory removed at the end.
/// </summary>
public sealed class Mosquitto : IAsyncDisposable
{
    public const string Path = "/usr/sbin/mosquitto";
    public const string BrokerUser = "broker";
    public const string PublisherUser = "fleet-telemetry";
    public const string BenchUser = "bench";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("broker-bench-mqtt-");
    private Process? _process;

    public int Port { get; } = LocalPostgres.FreePort();
    public int Pid => _process!.Id;
    public string BrokerPassword { get; } = Secret();
    public string PublisherPassword { get; } = Secret();
    public string BenchPassword { get; } = Secret();

    /// <summary>The broker's Telemetry settings for this MQTT broker (the fleet-telemetry hostname is only written into configs).</summary>
    public Dictionary<string, string?> BrokerSettings(string clientId) => new()
    {
        ["Telemetry:Mqtt:Host"] = "127.0.0.1",
        ["Telemetry:Mqtt:Port"] = Port.ToString(),
        ["Telemetry:Mqtt:Username"] = BrokerUser,
        ["Telemetry:Mqtt:Password"] = BrokerPassword,
        ["Telemetry:Mqtt:ClientId"] = clientId,
        ["Telemetry:Server:Hostname"] = "telemetry.bench.test",
    };

    /// <summary>The simulator's fleet-telemetry settings for this MQTT broker.</summary>
    public Dictionary<string, string?> SimulatorSettings() => new()
    {
        ["Simulator:Telemetry:MqttHost"] = "127.0.0.1",
        ["Simulator:Telemetry:MqttPort"] = Port.ToString(),
        ["Simulator:Telemetry:MqttUsername"] = PublisherUser,
        ["Simulator:Telemetry:MqttPassword"] = PublisherPassword,
    };

    public static async Task<Mosquitto> StartAsync()
    {
        if (!File.Exists(Path))
        {
            throw new InvalidOperationException($"{Path} not found: apt-get install -y --no-install-recommends mosquitto mosquitto-clients");
        }
        var m = new Mosquitto();
        var dir = m._dir.FullName;
        var passwd = System.IO.Path.Combine(dir, "passwd");
        await File.WriteAllTextAsync(passwd, "");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(passwd, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        foreach (var (user, password) in new[] { (BrokerUser, m.BrokerPassword), (PublisherUser, m.PublisherPassword), (BenchUser, m.BenchPassword) })
        {
            using var add = Process.Start(new ProcessStartInfo("mosquitto_passwd", ["-b", passwd, user, password]) { RedirectStandardError = true })!;
            await add.WaitForExitAsync();
            if (add.ExitCode != 0)
            {
                throw new InvalidOperationException("mosquitto_passwd failed: " + await add.StandardError.ReadToEndAsync());
            }
        }
        await File.WriteAllTextAsync(System.IO.Path.Combine(dir, "acl"), $"""
            user {BrokerUser}
            topic read telemetry/#

            user {PublisherUser}
            topic write telemetry/#

            user {BenchUser}
            topic readwrite telemetry/#
            topic readwrite bench/#
            topic read $SYS/#
            """ + "\n");
        // No persistence: one run, one mosquitto. Queues as deep as the tests' (a car buffers 5000 records).
        await File.WriteAllTextAsync(System.IO.Path.Combine(dir, "mosquitto.conf"), $"""
            listener {m.Port} 127.0.0.1
            allow_anonymous false
            max_packet_size 1048576
            password_file {passwd}
            acl_file {dir}/acl
            max_queued_messages 100000
            log_dest file {dir}/mosquitto.log
            log_type error
            log_type warning
            user root
            """ + "\n");
        m._process = Process.Start(new ProcessStartInfo(Path, ["-c", System.IO.Path.Combine(dir, "mosquitto.conf")]))!;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (m._process.HasExited)
            {
                throw new InvalidOperationException($"mosquitto exited ({m._process.ExitCode}): {m.Log}");
            }
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, m.Port);
                return m;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50);
            }
        }
    }

    public string Log => File.Exists(System.IO.Path.Combine(_dir.FullName, "mosquitto.log"))
        ? File.ReadAllText(System.IO.Path.Combine(_dir.FullName, "mosquitto.log")) : "";

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        _dir.Delete(recursive: true);
    }

    private static string Secret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
