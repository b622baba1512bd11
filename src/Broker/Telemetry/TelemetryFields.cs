using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Broker.Polling;

namespace Broker.Telemetry;

/// <summary>
/// Which Fleet Telemetry fields the broker asks each car for, how often, and how each one lands in the same
/// <see cref="VehicleReading"/> columns a vehicle_data poll fills (so /metrics does not care which path a value took).
/// Names and value shapes are fleet-telemetry's (protos/vehicle_data.proto; datastore/simple/transformers/payload.go turns
/// enums into their names, e.g. <c>ShiftStateD</c>, and a location into <c>{"latitude":…,"longitude":…}</c>). A field is only
/// sent when its interval has passed and its value changed by at least <c>minimum_delta</c> (TESLA.md §8.2), so a
/// short interval costs little while the car stands still.
/// </summary>
public static class TelemetryFields
{
    public sealed record Plan(string Field, int IntervalSeconds, double? MinimumDelta = null, bool NeedsLocationScope = false);

    /// <summary>
    /// Every field is sent again at least this often even when unchanged (<c>resend_interval_seconds</c>, TESLA.md §8.1). A value
    /// lost on the way (an MQTT broker restart drops what arrives before the broker's subscription is back) is then corrected
    /// within half an hour, for a few signals per awake hour.
    /// </summary>
    public const int ResendSeconds = 1800;

    /// <summary>
    /// The fields behind every vehicle series in /metrics (docs/metrics.md). Fast-moving driving fields every 2–5 s keep a
    /// driving car's reading a few seconds old; slow fields (firmware, car type) once an hour.
    /// Not streamed: <c>power</c> (no single field; polled cars only) and the software update status.
    /// </summary>
    public static readonly IReadOnlyList<Plan> Requested =
    [
        new("VehicleSpeed", 2, 1),
        new("Gear", 1),
        new("Location", 5, 10, NeedsLocationScope: true),
        new("GpsHeading", 10, 5, NeedsLocationScope: true),
        new("Odometer", 60, 1),
        new("BatteryLevel", 60, 1),
        new("Soc", 60, 1),
        new("RatedRange", 60, 1),
        new("DetailedChargeState", 5),
        new("ACChargingPower", 10, 0.5),
        new("DCChargingPower", 10, 1),
        // While a car charges these two are what changes: every 4 s by 10 Wh keeps a charging car's newest value under 5 s old
        // on an 11 kW charger for ~900 signals ($0.006) a charging hour; a 7 kW charger sends every 8 s, half that
        // (bench/FleetDay: 60 s / 0.1 kWh left it 50 s old at p95).
        new("ACChargingEnergyIn", 4, 0.01),
        new("DCChargingEnergyIn", 4, 0.01),
        new("ChargeLimitSoc", 60),
        new("InsideTemp", 60, 0.5),
        new("OutsideTemp", 60, 0.5),
        new("Locked", 1),
        new("SentryMode", 1),
        new("DoorState", 1),
        new("DriverSeatOccupied", 5),
        new("HvacPower", 5),
        new("PreconditioningEnabled", 30),
        new("CarType", 3600),
        new("Version", 3600),
    ];

    public static IReadOnlyList<Plan> For(bool withLocation) => Requested.Where(p => withLocation || !p.NeedsLocationScope).ToList();

    /// <summary>The <c>fields</c> object of a config.</summary>
    public static JsonObject ToConfigFields(IEnumerable<Plan> plans)
    {
        var fields = new JsonObject();
        foreach (var p in plans)
        {
            var f = new JsonObject { ["interval_seconds"] = p.IntervalSeconds, ["resend_interval_seconds"] = Math.Max(ResendSeconds, p.IntervalSeconds) };
            if (p.MinimumDelta is { } d)
            {
                f["minimum_delta"] = d;
            }
            fields[p.Field] = f;
        }
        return fields;
    }

    public enum Outcome { Applied, UnknownField, UnexpectedType, NotAllowed, Invalid }

