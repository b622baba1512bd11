using System.Globalization;
using System.Text;
using Broker.Telemetry;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace TelemetryIngest;

/// <summary>
/// Plays fleet-telemetry's MQTT datastore for many cars at once: <c>{"value":…}</c> on <c>telemetry/&lt;VIN&gt;/v/&lt;Field&gt;</c>
/// and <c>{"ConnectionId","Status","CreatedAt"}</c> on <c>telemetry/&lt;VIN&gt;/connectivity</c>, QoS 1, as the fleet-telemetry
/// account (the shapes of the simulator's TelemetryStreamer). Each car is due again at its own time (a priority queue, so a
/// 10,000-car fleet costs the bench little CPU). The rates:
/// <list type="bullet">
/// <item>A day-average car sends <see cref="SignalsPerDay"/> signals a day at random moments (exponential gaps), fields mixed as
/// FleetDay's streaming column measured them (bench/RESULTS.md: 5,264 signals for 3 vehicle-days, ≈ 1,800 each).</item>
/// <item>In a peak phase <c>activePercent</c> of the cars are active, half driving and half charging, and send every field that
/// moves in that state at its <c>interval_seconds</c> (<see cref="TelemetryFields.Requested"/>), as if it changed by more than
/// its <c>minimum_delta</c> every time: the most the plan lets a car send. The other cars stay day-average.</item>
/// </list>
/// </summary>
public sealed class FleetLoad(IMqttClient client, IReadOnlyList<string> vins, int signalsPerDay, int activePercent) : IAsyncDisposable
{
    public int SignalsPerDay { get; } = signalsPerDay;

    private static readonly string[] Driving = ["VehicleSpeed", "Location", "GpsHeading", "Odometer", "BatteryLevel", "Soc", "RatedRange"];
    private static readonly string[] Charging = ["ACChargingPower", "ACChargingEnergyIn", "BatteryLevel", "Soc", "RatedRange"];
    // FleetDay's streamed messages by field (three cars, one day); "InsideTemp" stands for the 10 fields sent 35 times each.
    private static readonly (string Field, int Weight)[] DayMix =
    [
        ("Location", 2909), ("RatedRange", 590), ("ACChargingEnergyIn", 572), ("BatteryLevel", 193), ("Soc", 193), ("Odometer", 179),
        ("Gear", 41), ("VehicleSpeed", 41), ("HvacPower", 41), ("DriverSeatOccupied", 41), ("ACChargingPower", 38),
        ("DetailedChargeState", 38), ("InsideTemp", 35 * 10), ("CarType", 19), ("Version", 19),
    ];

    private readonly SemaphoreSlim _inFlight = new(512); // QoS 1 publishes awaiting their PUBACK, as paho keeps several in flight
    private readonly CancellationTokenSource _stop = new();
    private Task? _running;
    private long _published, _failed;

    public long Published => Interlocked.Read(ref _published);
    public long Failed => Interlocked.Read(ref _failed);

