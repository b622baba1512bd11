using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Broker.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Protocol;

namespace Broker.Tests.Deploy;

/// <summary>
/// deploy/mosquitto/mosquitto.conf and acl run by the real mosquitto (Debian's 2.0.11), with only what must differ on this
/// machine substituted: a loopback port, files in a test directory, and `user root` (as root mosquitto would otherwise
/// switch to a user who cannot read them). The password file is made as deploy/secrets/README.md says. Then the rules
/// docs/telemetry.md promises are tried as a client would: no anonymous or wrong-password client gets in, a replica's
/// account receives what fleet-telemetry's publishes but cannot publish, fleet-telemetry's cannot read anything nor take a
/// replica's session over, and docker-compose.yml's healthcheck passes without a password.
/// </summary>
public sealed class MosquittoConfigTests : IAsyncLifetime
{
    private const string Topic = "telemetry/5YJ3E1EA7PF381204/v/Soc";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("broker-mosquitto-conf-");
    private readonly int _port = PostgresServer.FreePort();
    private readonly string _brokerPassword = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    private readonly string _publisherPassword = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    private readonly List<IMqttClient> _clients = [];
    private Process? _mosquitto;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private string LogPath => Path.Combine(_dir.FullName, "mosquitto.log");

    public async ValueTask InitializeAsync()
    {
        Assert.True(File.Exists(MosquittoHost.MosquittoPath), $"{MosquittoHost.MosquittoPath} not found: `./broker.sh test` installs it "
            + "(or `apt-get install -y --no-install-recommends mosquitto mosquitto-clients`); this test never skips.");
        // deploy/secrets/README.md: user:password lines (one account per replica, one password), then `mosquitto_passwd -U` hashes them in place.
        var passwd = Path.Combine(_dir.FullName, "mosquitto_passwd");
        await File.WriteAllTextAsync(passwd, $"broker-1:{_brokerPassword}\nbroker-2:{_brokerPassword}\nfleet-telemetry:{_publisherPassword}\n", Ct);
        var (hashed, hashOutput) = await RunAsync("mosquitto_passwd", "-U", passwd);
        Assert.True(hashed == 0, hashOutput);
        Assert.DoesNotContain(_brokerPassword, await File.ReadAllTextAsync(passwd, Ct));

        var conf = Substitute(await File.ReadAllTextAsync(DeployTools.PathOf("deploy/mosquitto/mosquitto.conf"), Ct),
            ("listener 1883\n", $"listener {_port} 127.0.0.1\n"),
            ("/run/secrets/mosquitto_passwd", passwd),
            ("/mosquitto/config/acl", DeployTools.PathOf("deploy/mosquitto/acl")),
            ("persistence_location /mosquitto/data/", $"persistence_location {_dir.FullName}/"),
            ("log_dest stdout", $"log_dest file {LogPath}")) + "user root\n";
        var confPath = Path.Combine(_dir.FullName, "mosquitto.conf");
        await File.WriteAllTextAsync(confPath, conf, Ct);
        _mosquitto = Process.Start(new ProcessStartInfo(MosquittoHost.MosquittoPath, ["-c", confPath]) { RedirectStandardError = true })!;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_mosquitto.HasExited)
            {
                Assert.Fail($"mosquitto exited with the deploy configuration:\n{await _mosquitto.StandardError.ReadToEndAsync(Ct)}\n{Log()}");
            }
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, _port, Ct);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50, Ct);
            }
        }
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("broker-1", "wrong")]
    [InlineData("broker", "")]
    [InlineData("fleet-telemetry", "")]
    [InlineData("someone", "else")]
    public async Task NoClientGetsInWithoutItsAccountsPassword(string? user, string? password)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        _clients.Add(client);
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _port).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId("intruder-" + Guid.NewGuid().ToString("n")[..6]);
        if (user is not null)
        {
            options.WithCredentials(user, password);
        }

        // MQTTnet reports a refusing CONNACK as an exception whose message names the reason code.
        string outcome;
        try
        {
            outcome = (await client.ConnectAsync(options.Build(), Ct)).ResultCode.ToString();
        }
        catch (MqttConnectingFailedException refused)
        {
            outcome = refused.Message;
        }

        Assert.Matches($"{MqttClientConnectResultCode.NotAuthorized}|{MqttClientConnectResultCode.BadUserNameOrPassword}", outcome);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task TheBrokerReceivesWhatFleetTelemetryPublishesAndNeitherCanDoTheOthersPart()
    {
        // A replica subscribes as TelemetryIngest does: shared, QoS 1.
        var (broker, brokerReceived) = await ConnectAsync("broker-1", _brokerPassword);
        var granted = await broker.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic("$share/broker/telemetry/+/v/+").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .WithTopicFilter(f => f.WithTopic("$share/broker/telemetry/+/connectivity").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build(), Ct);
        Assert.All(granted.Items, i => Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, i.ResultCode));
        // fleet-telemetry may try to read: mosquitto 2.0 grants the subscription and delivers nothing to it.
        var (publisher, publisherReceived) = await ConnectAsync("fleet-telemetry", _publisherPassword);
        await publisher.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic("telemetry/#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build(), Ct);

        var published = await publisher.PublishAsync(Message(Topic, "{\"value\":80}"), Ct);
        var elsewhere = await publisher.PublishAsync(Message("other/5YJ3E1EA7PF381204/v/Soc", "{\"value\":81}"), Ct);
        var forged = await broker.PublishAsync(Message(Topic, "{\"value\":1}"), Ct);

        Assert.True(published.IsSuccess, $"fleet-telemetry's publish: {published.ReasonCode}");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, elsewhere.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (brokerReceived.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct);
        }
        await Task.Delay(1000, Ct);   // room for anything else to arrive
        Assert.Equal([$"{Topic} {{\"value\":80}}"], brokerReceived);
        Assert.Empty(publisherReceived);
    }

    /// <summary>
    /// mosquitto drops a connection when another arrives with its client id. Were ids free to choose, the fleet-telemetry
    /// account (the one that faces the cars) could connect as <c>broker-1</c> again and again and keep that replica off.
    /// </summary>
    [Fact]
    public async Task NoAccountCanTakeAReplicasSessionOverByUsingItsClientId()
    {
        var replica = new MqttClientFactory().CreateMqttClient();
        _clients.Add(replica);
        var dropped = 0;
        replica.DisconnectedAsync += _ => { Interlocked.Increment(ref dropped); return Task.CompletedTask; };
        var session = await replica.ConnectAsync(Options("broker-1", _brokerPassword, clientId: "broker-1"), Ct);
        Assert.Equal(MqttClientConnectResultCode.Success, session.ResultCode);

        foreach (var (user, password) in new[] { ("fleet-telemetry", _publisherPassword), ("broker-2", _brokerPassword) })
        {
            var intruder = new MqttClientFactory().CreateMqttClient();
            _clients.Add(intruder);
            var connected = await intruder.ConnectAsync(Options(user, password, clientId: "broker-1"), Ct);
            Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);   // it gets in, as itself
            Assert.False(connected.IsSessionPresent);
        }
        await Task.Delay(1000, Ct);   // room for mosquitto to drop the replica, were it going to
        Assert.True(replica.IsConnected);
        Assert.Equal(0, dropped);
    }

    /// <summary>
    /// The broker acknowledges a message once it is stored, a batch at a time. mosquitto sends a client only as many unacknowledged
    /// messages as it may (max_inflight_messages, 20, unless the MQTT 5 client declares a Receive Maximum): found by the
    /// ingest bench, where every batch was 20 messages. Without the Receive Maximum this gets 20 of 500.
    /// </summary>
    [Fact]
    public async Task AReplicaGetsAWholeBatchBeforeItAcknowledgesAny()
    {
        var replica = new MqttClientFactory().CreateMqttClient();
        _clients.Add(replica);
        var received = 0;
        replica.ApplicationMessageReceivedAsync += e => { e.AutoAcknowledge = false; Interlocked.Increment(ref received); return Task.CompletedTask; };
        await replica.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _port).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCredentials("broker-1", _brokerPassword).WithReceiveMaximum(global::Broker.Telemetry.TelemetryIngest.ReceiveMaximum).Build(), Ct);
        await replica.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic("$share/broker/telemetry/+/v/+").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build(), Ct);
        var (publisher, _) = await ConnectAsync("fleet-telemetry", _publisherPassword);
        const int sent = 500;
        for (var i = 0; i < sent; i++)
        {
            await publisher.PublishAsync(Message(Topic, $"{{\"value\":{i % 100}}}"), Ct);
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref received) < sent && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct);
        }
        Assert.Equal(sent, Volatile.Read(ref received));
    }

    [Fact]
    public async Task ComposesHealthcheckPassesWithoutAPassword()
    {
        var compose = await File.ReadAllTextAsync(DeployTools.PathOf("docker-compose.yml"), Ct);
        var check = Regex.Match(compose, @"test: \[""CMD-SHELL"", ""(mosquitto_sub .+)""\]").Groups[1].Value;
        Assert.Contains("mosquitto_sub -h 127.0.0.1 -p 1883 ", check);

        var (healthy, output) = await RunAsync("sh", "-c", check.Replace("-p 1883 ", $"-p {_port} "));
        var (stopped, _) = await RunAsync("sh", "-c", check.Replace("-p 1883 ", $"-p {PostgresServer.FreePort()} "));

        Assert.True(healthy == 0, $"the healthcheck failed against a running mosquitto: {output}\n{Log()}");
        Assert.NotEqual(0, stopped);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
        if (_mosquitto is { HasExited: false })
        {
            _mosquitto.Kill();
            await _mosquitto.WaitForExitAsync(CancellationToken.None);
        }
        _mosquitto?.Dispose();
        _dir.Delete(recursive: true);
    }

    private async Task<(IMqttClient Client, ConcurrentQueue<string> Received)> ConnectAsync(string user, string password)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        _clients.Add(client);
        var received = new ConcurrentQueue<string>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue($"{e.ApplicationMessage.Topic} {Encoding.UTF8.GetString(e.ApplicationMessage.Payload)}");
            return Task.CompletedTask;
        };
        await client.ConnectAsync(Options(user, password, clientId: $"{user}-{Guid.NewGuid().ToString("n")[..6]}"), Ct);
        return (client, received);
    }

    private MqttClientOptions Options(string user, string password, string clientId) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", _port).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
        .WithClientId(clientId).WithCredentials(user, password).WithCleanStart(false).WithSessionExpiryInterval(3600).Build();

    private static MqttApplicationMessage Message(string topic, string payload) => new MqttApplicationMessageBuilder()
        .WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    private string Log() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "";

    private static async Task<(int ExitCode, string Output)> RunAsync(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        return (process.ExitCode, await output + await error);
    }

    /// <summary>Each replacement must find its text exactly once, so a changed deploy file fails here instead of testing something else.</summary>
    private static string Substitute(string text, params (string From, string To)[] replacements)
    {
        foreach (var (from, to) in replacements)
        {
            var count = text.Split(from).Length - 1;
            Assert.True(count == 1, $"deploy/mosquitto/mosquitto.conf contains '{from}' {count} times, expected once: "
                + "tests/Broker.Tests/Deploy/MosquittoConfigTests.cs substitutes it. Adapt the substitution to the new configuration.");
            text = text.Replace(from, to);
        }
        return text;
    }
}