    /// <summary>
    /// Applies one field's value. A value of the wrong shape changes nothing (and is counted by the caller); a number sent
    /// as a string is read as the number, as the fleet-telemetry MQTT README warns types may change between firmware versions.
    /// </summary>
    public static Outcome Apply(VehicleReading r, VehicleTelemetry t, string field, JsonElement value, bool withLocation)
    {
        if (value.ValueKind == JsonValueKind.Null && Requested.Any(p => p.Field == field))
        {
            // The car's own "no valid reading" (vehicle_data.proto's Value.invalid, which the MQTT datastore publishes as
            // null: mqtt_payload.go). Not a reading, not a fault: the stored value stays.
            return Outcome.Invalid;
        }
        switch (field)
        {
            case "VehicleSpeed": return Set(In(Num(value), 0, 250), v => r.SpeedMph = v);
            case "Gear": return Set(Enum(value, "ShiftState", ShiftStates), v => r.ShiftState = v is "Invalid" or "SNA" or "Unknown" ? null : v);
            case "Location" when !withLocation:
            case "GpsHeading" when !withLocation:
                return Outcome.NotAllowed;
            case "Location":
                if (value.ValueKind != JsonValueKind.Object || Num(Prop(value, "latitude")) is not { } lat || Num(Prop(value, "longitude")) is not { } lon
                    || lat is < -90 or > 90 || lon is < -180 or > 180)
                {
                    return Outcome.UnexpectedType;
                }
                (r.Latitude, r.Longitude) = (lat, lon);
                return Outcome.Applied;
            case "GpsHeading": return Set(In(Num(value), 0, 360), v => r.Heading = v);
            case "Odometer": return Set(In(Num(value), 0, 5_000_000), v => r.OdometerMiles = v);
            case "BatteryLevel": return Set(In(Num(value), 0, 100), v => r.BatteryLevel = (int)Math.Round(v));
            case "Soc": return Set(In(Num(value), 0, 100), v => r.UsableBatteryLevel = (int)Math.Round(v)); // the BMS's state of charge: the nearest field to usable_battery_level
            case "RatedRange": return Set(In(Num(value), 0, 1000), v => r.BatteryRangeMiles = v);
            case "DetailedChargeState":
                return Set(Enum(value, "DetailedChargeState", DetailedChargeStates), v =>
                {
                    r.ChargingState = v;
                    if (!Charging(v))
                    {
                        (t.AcChargingPowerKw, t.DcChargingPowerKw) = (0, 0); // not charging: no power on either side
                    }
                    ChargerPower(r, t);
                });
            // AC and DC are kept apart (VehicleTelemetry) and feed one series each: power is their sum while the car charges
            // (the idle side is 0), energy is the charging side's counter.
            case "ACChargingPower": return Set(In(Num(value), 0, 1000), v => { t.AcChargingPowerKw = v; ChargerPower(r, t); });
            case "DCChargingPower": return Set(In(Num(value), 0, 1000), v => { t.DcChargingPowerKw = v; ChargerPower(r, t); });
            case "ACChargingEnergyIn": return Set(In(Num(value), 0, 1000), v => EnergyIn(r, t, dc: false, v));
            case "DCChargingEnergyIn": return Set(In(Num(value), 0, 1000), v => EnergyIn(r, t, dc: true, v));
            case "ChargeLimitSoc": return Set(In(Num(value), 0, 100), v => r.ChargeLimitSoc = (int)Math.Round(v));
            case "InsideTemp": return Set(In(Num(value), -60, 100), v => r.InsideTempC = v);
            case "OutsideTemp": return Set(In(Num(value), -60, 70), v => r.OutsideTempC = v);
            case "Locked": return Set(Bool(value), v => r.Locked = v);
            case "SentryMode":
                // Older firmware sends a boolean; newer an enum (SentryModeStateOff, …Idle, …Armed, …Aware, …Panic).
                return Set(Bool(value) ?? (Enum(value, "SentryModeState", SentryModeStates) is { } s and not "Unknown" ? s != "Off" : null), v => r.SentryMode = v);
            case "DoorState":
                if (value.ValueKind != JsonValueKind.Object)
                {
                    return Outcome.UnexpectedType;
                }
                var doors = value.EnumerateObject().Select(p => Bool(p.Value)).ToList();
                if (doors.Count == 0 || doors.Any(d => d is null))
                {
                    return Outcome.UnexpectedType;
                }
                r.DoorsOpen = doors.Any(d => d == true);
                return Outcome.Applied;
            case "DriverSeatOccupied": return Set(Bool(value), v => r.UserPresent = v);
            case "HvacPower": return Set(Enum(value, "HvacPowerState", HvacPowerStates) is { } h ? h is "On" or "Precondition" : (bool?)null, v => r.ClimateOn = v);
            case "PreconditioningEnabled": return Set(Bool(value), v => r.Preconditioning = v);
            case "CarType": return Set(Enum(value, "CarType", CarTypes)?.ToLowerInvariant(), v => r.CarType = v);
            case "Version": return Set(Str(value), v => r.FirmwareVersion = v);
            default: return Outcome.UnknownField;
        }
    }

