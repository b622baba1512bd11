using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TeslaSimulator.Control;
using TeslaSimulator.State;

namespace TeslaSimulator.Telemetry;

/// <summary>Where the simulated fleet-telemetry server publishes (its <c>mqtt</c> datastore settings).</summary>
internal sealed class TelemetryStreamOptions
{
    public const string SectionName = "Simulator:Telemetry";

    /// <summary>The MQTT broker; unset, configured cars store their config but nothing streams.</summary>
    public string? MqttHost { get; set; }
    public int MqttPort { get; set; } = 1883;
    public string? MqttUsername { get; set; }
    public string? MqttPassword { get; set; }
    public string TopicBase { get; set; } = "telemetry";
    /// <summary>fleet-telemetry's collector buckets are 500 ms (TESLA.md §8.2).</summary>
    public int TickMilliseconds { get; set; } = 500;
    /// <summary>A car buffers this many records while it cannot deliver (TESLA.md §8.2: 5000).</summary>
    public int BufferPerCar { get; set; } = 5000;
}

/// <summary>
/// Plays the cars and Tesla's fleet-telemetry server with its MQTT datastore. Every tick (500 ms) each awake car holding a
/// config sends a field only when its <c>interval_seconds</c> has passed and its value changed by at least
/// <c>minimum_delta</c> (TESLA.md §8.2; for Location the delta is taken as metres, authored), or when its
/// <c>resend_interval_seconds</c> passed, publishing
/// <c>{"value":…}</c> to <c>&lt;base&gt;/&lt;VIN&gt;/v/&lt;Field&gt;</c> at QoS 1 (datastore/mqtt/mqtt_payload.go), and
/// <c>{"ConnectionId","Status","CreatedAt"}</c> to <c>…/connectivity</c> when it wakes (CONNECTED) or sleeps (DISCONNECTED).
/// A car adopts a stored config when it is next awake (the config's SyncedAt). While the MQTT broker cannot be reached each
/// car buffers up to 5000 records, oldest dropped first, and delivers them when it can. Each field sent is billed as one
/// streaming signal ($1 per 150,000, TESLA.md §7) in the call ledger.
/// </summary>
internal sealed class TelemetryStreamer(SimulatorState state, CallLedger ledger, IOptions<TelemetryStreamOptions> options, TimeProvider time,
    ILogger<TelemetryStreamer> logger) : BackgroundService
{
    private sealed record Pending(string Topic, string Payload);
    private sealed class Sent(JsonNode? value, DateTimeOffset at) { public JsonNode? Value = value; public DateTimeOffset At = at; }

    private readonly Dictionary<(string Vin, string ClientId, string Field), Sent> _sent = [];
    private readonly Dictionary<(string Vin, string ClientId), string> _connections = [];
    private readonly Dictionary<string, Queue<Pending>> _buffers = [];
    private readonly TelemetryStreamOptions _o = options.Value;

    /// <summary>Records waiting for the MQTT broker, all cars together (the control API shows it).</summary>
    public int Buffered { get { lock (_buffers) return _buffers.Values.Sum(q => q.Count); } }

    /// <summary>Messages the MQTT broker has acknowledged (QoS 1) since start: what a subscriber can be waiting to store.</summary>
    public long Published => Interlocked.Read(ref _published);

    private long _published;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrWhiteSpace(_o.MqttHost))
        {
            return;
        }
        using var client = new MqttClientFactory().CreateMqttClient();
        var mqtt = new MqttClientOptionsBuilder().WithTcpServer(_o.MqttHost, _o.MqttPort).WithClientId("fleet-telemetry-sim-" + Guid.NewGuid().ToString("n")[..8])
            .WithProtocolVersion(MqttProtocolVersion.V311).WithCleanSession(true).WithTimeout(TimeSpan.FromSeconds(5));
        if (_o.MqttUsername is { Length: > 0 })
        {
            mqtt.WithCredentials(_o.MqttUsername, _o.MqttPassword);
        }
        var nextConnect = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(_o.TickMilliseconds), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            Collect();
            if (!client.IsConnected && DateTimeOffset.UtcNow >= nextConnect)
            {
                try
                {
                    await client.ConnectAsync(mqtt.Build(), stoppingToken);
                    logger.LogInformation("fleet-telemetry (simulated) connected to MQTT {Host}:{Port}", _o.MqttHost, _o.MqttPort);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    nextConnect = DateTimeOffset.UtcNow.AddSeconds(2);
                    logger.LogDebug("fleet-telemetry (simulated) cannot reach MQTT ({Error}); cars buffer", ex.Message);
                }
            }
            if (client.IsConnected)
            {
                await DeliverAsync(client, stoppingToken);
            }
        }
    }

    /// <summary>One collector tick: what each streaming car sends now, into its buffer.</summary>
    private void Collect()
    {
        var now = state.Now;
        lock (state.Gate)
        {
            foreach (var v in state.AllVehicles)
            {
                if (v.TelemetryConfigs.Count == 0)
                {
                    continue;
                }
                v.Advance(now, state.Timing);
                foreach (var config in v.TelemetryConfigs.Values)
                {
                    var key = (v.Vin, config.ClientId);
                    var streaming = v.IsAwake && config.Exp > now.ToUnixTimeSeconds();
                    if (!streaming)
                    {
                        if (_connections.Remove(key, out var gone))
                        {
                            Enqueue(v.Vin, $"{v.Vin}/connectivity", Connectivity(gone, "DISCONNECTED", now));
                        }
                        continue;
                    }
                    config.SyncedAt ??= now; // the car adopts the config at its first connection after it was stored
                    if (!_connections.ContainsKey(key))
                    {
                        _connections[key] = Guid.NewGuid().ToString();
                        Enqueue(v.Vin, $"{v.Vin}/connectivity", Connectivity(_connections[key], "CONNECTED", now));
                    }
                    foreach (var (field, plan) in config.Fields)
                    {
                        if (Value(v, field) is not { } value)
                        {
                            continue; // a field this car does not have
                        }
                        var sentKey = (v.Vin, config.ClientId, field);
                        // Sent when the interval passed and the value changed, or when resend_interval_seconds passed regardless.
                        if (_sent.TryGetValue(sentKey, out var last)
                            && (now - last.At < TimeSpan.FromSeconds(plan.IntervalSeconds) || !Changed(field, last.Value, value, plan.MinimumDelta))
                            && !(plan.ResendIntervalSeconds is { } resend && now - last.At >= TimeSpan.FromSeconds(resend)))
                        {
                            continue;
                        }
                        _sent[sentKey] = new Sent(value.DeepClone(), now);
                        Enqueue(v.Vin, $"{v.Vin}/v/{field}", new JsonObject { ["value"] = value }.ToJsonString());
                        ledger.Record(v.Owner.Email, v.Vin, "streaming", 200, "fleet-telemetry");
                    }
                }
            }
        }
    }

    private static string Connectivity(string connectionId, string status, DateTimeOffset now) =>
        new JsonObject { ["ConnectionId"] = connectionId, ["Status"] = status, ["CreatedAt"] = now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ") }.ToJsonString();

    private void Enqueue(string vin, string topic, string payload)
    {
        lock (_buffers)
        {
            if (!_buffers.TryGetValue(vin, out var q))
            {
                _buffers[vin] = q = new Queue<Pending>();
            }
            if (q.Count >= _o.BufferPerCar)
            {
                q.Dequeue();
            }
            q.Enqueue(new Pending($"{_o.TopicBase.TrimEnd('/')}/{topic}", payload));
        }
    }

    private async Task DeliverAsync(IMqttClient client, CancellationToken ct)
    {
        List<(string Vin, Pending Message)> batch;
        lock (_buffers)
        {
            batch = _buffers.SelectMany(kv => kv.Value.Select(m => (kv.Key, m))).ToList();
        }
        foreach (var (vin, m) in batch)
        {
            try
            {
                await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(m.Topic).WithPayload(Encoding.UTF8.GetBytes(m.Payload))
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogDebug("fleet-telemetry (simulated) publish failed ({Error}); kept in the car's buffer", ex.Message);
                return;
            }
            lock (_buffers)
            {
                // Counted before it leaves the buffer: whoever sees the buffers empty also sees it in Published.
                Interlocked.Increment(ref _published);
                if (_buffers.TryGetValue(vin, out var q) && q.Count > 0 && ReferenceEquals(q.Peek(), m))
                {
                    q.Dequeue();
                }
            }
        }
    }

    private static bool Changed(string field, JsonNode? before, JsonNode now, double? minimumDelta)
    {
        if (before is null)
        {
            return true;
        }
        if (field == "Location" && before is JsonObject a && now is JsonObject b)
        {
            var metres = Metres((double)a["latitude"]!, (double)a["longitude"]!, (double)b["latitude"]!, (double)b["longitude"]!);
            return metres > 0 && metres >= (minimumDelta ?? 0);
        }
        if (before is JsonValue x && now is JsonValue y && x.TryGetValue<double>(out var dx) && y.TryGetValue<double>(out var dy))
        {
            // Values are rounded as sent (energy to 10 Wh), so 30.83 - 30.82 is 0.00999…: a change of exactly the delta counts.
            return dx != dy && Math.Abs(dx - dy) >= (minimumDelta ?? 0) * (1 - 1e-9);
        }
        return !JsonNode.DeepEquals(before, now);
    }

    private static double Metres(double lat1, double lon1, double lat2, double lon2)
    {
        const double R = 6_371_000;
        var dLat = double.DegreesToRadians(lat2 - lat1);
        var dLon = double.DegreesToRadians(lon2 - lon1);
        var h = Math.Sin(dLat / 2) * Math.Sin(dLat / 2)
            + Math.Cos(double.DegreesToRadians(lat1)) * Math.Cos(double.DegreesToRadians(lat2)) * Math.Sin(dLon / 2) * Math.Sin(dLon / 2);
        return 2 * R * Math.Asin(Math.Min(1, Math.Sqrt(h)));
    }

    /// <summary>
    /// A field's value as fleet-telemetry's MQTT datastore writes it (enums by name, location as an object), from the same car
    /// state vehicle_data reports (Fleet/VehicleJson.cs), so both paths agree.
    /// </summary>
    private static JsonNode? Value(SimVehicle v, string field) => field switch
    {
        "VehicleSpeed" => v.SpeedNow,
        "Gear" => v.Mode == VehicleMode.Driving ? "ShiftStateD" : "ShiftStateP",
        "Location" => new JsonObject { ["latitude"] = Math.Round(v.Latitude, 6), ["longitude"] = Math.Round(v.Longitude, 6) },
        "GpsHeading" => v.Heading,
        "Odometer" => Math.Round(v.Odometer, 3),
        "BatteryLevel" or "Soc" => Math.Round(v.Battery, 1),
        "RatedRange" => Math.Round(v.Battery / 100 * Fleet.VehicleJson.RatedMilesAtFull, 2),
        "DetailedChargeState" => "DetailedChargeState" + v.ChargingState,
        "ACChargingPower" => Math.Round(v.ChargerPowerKw, 1),
        "DCChargingPower" => 0.0,
        "ACChargingEnergyIn" => Math.Round(v.ChargeEnergyAdded, 2),
        "DCChargingEnergyIn" => 0.0,
        "ChargeLimitSoc" => v.ChargeLimit,
        "InsideTemp" => 29.8,   // the vehicle_data fixture's climate_state
        "OutsideTemp" => 30.0,
        "Locked" => v.Locked,
        "SentryMode" => "SentryModeStateOff",
        "DoorState" => new JsonObject
        {
            ["DriverFront"] = false, ["PassengerFront"] = false, ["DriverRear"] = false, ["PassengerRear"] = false, ["TrunkFront"] = false, ["TrunkRear"] = false,
        },
        "DriverSeatOccupied" => v.Mode == VehicleMode.Driving,
        "HvacPower" => v.Mode == VehicleMode.Driving || v.ClimateOn ? "HvacPowerStateOn" : "HvacPowerStateOff",
        "ChargeAmps" or "ChargeCurrentRequest" => v.ChargeAmps,
        "ChargeCurrentRequestMax" => v.Seed.MaxChargeAmps,
        "ChargePortDoorOpen" => v.ChargePortOpen,
        "PreconditioningEnabled" => false,
        "CarType" => CarType(v.Seed.CarType),
        "Version" => $"{v.Seed.FirmwareVersion} 06f534d46010",
        _ => null,
    };

    private static string CarType(string carType) => carType.ToLowerInvariant() switch
    {
        "model3" => "CarTypeModel3",
        "modely" => "CarTypeModelY",
        "modelx" => "CarTypeModelX",
        "cybertruck" => "CarTypeCybertruck",
        _ => "CarTypeModelS",
    };
}
