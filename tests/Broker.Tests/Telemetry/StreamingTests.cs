extern alias simulator;

using System.Net.Http.Json;
using System.Text;
using Broker.Partner;
using Broker.Telemetry;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace Broker.Tests.Telemetry;

/// <summary>
/// Fleet Telemetry end to end on real parts: the broker configures cars with a signed config, the simulator plays the cars and
/// Tesla's fleet-telemetry server and publishes to a real mosquitto, and the broker ingests from it with a shared subscription.
/// </summary>
public sealed class StreamingTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Domain = "broker.test";
    private const string MidnightRunner = "5YJ3E1EA7PF381204";   // alice's, driving
    private const string Sentinel = "7SAYGDEE5PA114587";         // alice's, charging; never paired here
    private readonly MosquittoHost _mqtt = new(Directory.CreateTempSubdirectory("broker-mqtt-"));

    protected override Dictionary<string, string?> BrokerSettings => new(_mqtt.BrokerSettings("broker-1"))
    {
        ["Partner:Domain"] = Domain,
        ["Partner:PairingBaseUrl"] = SimulatorHost.AuthBase,
    };

    protected override Dictionary<string, string?> SimulatorSettings => new(_mqtt.SimulatorSettings()) { ["Simulator:Telemetry:TickMilliseconds"] = "200" };

    public override async ValueTask InitializeAsync()
    {
        await _mqtt.StartAsync(Ct);
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _mqtt.DisposeAsync();
    }

    [Fact]
    public async Task APairedCarStreamsIntoTheSameSeriesAndIsNotPolledForData()
    {
        var accountId = await ConnectAndConfigureAsync();

        // The car is awake: it adopts the config, connects and sends its fields; the broker marks it streaming.
        await WaitForAsync(async db => await db.VehicleTelemetry.AnyAsync(t => t.Vin == MidnightRunner && t.Status == TelemetryStatus.Streaming && t.Signals > 5, Ct),
            "the paired car streaming");
        await using (var db = Broker.CreateDbContext())
        {
            var skipped = await db.VehicleTelemetry.SingleAsync(t => t.Vin == Sentinel, Ct);
            Assert.Equal((TelemetryStatus.Skipped, "missing_key"), (skipped.Status, skipped.SkipReason));
            var reading = await db.VehicleReadings.SingleAsync(r => r.VehicleId == db.Vehicles.Single(v => v.Vin == MidnightRunner).Id, Ct);
            Assert.Equal("D", reading.ShiftState);
            Assert.NotNull(reading.BatteryLevel);
            Assert.NotNull(reading.Latitude);
            Assert.Equal("model3", reading.CarType);
        }

        // A poll now reads the charging car (it cannot stream) but not the streaming one.
        Time.Advance(TimeSpan.FromMinutes(5));
        await ResetSimCallsAsync();
        await PollAccountsAsync();
        var calls = await SimCallsAsync();
        Assert.Equal(0, calls.Where(c => c.Category == "data" && c.Device == MidnightRunner).Sum(c => c.Count));
        Assert.Equal(1, calls.Where(c => c.Category == "data" && c.Device == Sentinel).Sum(c => c.Count));

        // The accounts API says so per car, and /metrics has the streamed values in the usual families.
        var account = await GetJsonAsync<global::Broker.Accounts.AccountResponse>(ApiKey, $"/api/v1/accounts/{accountId}");
        Assert.Equal("streaming", account.Vehicles.Single(v => v.Vin == MidnightRunner).Telemetry!.Status);
        Assert.Equal(("skipped", "missing_key"), (account.Vehicles.Single(v => v.Vin == Sentinel).Telemetry!.Status,
            account.Vehicles.Single(v => v.Vin == Sentinel).Telemetry!.Reason));
        var metrics = await ScrapeMetricsAsync(ApiKey);
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("tesla_vehicle_battery_level_percent{") && l.Contains(MidnightRunner));
        var applied = await ScrapeMetricsAsync(BrokerApplication.OperatorToken);
        Assert.Matches("tesla_broker_telemetry_messages_total\\{result=\"applied\"\\} [1-9]", applied);
    }

    [Fact]
    public async Task AConfigTheCarRefusesShowsTheCarsOwnWordsAndTheCarIsPolled()
    {
        // The operator replaced the partner key without registering again: Tesla still holds the old one, so the car cannot
        // trust a config signed with the new one (fleet-telemetry#303: accepted by the API, refused by the car).
        await ConnectAndConfigureAsync(pair: true, replaceKeyBeforeConfiguring: true);
        Time.Advance(TimeSpan.FromMinutes(11)); // past Telemetry:CheckSyncSeconds
        await PollAccountsAsync();

        await using var db = Broker.CreateDbContext();
        var row = await db.VehicleTelemetry.SingleAsync(t => t.Vin == MidnightRunner, Ct);
        Assert.Equal(TelemetryStatus.Polling, row.Status);
        Assert.Contains("unknown issuer", row.SkipReason);
        var account = await GetJsonAsync<global::Broker.Accounts.AccountResponse>(ApiKey, $"/api/v1/accounts/{await db.TeslaAccounts.Select(a => a.Id).SingleAsync(Ct)}");
        Assert.Equal("polling", account.Vehicles.Single(v => v.Vin == MidnightRunner).Telemetry!.Status);
        Assert.Contains("unknown issuer", account.Vehicles.Single(v => v.Vin == MidnightRunner).Telemetry!.Reason);
    }

    /// <summary>
    /// The demo's order, and a new install's: people connect before the operator has made the partner key. Found in the demo
    /// click-through: the cars waited an hour (the retry after a failure) before the first config, key or not.
    /// </summary>
    [Fact]
    public async Task CarsConnectedBeforeThePartnerKeyExistedAreConfiguredAtTheFirstPollAfterIt()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        await using (var db = Broker.CreateDbContext())
        {
            var waiting = await db.VehicleTelemetry.SingleAsync(t => t.Vin == MidnightRunner, Ct);
            Assert.Equal(TelemetryStatus.Polling, waiting.Status);
            Assert.StartsWith("no partner key", waiting.SkipReason);
        }

        Time.Advance(TimeSpan.FromMinutes(1));
        await RegisterPartnerAsync();
        await PairVirtualKeyAsync(MidnightRunner, Domain);
        Time.Advance(TimeSpan.FromMinutes(1));   // the next poll of a driving car, far inside the hour
        await PollAccountsAsync();

        await using (var db = Broker.CreateDbContext())
        {
            var rows = await db.VehicleTelemetry.ToDictionaryAsync(t => t.Vin, Ct);
            Assert.True(rows[MidnightRunner].Status is TelemetryStatus.ConfiguredNotSynced or TelemetryStatus.Streaming,
                $"{rows[MidnightRunner].Status} {rows[MidnightRunner].SkipReason}");
            Assert.Equal((TelemetryStatus.Skipped, "missing_key"), (rows[Sentinel].Status, rows[Sentinel].SkipReason));   // asked too, not paired
        }
    }

    [Fact]
    public async Task BadMessagesAreCountedAndDroppedAndGoodOnesStillLand()
    {
        await ConnectAndConfigureAsync();
        await FirstStreamedValuesAsync();
        await EverythingTheCarSentIsStoredAsync();   // the car's own OutsideTemp and ChargeLimitSoc must not overwrite the ones published below
        using var publisher = await PublisherAsync();
        var before = await CountersAsync();
        var ingest = Broker.Services.GetRequiredService<TelemetryIngest>();
        var streamer = Simulator.Services.GetRequiredService<simulator::TeslaSimulator.Telemetry.TelemetryStreamer>();
        var (storedBefore, carPublished) = (ingest.Stored, streamer.Published);

        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/VehicleSpeed", "not json");                 // malformed
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/VehicleSpeed", "[1,2]");                    // malformed
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/ChargeLimitSoc", "77");                     // the bare value (the README's form): applied
        await PublishAsync(publisher, "telemetry/5YJ3E1EA7PF000000/v/VehicleSpeed", "{\"value\":12}");           // unknown_vin
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/Locked", "{\"value\":{\"a\":1}}");          // unexpected_type
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/NoSuchField", "{\"value\":1}");             // unknown_field
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/connectivity", "{\"Status\":\"MAYBE\"}");      // malformed
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/Version", "{\"value\":\"2099.2\\ud800x\"}");    // a lone surrogate: malformed, not a stuck stream
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/BatteryLevel", "{\"value\":1e300}");           // no car reports that: unexpected_type
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/InsideTemp", "{\"value\":-300}");              // unexpected_type
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/connectivity",
            "{\"ConnectionId\":\"x\",\"Status\":\"DISCONNECTED\",\"CreatedAt\":\"2999-01-01T00:00:00Z\"}");            // from the future: malformed
        await PublishAsync(publisher, $"telemetry/{Sentinel}/v/OutsideTemp", "{\"value\":1}");                     // a car not configured here: unknown_vin
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/ChargeLimitSoc", "null");                   // the car's invalid value, as mqtt_payload.go sends it
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/ChargeLimitSoc", "{\"value\":null}");     // invalid, wrapped
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/Gear", "\"ShiftStateBogus\"");              // not an enum value: unexpected_type
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/DetailedChargeState", "\"DetailedChargeStateWhatever\"");  // unexpected_type
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/VehicleSpeed", $"{{\"value\":\"{new string('1', 100_000)}\"}}");  // too_large
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/OutsideTemp", "{\"value\":\"-7.5\"}");      // a number as a string: applied

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            await using var db = Broker.CreateDbContext();
            if ((await ReadingAsync(db, MidnightRunner)).OutsideTempC == -7.5)
            {
                break;
            }
            // Seen once under load: never applied, and nothing logged. Say how far the ingest got.
            Assert.True(DateTime.UtcNow < deadline, $"the string-typed number not applied in 60 s; the broker stored {ingest.Stored - storedBefore} "
                + $"of the 18 messages published, the car {streamer.Published - carPublished} more of its own; mosquitto log:\n{_mqtt.Log}");
            await Task.Delay(100, Ct);
        }
        var after = await CountersAsync();
        Assert.True(after["malformed"] - before["malformed"] >= 5, $"malformed: {before["malformed"]} → {after["malformed"]}");
        Assert.True(after["unknown_vin"] - before["unknown_vin"] >= 2);
        Assert.True(after["unexpected_type"] - before["unexpected_type"] >= 5);
        Assert.True(after["invalid"] - before["invalid"] >= 2, $"invalid: {before["invalid"]} → {after["invalid"]}");
        Assert.True(after["too_large"] - before["too_large"] >= 1, $"too_large: {before["too_large"]} → {after["too_large"]}");
        await using (var db = Broker.CreateDbContext())
        {
            var reading = await ReadingAsync(db, MidnightRunner);
            Assert.True(reading.BatteryLevel is >= 0 and <= 100 && reading.InsideTempC is > -60, $"battery {reading.BatteryLevel}, inside {reading.InsideTempC}");
            Assert.Equal(77, reading.ChargeLimitSoc);   // the invalid values after it changed nothing
            Assert.NotEqual("Bogus", reading.ShiftState);
            Assert.NotEqual("Whatever", reading.ChargingState);
            Assert.NotEqual(false, (await db.VehicleTelemetry.SingleAsync(t => t.Vin == MidnightRunner, Ct)).Connected);
        }
        Assert.True(after["unknown_field"] - before["unknown_field"] >= 1);
    }

    [Fact]
    public async Task AnOlderConnectivityEventDoesNotUndoANewerOne()
    {
        await ConnectAndConfigureAsync();
        await FirstStreamedValuesAsync();
        using var publisher = await PublisherAsync();
        // Later than anything the simulated car sends during the test, and within the 5 minutes of clock skew allowed.
        var now = Time.GetUtcNow().AddMinutes(4);
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/connectivity",
            $"{{\"ConnectionId\":\"b\",\"Status\":\"DISCONNECTED\",\"CreatedAt\":\"{now:yyyy-MM-ddTHH:mm:ssZ}\"}}");
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/connectivity",
            $"{{\"ConnectionId\":\"a\",\"Status\":\"CONNECTED\",\"CreatedAt\":\"{now.AddMinutes(-1):yyyy-MM-ddTHH:mm:ssZ}\"}}");

        await WaitForAsync(async db => (await db.VehicleTelemetry.SingleAsync(t => t.Vin == MidnightRunner, Ct)).ConnectivityAt >= now.AddSeconds(-1),
            "the newer connectivity event");
        await Task.Delay(500, Ct);
        await using var check = Broker.CreateDbContext();
        Assert.False((await check.VehicleTelemetry.SingleAsync(t => t.Vin == MidnightRunner, Ct)).Connected);
    }

    [Fact]
    public async Task AfterTheMqttBrokerRestartsTheBrokerSubscribesAgainOnItsOwn()
    {
        await ConnectAndConfigureAsync();
        await FirstStreamedValuesAsync();

        await _mqtt.StopAsync();
        await Task.Delay(1500, Ct); // the car keeps driving meanwhile: its fields wait in its buffer
        await _mqtt.StartAsync(Ct);
        // mosquitto 2.0 does not restore shared subscriptions from its persistence file (docs/telemetry.md): what arrives
        // before the broker subscribes again is not delivered, and every field is resent within the resend interval.
        await WaitUntilAsync(() => Broker.Logs.Lines.Count(l => l.Contains("Streaming: subscribed")) >= 2, "the broker subscribing again", 60);
        using var publisher = await PublisherAsync();
        await PublishAsync(publisher, $"telemetry/{MidnightRunner}/v/InsideTemp", "{\"value\":17.25}");

        await WaitForAsync(async db => (await ReadingAsync(db, MidnightRunner)).InsideTempC == 17.25, "a value after the MQTT broker restart");
    }

    [Fact]
    public async Task TwoReplicasShareTheStreamAndOneAwayGetsWhatWasQueuedForItOnReturn()
    {
        await ConnectAndConfigureAsync(pair: false); // no car streams on its own: only the messages below flow
        await using (var db = Broker.CreateDbContext())
        {
            // As if Sentinel had been configured (the broker only writes cars it configured), without its stream adding messages.
            await db.VehicleTelemetry.Where(t => t.Vin == Sentinel).ExecuteUpdateAsync(x => x.SetProperty(t => t.Status, TelemetryStatus.Streaming), Ct);
        }
        var replicaB = new BrokerApplication(Broker.ConnectionString, Simulator, new(BrokerSettings) { ["Telemetry:Mqtt:Username"] = "broker-2" }, Time);
        try
        {
            _ = replicaB.Services; // starts it: its ingest connects and joins the share group
            await WaitUntilAsync(() => Subscribed(Broker) && Subscribed(replicaB), "both replicas subscribed", 60);
            using var publisher = await PublisherAsync();
            for (var i = 1; i <= 100; i++)
            {
                await PublishAsync(publisher, $"telemetry/{Sentinel}/v/InsideTemp", $"{{\"value\":{i}}}");
            }
            await WaitUntilAsync(() => Stored(Broker) + Stored(replicaB) >= 100, "100 messages stored", 60,
                () => $"{Stored(Broker)} + {Stored(replicaB)} stored; {string.Join("\n", Broker.Logs.Lines.Where(l => l.Contains("Streaming")))}");
            Assert.Equal(100, Stored(Broker) + Stored(replicaB)); // each once, none twice
            Assert.True(Stored(Broker) > 0 && Stored(replicaB) > 0, $"both replicas took part: {Stored(Broker)} + {Stored(replicaB)}");

            // Replica B goes away; its persistent session keeps what the MQTT broker hands it meanwhile.
            var storedByB = Stored(replicaB);
            await replicaB.DisposeAsync();
            for (var i = 101; i <= 150; i++)
            {
                await PublishAsync(publisher, $"telemetry/{Sentinel}/v/InsideTemp", $"{{\"value\":{i}}}");
            }
            await using var returned = new BrokerApplication(Broker.ConnectionString, Simulator, new(BrokerSettings) { ["Telemetry:Mqtt:Username"] = "broker-2" }, Time);
            _ = returned.Services;
            await WaitUntilAsync(() => Stored(Broker) + storedByB + Stored(returned) >= 150, "all 150 stored", 60);
            Assert.Equal(150, Stored(Broker) + storedByB + Stored(returned));
        }
        finally
        {
            await replicaB.DisposeAsync();
        }

        static bool Subscribed(BrokerApplication app) => app.Logs.Lines.Any(l => l.Contains("Streaming: subscribed"));
        static long Stored(BrokerApplication app) => app.Services.GetRequiredService<TelemetryIngest>().Stored;
    }

    [Fact]
    public async Task RevokingDeletesTheCarsConfigsAtTesla()
    {
        var accountId = await ConnectAndConfigureAsync();
        using (var control = Simulator.CreateControlClient())
        {
            Assert.Contains("\"telemetryConfigs\"", await control.GetStringAsync("/_sim/state", Ct));
        }
        await ResetSimCallsAsync();
        (await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{accountId}/revoke", null, Ct)).EnsureSuccessStatusCode();

        await using (var scope = Broker.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<TelemetrySetup>().DeleteRevokedAsync(Ct);
        }
        await using var db = Broker.CreateDbContext();
        Assert.Empty(await db.VehicleTelemetry.ToListAsync(Ct));
        var calls = await SimCallsAsync();
        Assert.True(calls.Any(c => c.Device == MidnightRunner && c.Status == 200 && c.Category == "meta"), "a DELETE of the car's config");
        // With its row gone, the car's state still says why (not "not configured yet").
        var account = await ApiClient(ApiKey).GetStringAsync($"/api/v1/accounts/{accountId}", Ct);
        Assert.Contains("account revoked: neither streamed nor polled", account);
        Assert.DoesNotContain("not configured yet", account);
    }

    private async Task<Guid> ConnectAndConfigureAsync(bool pair = true, bool replaceKeyBeforeConfiguring = false)
    {
        await RegisterPartnerAsync();
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        if (pair)
        {
            await PairVirtualKeyAsync(MidnightRunner, Domain);
        }
        if (replaceKeyBeforeConfiguring)
        {
            (await ApiClient(BrokerApplication.OperatorToken).PostAsJsonAsync("/api/v1/partner/key", new { generate = true, replace = true }, Ct)).EnsureSuccessStatusCode();
        }
        await PollAccountsAsync(); // devices, key check, then the configs (signed with the partner key)
        await using var db = Broker.CreateDbContext();
        var rows = await db.VehicleTelemetry.ToDictionaryAsync(t => t.Vin, Ct);
        Assert.True(!pair || rows.TryGetValue(MidnightRunner, out var paired) && paired.Status is TelemetryStatus.ConfiguredNotSynced or TelemetryStatus.Streaming,
            "the paired car configured: " + string.Join(", ", rows.Values.Select(t => $"{t.Vin} {t.Status} {t.SkipReason}")));
        return await db.TeslaAccounts.Select(a => a.Id).SingleAsync(Ct);
    }

    /// <summary>Waits until the paired car has sent its first values (a car sends every field when it connects, then changes only).</summary>
    private async Task FirstStreamedValuesAsync() =>
        // The reading's values alone do not say it: the poll before the config filled them already.
        await WaitForAsync(async db => await db.VehicleTelemetry.AnyAsync(t => t.Vin == MidnightRunner && t.Signals > 0, Ct)
            && (await ReadingAsync(db, MidnightRunner)) is { OutsideTempC: not null, InsideTempC: not null, FirmwareVersion: not null },
            "the car's first streamed values");

    /// <summary>
    /// Waits until the car has streamed, holds nothing back, and the broker has stored every message mosquitto took from it
    /// (the broker's own count reaches the simulated fleet-telemetry's), so a value published next is the last one for its field.
    /// </summary>
    private async Task EverythingTheCarSentIsStoredAsync()
    {
        var streamer = Simulator.Services.GetRequiredService<simulator::TeslaSimulator.Telemetry.TelemetryStreamer>();
        var ingest = Broker.Services.GetRequiredService<TelemetryIngest>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        // Published 0: the car has not taken its config yet, and its first send (every field, OutsideTemp and ChargeLimitSoc
        // too) is still to come. The reading's values from the poll before do not say that it came.
        while (streamer.Published == 0 || streamer.Buffered > 0 || ingest.Stored < streamer.Published)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the car holds {streamer.Buffered}, the broker stored {ingest.Stored} of {streamer.Published}");
            await Task.Delay(50, Ct);
        }
    }

    private async Task<IMqttClient> PublisherAsync()
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _mqtt.Port).WithClientId("test-publisher-" + Guid.NewGuid().ToString("n")[..6])
            .WithCredentials(MosquittoHost.TestPublisherUser, _mqtt.PublisherPassword).Build(), Ct);
        return client;
    }

    /// <summary>Publishes at QoS 1 and insists mosquitto took it: a refused publish must not pass for a dropped message.</summary>
    private static async Task PublishAsync(IMqttClient client, string topic, string payload)
    {
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), Ct);
        Assert.True(result.IsSuccess, $"mosquitto refused the publish on {topic}: {result.ReasonCode} {result.ReasonString}");
    }

    private async Task<Dictionary<string, double>> CountersAsync()
    {
        var text = await ScrapeMetricsAsync(BrokerApplication.OperatorToken);
        var counts = new Dictionary<string, double> { ["malformed"] = 0, ["unknown_vin"] = 0, ["unexpected_type"] = 0, ["unknown_field"] = 0, ["invalid"] = 0, ["too_large"] = 0 };
        foreach (var m in System.Text.RegularExpressions.Regex.Matches(text, "tesla_broker_telemetry_messages_total\\{result=\"([a-z_]+)\"\\} ([0-9.e+]+)").Cast<System.Text.RegularExpressions.Match>())
        {
            counts[m.Groups[1].Value] = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return counts;
    }

    private async Task<global::Broker.Polling.VehicleReading> ReadingAsync(global::Broker.Data.BrokerDbContext db, string vin) =>
        await db.VehicleReadings.AsNoTracking().SingleAsync(r => r.VehicleId == db.Vehicles.Single(v => v.Vin == vin).Id, Ct);

    private static async Task WaitUntilAsync(Func<bool> condition, string what, int seconds, Func<string>? detail = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what} {detail?.Invoke()}");
            await Task.Delay(100, Ct);
        }
    }

    private async Task WaitForAsync(Func<global::Broker.Data.BrokerDbContext, Task<bool>> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            await using (var db = Broker.CreateDbContext())
            {
                if (await condition(db))
                {
                    return;
                }
            }
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; mosquitto log:\n{_mqtt.Log}\n--- broker log ---\n"
                + string.Join("\n", Broker.Logs.Lines.Where(l => l.Contains("Streaming") || l.Contains("Telemetry")).TakeLast(30)));
            await Task.Delay(200, Ct);
        }
    }
}