    private static Outcome Set<T>(T? value, Action<T> set) where T : struct
    {
        if (value is not { } v)
        {
            return Outcome.UnexpectedType;
        }
        set(v);
        return Outcome.Applied;
    }

    private static Outcome Set(string? value, Action<string> set)
    {
        if (value is null)
        {
            return Outcome.UnexpectedType;
        }
        set(value);
        return Outcome.Applied;
    }

    private static bool Charging(string? state) => state is "Charging" or "Starting";

    /// <summary>0 once the car says it is not charging; else the two sides' sum, once either has been heard.</summary>
    private static void ChargerPower(VehicleReading r, VehicleTelemetry t)
    {
        if (r.ChargingState is { } state && !Charging(state))
        {
            r.ChargerPowerKw = 0;
        }
        else if (t.AcChargingPowerKw is not null || t.DcChargingPowerKw is not null)
        {
            r.ChargerPowerKw = (t.AcChargingPowerKw ?? 0) + (t.DcChargingPowerKw ?? 0);
        }
    }

    /// <summary>
    /// The energy added is the counter of the side that charges (its power above 0). With neither charging, a side's 0 does not
    /// replace the other's last session; a counter that moves is a session under way.
    /// </summary>
    private static void EnergyIn(VehicleReading r, VehicleTelemetry t, bool dc, double v)
    {
        var before = dc ? t.DcChargingEnergyInKwh : t.AcChargingEnergyInKwh;
        if (dc)
        {
            t.DcChargingEnergyInKwh = v;
        }
        else
        {
            t.AcChargingEnergyInKwh = v;
        }
        var (mine, other) = dc ? (t.DcChargingPowerKw, t.AcChargingPowerKw) : (t.AcChargingPowerKw, t.DcChargingPowerKw);
        if (other > 0 && !(mine > 0))
        {
            return; // the other side charges: its counter is the session's
        }
        if (mine > 0 || v > 0 && v != before || r.ChargeEnergyAddedKwh is null or 0)
        {
            r.ChargeEnergyAddedKwh = v;
        }
    }

    /// <summary>A number a car can report, or null (a battery above 100 %, a cabin at -300 °C are not readings).</summary>
    private static double? In(double? value, double min, double max) => value is { } v && v >= min && v <= max ? v : null;

    private static JsonElement? Prop(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v : null;

    private static double? Num(JsonElement? e) => e switch
    {
        { ValueKind: JsonValueKind.Number } n when n.TryGetDouble(out var d) && double.IsFinite(d) => d,
        { ValueKind: JsonValueKind.String } s when double.TryParse(s.GetString(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) => d,
        _ => null,
    };

    private static bool? Bool(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String when bool.TryParse(e.GetString(), out var b) => b,
        _ => null,
    };

    private static string? Str(JsonElement e) =>
        e.ValueKind == JsonValueKind.String && Hosting.TextInput.Clean(e.GetString()) is { Length: > 0 and <= 64 } s ? s : null;

    /// <summary>
    /// An enum's name without its type prefix (<c>ShiftStateD</c> → <c>D</c>; a bare <c>D</c> is taken as it is), if it is one of
    /// the enum's values in fleet-telemetry's protos/vehicle_data.proto; any other word is not a reading.
    /// </summary>
    private static string? Enum(JsonElement e, string prefix, string[] known) =>
        Str(e) is { } s && (s.StartsWith(prefix, StringComparison.Ordinal) ? s[prefix.Length..] : s) is var v && known.Contains(v, StringComparer.Ordinal) ? v : null;

    // The values of vehicle_data.proto's enums (teslamotors/fleet-telemetry), less their prefix.
    private static readonly string[] ShiftStates = ["Unknown", "Invalid", "P", "R", "N", "D", "SNA"];
    private static readonly string[] DetailedChargeStates = ["Unknown", "Disconnected", "NoPower", "Starting", "Charging", "Complete", "Stopped"];
    private static readonly string[] SentryModeStates = ["Unknown", "Off", "Idle", "Armed", "Aware", "Panic", "Quiet"];
    private static readonly string[] HvacPowerStates = ["Unknown", "Off", "On", "Precondition", "OverheatProtect"];
    private static readonly string[] CarTypes = ["Unknown", "ModelS", "ModelX", "Model3", "ModelY", "SemiTruck", "Cybertruck"];
}
