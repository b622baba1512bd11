using System.Net.Http.Json;
using System.Text;
using Broker.Partner;
using Broker.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Protocol;

namespace FleetDay;

/// <summary>
/// The streaming column's plumbing: the broker with Telemetry on a real mosquitto, its partner key registered and every
/// car's virtual key paired before the day starts, and simulated time held while the stream catches up. The rules:
/// <list type="bullet">
/// <item>Time moves one streamer tick (500 ms) at a time (<see cref="AdvanceAsync"/>); the other pollers see the same clock.</item>
/// <item>After each tick the clock stands still until the streamer armed its next tick (<see cref="StreamClock"/>) and
/// until the broker stored every message mosquitto took so far: the bench's own subscriber
/// counts the telemetry topics up to a marker it publishes after the tick (mosquitto delivers to one subscriber in order), and
/// <see cref="TelemetryIngest.Stored"/> must reach that count. A streamed field's DataAt (the ingest's clock) is then the
/// simulated moment of its tick, whatever real time MQTT and Postgres took.</item>
/// </list>
/// </summary>
public sealed class Streaming(StreamClock clock, TelemetryIngest ingest, IMqttClient observer) : IAsyncDisposable
{
    public const string Domain = "bench.broker.test";
    public const string OperatorToken = "bench-operator-token-0123456789abcdef";
    private const string ProbeVin = "BENCHPROBE0000000"; // a VIN no account has: the broker counts it unknown_vin and stores nothing

    private readonly TelemetryIngest _ingest = ingest;
    private long _seen;
    private int _marker;
    private Func<int> _buffered = () => 0;
    private TaskCompletionSource<long>? _waiting;

    private readonly Dictionary<string, long> _byField = [];

    /// <summary>Ticks after which the bench had to wait for the broker to store what mosquitto had delivered.</summary>
    public long Waits { get; private set; }

    /// <summary>Ticks after which the broker had stored more than mosquitto delivered (a QoS 1 message delivered twice).</summary>
    public long Overstored { get; private set; }

    /// <summary>Ticks after which records were still in a car's buffer (the simulated server had lost mosquitto): they arrive late.</summary>
    public long Undelivered { get; private set; }

    public long Seen => Interlocked.Read(ref _seen);
    public long Stored => _ingest.Stored;

    /// <summary>The messages the cars streamed, by field, most first (the bench's counter saw each one).</summary>
    public string ByField()
    {
        lock (_byField)
        {
            return string.Join(", ", _byField.OrderByDescending(f => f.Value).Select(f => $"{f.Key} {f.Value}"));
        }
    }

    public static Dictionary<string, string?> BrokerSettings(Bench.Mosquitto mqtt) => new(mqtt.BrokerSettings("broker-fleetday"))
    {
        ["Partner:Domain"] = Domain,
        ["Operator:Token"] = OperatorToken,
    };

    /// <summary>What an operator and the owners do first: a partner key, registered in both regions, and every car's key paired.</summary>
    public static async Task PairAsync(BrokerWorld broker, SimWorld sim, IEnumerable<string> vins)
    {
        sim.PartnerWeb = () => broker.Server.CreateHandler(); // Tesla downloads the public key from the broker
        var api = broker.CreateClient();
        api.DefaultRequestHeaders.Authorization = new("Bearer", OperatorToken);
        (await api.PostAsJsonAsync("/api/v1/partner/key", new { generate = true })).EnsureSuccessStatusCode();
        foreach (var region in new[] { "na", "eu" })
        {
            var registered = await (await api.PostAsJsonAsync("/api/v1/partner/registrations", new { region })).Content.ReadFromJsonAsync<List<PartnerRegistrationResponse>>();
            if (registered?.SingleOrDefault(r => r.Region == region)?.Status != "registered")
            {
                throw new InvalidOperationException($"partner registration in {region}: {string.Join(", ", registered?.Select(r => $"{r.Region} {r.Status} {r.Error}") ?? [])}");
            }
        }
        foreach (var vin in vins)
        {
            (await sim.Client().PostAsJsonAsync($"/_sim/vehicles/{vin}/virtual-key", new { domain = Domain, paired = true })).EnsureSuccessStatusCode();
        }
    }

