using System.Globalization;
using System.Text.Json;
using Broker.Accounts;
using Broker.Data;
using Broker.Polling;
using Broker.Tesla;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Telemetry;

/// <summary>
/// Stores a batch of fleet-telemetry MQTT messages in one transaction: field values into the car's <see cref="VehicleReading"/>
/// (the same row and columns a poll fills), connectivity into its <see cref="VehicleTelemetry"/>. The rules:
/// <list type="bullet">
/// <item>Payloads are fleet-telemetry's JSON: <c>{"value":…}</c> for a field (datastore/mqtt/mqtt_payload.go) or the bare value
/// (the datastore's README), <c>{"ConnectionId",
/// "Status","CreatedAt"}</c> for connectivity. Anything else, an unknown VIN or a value of the wrong type is counted
/// (<c>tesla_broker_telemetry_messages_total{result}</c>) and dropped; nothing throws.</item>
/// <item>Field messages carry no time of their own (the MQTT datastore leaves <c>CreatedAt</c> out), so a field's data time is
/// when it arrived. Connectivity events carry <c>CreatedAt</c> and an older one than the last applied is dropped as out of order.</item>
/// <item>A VIN connected under several tenants is written to each; a revoked account's cars, and cars this broker did not
/// configure (skipped, polled), are not written at all (<c>unknown_vin</c>).</item>
/// <item>Values outside what a car can report (a battery above 100 %, a cabin at -300 °C) are <c>unexpected_type</c>.</item>
/// </list>
/// </summary>
public sealed class TelemetryWriter(BrokerDbContext db, IOptions<TelemetryOptions> options, TimeProvider time)
{
    public async Task WriteAsync(IReadOnlyList<TelemetryMessage> batch, CancellationToken ct)
    {
        var prefix = options.Value.Mqtt.TopicBase.TrimEnd('/') + "/";
        var parsed = batch.Select(m => Parse(m, prefix)).ToList();
        var vins = parsed.Where(p => p.Vin is not null).Select(p => p.Vin!).Distinct().ToList();
        db.ChangeTracker.Clear();
        var cars = await (
            from t in db.VehicleTelemetry
            join r in db.VehicleReadings on t.VehicleId equals r.VehicleId
            join a in db.TeslaAccounts on t.AccountId equals a.Id
            where vins.Contains(t.Vin) && !t.DeletePending && a.Status != AccountStatus.Revoked
            where t.Status == TelemetryStatus.ConfiguredNotSynced || t.Status == TelemetryStatus.Streaming   // only cars this broker configured
            select new Car(t, r, a.GrantedScopes.Contains("vehicle_location"))).ToListAsync(ct);
        var byVin = cars.ToLookup(c => c.Telemetry.Vin);
        var now = time.GetUtcNow();

        var signalsBefore = cars.ToDictionary(c => c.Telemetry.VehicleId, c => c.Telemetry.Signals);
        foreach (var m in parsed)
        {
            string result;
            try
            {
                result = m.Error ?? Apply(m, byVin[m.Vin!].ToList(), now);
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException)
            {
                result = "malformed"; // e.g. a string with a lone UTF-16 surrogate: one bad message must not hold up the stream
            }
            TelemetryMetrics.Messages.WithLabels(result).Inc();
        }
        // Each applied field is a signal Tesla bills ($1 per 150,000): into the same ledger as the calls, in the same transaction
        // (retried whole by the execution strategy, so the ledger rows are made afresh in each attempt).
        var signals = cars.Where(c => c.Telemetry.Signals > signalsBefore[c.Telemetry.VehicleId])
            .Select(c => (c.Telemetry, Count: c.Telemetry.Signals - signalsBefore[c.Telemetry.VehicleId])).ToList();
        await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            await db.SaveChangesAsync(acceptAllChangesOnSuccess: false, ct);
            var usage = new FleetUsage();
            foreach (var (t, count) in signals)
            {
                usage.RecordSignals(t.TenantId, t.AccountId, t.Vin, count);
            }
            await usage.FlushAsync(db, ct);
            await tx.CommitAsync(ct);
        });
        db.ChangeTracker.AcceptAllChanges();
    }

    private sealed record Car(VehicleTelemetry Telemetry, VehicleReading Reading, bool WithLocation);

    private sealed record Parsed(string? Vin, string? Field, JsonElement Body, string? Error);

    private static string Apply(Parsed m, List<Car> cars, DateTimeOffset now)
    {
        if (cars.Count == 0)
        {
            return "unknown_vin";
        }
        if (m.Field is null)
        {
            return ApplyConnectivity(m.Body, cars, now);
        }
        // {"value":…} as datastore/mqtt/mqtt_payload.go publishes it; the bare value as the datastore's README documents it.
        var value = m.Body.ValueKind == JsonValueKind.Object && m.Body.TryGetProperty("value", out var wrapped) ? wrapped : m.Body;
        var outcome = TelemetryFields.Outcome.Applied;
        foreach (var car in cars)
        {
            outcome = TelemetryFields.Apply(car.Reading, car.Telemetry, m.Field, value, car.WithLocation);
            if (outcome != TelemetryFields.Outcome.Applied)
            {
                continue;
            }
            var t = car.Telemetry;
            car.Reading.DataAt = now;
            Streams(car, now);
            (t.LastSignalAt, t.Signals) = (now, t.Signals + 1);
            // A field arriving means a live connection, even if its CONNECTED event came before the car was known here; a
            // DISCONNECTED dated after this arrival still stands.
            if (t.ConnectivityAt is null || t.ConnectivityAt <= now)
            {
                t.Connected = true;
            }
        }
        return outcome switch
        {
            TelemetryFields.Outcome.Applied => "applied",
            TelemetryFields.Outcome.UnknownField => "unknown_field",
            TelemetryFields.Outcome.NotAllowed => "not_allowed",
            TelemetryFields.Outcome.Invalid => "invalid",
            _ => "unexpected_type",
        };
    }

    /// <summary>
    /// The car is online, as the vehicle list would say (<see cref="VehiclePolicy.AfterList"/>: seen now, and a car that just
    /// came online is not left suspended from an earlier idle spell), and holds the config: it streams.
    /// </summary>
    private static void Streams(Car car, DateTimeOffset now)
    {
        VehiclePolicy.AfterList(car.Reading, "online", now);
        if (car.Telemetry.Status == TelemetryStatus.ConfiguredNotSynced)
        {
            TelemetrySetup.Move(car.Telemetry, TelemetryStatus.Streaming, now);
        }
    }

    private static string ApplyConnectivity(JsonElement body, List<Car> cars, DateTimeOffset now)
    {
        if (body.ValueKind != JsonValueKind.Object
            || !body.TryGetProperty("Status", out var status) || status.ValueKind != JsonValueKind.String
            || status.GetString() is not ("CONNECTED" or "DISCONNECTED") || !body.TryGetProperty("CreatedAt", out var created)
            || !TryTime(created, out var at) || at > now.AddMinutes(5))
        {
            return "malformed"; // a time from the future would pin the car's state until then
        }
        var connected = status.GetString() == "CONNECTED";
        var applied = false;
        foreach (var car in cars)
        {
            var t = car.Telemetry;
            if (t.ConnectivityAt is { } last && at < last)
            {
                continue; // an older event than the one applied: out of order
            }
            (t.Connected, t.ConnectivityAt, applied) = (connected, at, true);
            if (connected)
            {
                Streams(car, now);
            }
        }
        return applied ? "applied" : "out_of_order";
    }

    /// <summary>RFC 3339 (the MQTT datastore's format) or Unix seconds (the simple transformers').</summary>
    private static bool TryTime(JsonElement e, out DateTimeOffset at)
    {
        at = default;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var unix) && unix is > 0 and < 32503680000)
        {
            at = DateTimeOffset.FromUnixTimeSeconds(unix);
            return true;
        }
        return e.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(e.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at);
    }

    private static Parsed Parse(TelemetryMessage m, string prefix)
    {
        if (!m.Topic.StartsWith(prefix, StringComparison.Ordinal))
        {
            return new(null, null, default, "malformed");
        }
        var parts = m.Topic[prefix.Length..].Split('/');
        var (vin, field) = parts switch
        {
            [var v, "v", var f] when f.Length is > 0 and <= 64 => (v, f),
            [var v, "connectivity"] => (v, (string?)null),
            _ => (null, null),
        };
        if (vin is null || vin.Length != 17 || !vin.All(char.IsAsciiLetterOrDigit))
        {
            return new(null, null, default, "malformed");
        }
        try
        {
            using var doc = JsonDocument.Parse(m.Payload, new JsonDocumentOptions { MaxDepth = 8 });
            return doc.RootElement.ValueKind is JsonValueKind.Object || field is not null && doc.RootElement.ValueKind is not JsonValueKind.Array
                ? new(vin.ToUpperInvariant(), field, doc.RootElement.Clone(), null)
                : new(null, null, default, "malformed");
        }
        catch (JsonException)
        {
            return new(null, null, default, "malformed");
        }
    }
}