    public static async Task<IMqttClient> ConnectAsync(Bench.Mosquitto mqtt, string clientId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", mqtt.Port).WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V311).WithCleanSession(true).WithTimeout(TimeSpan.FromSeconds(30))
            .WithCredentials(Bench.Mosquitto.PublisherUser, mqtt.PublisherPassword).Build());
        return client;
    }

    /// <summary>Every car says CONNECTED once (as fleet-telemetry does when a car's socket opens).</summary>
    public async Task ConnectCarsAsync()
    {
        var at = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        await Task.WhenAll(vins.Select(vin => PublishAsync(client, $"telemetry/{vin}/connectivity",
            $$"""{"ConnectionId":"{{Guid.NewGuid()}}","Status":"CONNECTED","CreatedAt":"{{at}}"}""", counted: false)));
    }

    public void Start() => _running = Task.Run(() => RunAsync(_stop.Token));

    /// <summary>What the schedule asks for, signals per second (the bench reports what was published beside it).</summary>
    public double TargetPerSecond
    {
        get
        {
            var perSecond = TelemetryFields.Requested.ToDictionary(p => p.Field, p => 1.0 / p.IntervalSeconds);
            var active = vins.Count * activePercent / 100;
            var (driving, charging) = ((active + 1) / 2, active / 2);
            return (vins.Count - active) * (double)SignalsPerDay / 86_400
                + driving * Driving.Sum(f => perSecond[f]) + charging * Charging.Sum(f => perSecond[f]);
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var random = new Random(14);
        var intervals = TelemetryFields.Requested.ToDictionary(p => p.Field, p => p.IntervalSeconds * 1000L);
        var mixTotal = DayMix.Sum(m => m.Weight);
        var dayGapMs = 86_400_000.0 / SignalsPerDay;
        var due = new PriorityQueue<(int Car, string? Field), long>();
        var active = vins.Count * activePercent / 100;
        for (var car = 0; car < vins.Count; car++)
        {
            if (car >= active)
            {
                due.Enqueue((car, null), Gap(random, dayGapMs)); // memoryless from the start, so the rate is steady at once
                continue;
            }
            foreach (var field in car % 2 == 0 ? Driving : Charging)
            {
                due.Enqueue((car, field), (long)(random.NextDouble() * intervals[field]));
            }
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!ct.IsCancellationRequested)
        {
            while (due.TryPeek(out var next, out var at) && at <= clock.ElapsedMilliseconds)
            {
                due.Dequeue();
                var field = next.Field ?? Pick(random.Next(mixTotal));
                await _inFlight.WaitAsync(ct);
                _ = PublishAsync(client, $"telemetry/{vins[next.Car]}/v/{field}", Payload(field, next.Car, at), counted: true);
                due.Enqueue(next, at + (next.Field is null ? Gap(random, dayGapMs) : intervals[next.Field]));
            }
            await Task.Delay(20, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>An exponential gap: a day-average car's signals are a Poisson process.</summary>
    private static long Gap(Random random, double meanMs) => (long)(-Math.Log(1 - random.NextDouble()) * meanMs);

    private static string Pick(int ticket)
    {
        foreach (var (field, weight) in DayMix)
        {
            if ((ticket -= weight) < 0)
            {
                return field;
            }
        }
        return DayMix[^1].Field;
    }

    private async Task PublishAsync(IMqttClient mqtt, string topic, string payload, bool counted)
    {
        try
        {
            var result = await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            if (!result.IsSuccess)
            {
                Interlocked.Increment(ref _failed);
            }
            else if (counted)
            {
                Interlocked.Increment(ref _published);
            }
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _failed);
        }
        finally
        {
            if (counted)
            {
                _inFlight.Release();
            }
        }
    }

    /// <summary>A value of the field's shape (simulator's TelemetryStreamer) that moves with time, so every send is a change.</summary>
    private static string Payload(string field, int car, long atMs)
    {
        var t = atMs / 1000.0;
        var value = field switch
        {
            "VehicleSpeed" => F(20 + t % 40),
            "Location" => $$"""{"latitude":{{F(37 + car % 100 / 100.0 + t / 1e5)}},"longitude":{{F(-122 + t / 1e5)}}}""",
            "GpsHeading" => F(t % 360),
            "Odometer" => F(1000 + car % 5000 + t / 100),
            "BatteryLevel" or "Soc" => F(20 + t / 60 % 70),
            "RatedRange" => F(60 + t / 60 % 200),
            "ACChargingPower" => F(7 + t % 4),
            "ACChargingEnergyIn" => F(t / 60 % 60),
            "DetailedChargeState" => "\"DetailedChargeStateCharging\"",
            "Gear" => "\"ShiftStateD\"",
            "HvacPower" => "\"HvacPowerStateOn\"",
            "DriverSeatOccupied" => "true",
            "CarType" => "\"CarTypeModel3\"",
            "Version" => "\"2024.44.25 06f534d46010\"",
            _ => F(15 + t / 60 % 10),
        };
        return $$"""{"value":{{value}}}""";
    }

    private static string F(double v) => Math.Round(v, 3).ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_running is not null)
        {
            await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // cancelled while waiting for a free slot
        }
        for (var i = 0; i < 512; i++)
        {
            await _inFlight.WaitAsync(); // every publish answered: the counts are final
        }
    }
}
