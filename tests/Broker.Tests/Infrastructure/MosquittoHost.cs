using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// Debian's mosquitto (<c>/usr/sbin/mosquitto</c>) on a loopback port, set up as docker-compose sets it up: no anonymous
/// clients, deploy/mosquitto/acl's subscribe-only accounts for the replicas (<c>broker-1</c>, <c>broker-2</c>; each account
/// name is its client id) and publish-only account for fleet-telemetry (the simulator),
/// persistence in the test directory so a restart keeps sessions and queued QoS 1 messages. A missing mosquitto fails the
/// test with the way to install it: never a skip.
/// </summary>
public sealed class MosquittoHost : IAsyncDisposable
{
    public const string MosquittoPath = "/usr/sbin/mosquitto";
    /// <summary>The replicas' accounts in deploy/mosquitto/acl; they share <see cref="BrokerPassword"/>.</summary>
    public static readonly string[] ReplicaUsers = ["broker-1", "broker-2"];
    public const string PublisherUser = "fleet-telemetry";
    /// <summary>
    /// The tests' own publisher of odd messages, with fleet-telemetry's rights and password: an account of its own because the
    /// account name is the client id, and on <see cref="PublisherUser"/> it would throw the simulator's publisher off.
    /// </summary>
    public const string TestPublisherUser = "test-publisher";

    private readonly DirectoryInfo _dir;
    private Process? _process;

    public MosquittoHost(DirectoryInfo dir)
    {
        Assert.True(File.Exists(MosquittoPath), $"{MosquittoPath} not found: these tests run the real mosquitto. `./broker.sh test` installs it "
            + "(or `apt-get install -y --no-install-recommends mosquitto mosquitto-clients`); they never skip.");
        _dir = dir.CreateSubdirectory("mosquitto-" + Guid.NewGuid().ToString("n")[..6]);
    }

    public int Port { get; } = PostgresServer.FreePort();
    public string BrokerPassword { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    public string PublisherPassword { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    public string Log => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "";
    private string LogPath => Path.Combine(_dir.FullName, "mosquitto.log");

    /// <summary>The settings of the replica that uses this account (<see cref="ReplicaUsers"/>), which is also its client id.</summary>
    public Dictionary<string, string?> BrokerSettings(string replica = "broker-1") => new()
    {
        ["Telemetry:Mqtt:Host"] = "127.0.0.1",
        ["Telemetry:Mqtt:Port"] = Port.ToString(),
        ["Telemetry:Mqtt:Username"] = replica,
        ["Telemetry:Mqtt:Password"] = BrokerPassword,
        ["Telemetry:Server:Hostname"] = "telemetry.broker.test",
    };

    /// <summary>The simulator's fleet-telemetry settings for this MQTT broker.</summary>
    public Dictionary<string, string?> SimulatorSettings() => new()
    {
        ["Simulator:Telemetry:MqttHost"] = "127.0.0.1",
        ["Simulator:Telemetry:MqttPort"] = Port.ToString(),
        ["Simulator:Telemetry:MqttUsername"] = PublisherUser,
        ["Simulator:Telemetry:MqttPassword"] = PublisherPassword,
    };

    public async Task StartAsync(CancellationToken ct)
    {
        var passwd = Path.Combine(_dir.FullName, "passwd");
        if (!File.Exists(passwd))
        {
            await File.WriteAllTextAsync(passwd, "", ct);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(passwd, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            foreach (var (user, password) in ReplicaUsers.Select(u => (u, BrokerPassword)).Append((PublisherUser, PublisherPassword)).Append((TestPublisherUser, PublisherPassword)))
            {
                var add = Process.Start(new ProcessStartInfo("mosquitto_passwd", ["-b", passwd, user, password]) { RedirectStandardError = true })!;
                await add.WaitForExitAsync(ct);
                Assert.True(add.ExitCode == 0, "mosquitto_passwd failed: " + await add.StandardError.ReadToEndAsync(ct));
            }
            // docker-compose.yml's own ACL (deploy/mosquitto/acl): these tests stream under the rules production has.
            await File.WriteAllTextAsync(Path.Combine(_dir.FullName, "acl"), await File.ReadAllTextAsync(Path.Combine(PostgresServer.RepoRoot(), "deploy", "mosquitto", "acl"), ct)
                + $"\nuser {TestPublisherUser}\ntopic write telemetry/#\n", ct);
            await File.WriteAllTextAsync(Path.Combine(_dir.FullName, "mosquitto.conf"), $"""
                listener {Port} 127.0.0.1
                allow_anonymous false
                password_file {passwd}
                acl_file {_dir.FullName}/acl
                use_username_as_clientid true
                persistence true
                persistence_location {_dir.FullName}/
                autosave_interval 1
                max_queued_messages 100000
                max_packet_size 1048576
                log_dest file {LogPath}
                log_type error
                log_type warning
                log_type notice
                log_type information
                user root
                """ + "\n", ct);
        }
        _process = Process.Start(new ProcessStartInfo(MosquittoPath, ["-c", Path.Combine(_dir.FullName, "mosquitto.conf")]))!;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(_process.HasExited, $"mosquitto exited ({(_process.HasExited ? _process.ExitCode : 0)}):\n{Log}");
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, Port, ct);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50, ct);
            }
        }
    }

    /// <summary>Stops mosquitto as an operator would (SIGTERM: it saves sessions and queued messages first).</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
            await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        }
        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process?.Dispose();
    }
}