    /// <summary>Subscribes the bench's counter, proves the path simulator → mosquitto → broker → Postgres with a probe, and lets the streamer connect.</summary>
    public static async Task<Streaming> StartAsync(Bench.Mosquitto mqtt, StreamClock clock, BrokerWorld broker, SimWorld sim)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var s = new Streaming(clock, broker.Services.GetRequiredService<TelemetryIngest>(), client);
        // The simulator's streamer is internal: its Buffered count (records a car holds while mosquitto is out of reach) by reflection.
        var streamer = sim.Services.GetServices<IHostedService>().Single(h => h.GetType().Name == "TelemetryStreamer");
        var buffered = streamer.GetType().GetProperty("Buffered")!;
        s._buffered = () => (int)buffered.GetValue(streamer)!;
        client.ApplicationMessageReceivedAsync += e =>
        {
            if (e.ApplicationMessage.Topic == "bench/marker")
            {
                if (int.Parse(e.ApplicationMessage.ConvertPayloadToString()) == s._marker)
                {
                    s._waiting?.TrySetResult(Interlocked.Read(ref s._seen));
                }
            }
            else
            {
                Interlocked.Increment(ref s._seen);
                var topic = e.ApplicationMessage.Topic.Split('/');
                if (topic[1] != ProbeVin)
                {
                    var field = topic[^2] == "v" ? topic[^1] : topic[^1] + " (not billed)";
                    lock (s._byField)
                    {
                        s._byField[field] = s._byField.GetValueOrDefault(field) + 1;
                    }
                }
            }
            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", mqtt.Port).WithClientId("bench-counter")
            .WithCredentials(Bench.Mosquitto.BenchUser, mqtt.BenchPassword).WithCleanStart().Build());
        await client.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic("telemetry/#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .WithTopicFilter(f => f.WithTopic("bench/marker").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());

        // The broker subscribes on its own once started. From then on every message reaches both the counter and the broker,
        // so their counts stay equal; one probe proves the whole path.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (TelemetryMetrics.MqttConnected.Value < 1)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the broker never subscribed: " + mqtt.Log);
            }
            await Task.Delay(100);
        }
        await Publish(client, $"telemetry/{ProbeVin}/v/InsideTemp", "{\"value\":1}");
        await s.SettleAsync();
        await s.AdvanceAsync(clock.Tick); // the streamer's first tick connects it to mosquitto
        return s;
    }

    /// <summary>Moves simulated time by <paramref name="step"/>, a tick at a time, each tick settled (see the rules).</summary>
    public async Task AdvanceAsync(TimeSpan step)
    {
        for (var left = step; left > TimeSpan.Zero; left -= clock.Tick)
        {
            clock.Advance(left < clock.Tick ? left : clock.Tick);
            await clock.WaitForTickAsync();
            await SettleAsync();
            if (_buffered() > 0)
            {
                Undelivered++;
            }
        }
    }

    /// <summary>After <see cref="StreamClock.SetUtcNow"/> (the day's start): that jump's last tick, settled.</summary>
    public async Task SettleTickAsync()
    {
        await clock.WaitForTickAsync();
        await SettleAsync();
    }

    /// <summary>Every tick, not only those that seemed to publish: one round trip through mosquitto (see <see cref="StreamClock"/>).</summary>
    private async Task SettleAsync()
    {
        var count = await CountThroughMarkerAsync();
        if (_ingest.Stored < count)
        {
            Waits++;
        }
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (_ingest.Stored < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the broker stored {_ingest.Stored} of {count} messages");
            }
            await Task.Delay(1);
        }
        if (_ingest.Stored > count)
        {
            Overstored++;
        }
    }

    /// <summary>Telemetry messages mosquitto has handed the bench's counter, all of them up to this moment.</summary>
    private async Task<long> CountThroughMarkerAsync()
    {
        _waiting = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await Publish(observer, "bench/marker", (++_marker).ToString());
        return await _waiting.Task.WaitAsync(TimeSpan.FromMinutes(2));
    }

    private static Task Publish(IMqttClient client, string topic, string payload) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    public async ValueTask DisposeAsync()
    {
        await observer.DisconnectAsync();
        observer.Dispose();
    }
}
