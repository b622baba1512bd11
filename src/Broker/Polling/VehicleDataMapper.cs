using System.Text.Json;

namespace Broker.Polling;

/// <summary>
/// Copies a vehicle_data answer into a <see cref="VehicleReading"/>. Tolerant: Tesla sends nulls,
/// missing sections and the odd string where a number belongs (fixture vehicle_data_alt.json). The rule:
/// <list type="bullet">
/// <item>A section or field Tesla left out, or sent with the wrong type, changes nothing: the last good value stays.</item>
/// <item>An explicit null is Tesla's word only where null means something: <c>shift_state</c> (parked),
/// <c>speed</c> and <c>power</c> (standing still), and the in-use flags (not known, so not "in use").</item>
/// <item>For what a car always has (battery, range, odometer, temperatures, lock, position) a null is a
/// gap in the answer, not a reading: the last good value stays.</item>
/// </list>
/// Unknown extra fields are ignored. An answer with none of the requested sections never gets here
/// (<see cref="Tesla.TeslaFleetClient.GetVehicleDataAsync"/> refuses it as malformed).
/// </summary>
public static class VehicleDataMapper
{
    public static void Apply(VehicleReading r, JsonElement data, bool withLocation)
    {
        if (Section(data, "charge_state") is { } charge)
        {
            r.BatteryLevel = Int(charge, "battery_level") ?? r.BatteryLevel;
            r.UsableBatteryLevel = Int(charge, "usable_battery_level") ?? r.UsableBatteryLevel;
            r.BatteryRangeMiles = Num(charge, "battery_range") ?? r.BatteryRangeMiles;
            r.ChargingState = Str(charge, "charging_state") ?? r.ChargingState;
            r.ChargerPowerKw = Num(charge, "charger_power") ?? (r.ChargingState is "Charging" or "Starting" ? r.ChargerPowerKw : 0);
            r.ChargeLimitSoc = Int(charge, "charge_limit_soc") ?? r.ChargeLimitSoc;
            r.ChargeEnergyAddedKwh = Num(charge, "charge_energy_added") ?? r.ChargeEnergyAddedKwh;
        }
        if (Section(data, "climate_state") is { } climate)
        {
            r.InsideTempC = Num(climate, "inside_temp") ?? r.InsideTempC;
            r.OutsideTempC = Num(climate, "outside_temp") ?? r.OutsideTempC;
            r.ClimateOn = Sent(climate, "is_climate_on", r.ClimateOn, Bool);
            r.Preconditioning = Sent(climate, "is_preconditioning", r.Preconditioning, Bool);
        }
        if (Section(data, "drive_state") is { } drive)
        {
            r.ShiftState = Sent(drive, "shift_state", r.ShiftState, Str); // null when parked
            r.SpeedMph = Sent(drive, "speed", r.SpeedMph, Num);
            r.PowerKw = Sent(drive, "power", r.PowerKw, Num);
            r.Heading = Num(drive, "heading") ?? r.Heading;
            if (withLocation)
            {
                r.Latitude = Num(drive, "latitude") ?? r.Latitude;
                r.Longitude = Num(drive, "longitude") ?? r.Longitude;
            }
        }
        if (withLocation && Section(data, "location_data") is { } location)
        {
            r.Latitude = Num(location, "latitude") ?? r.Latitude;
            r.Longitude = Num(location, "longitude") ?? r.Longitude;
        }
        if (!withLocation)
        {
            (r.Latitude, r.Longitude) = (null, null); // a scope taken away takes the location with it
        }
        if (Section(data, "vehicle_state") is { } state)
        {
            r.Locked = Bool(state, "locked") ?? r.Locked;
            r.SentryMode = Sent(state, "sentry_mode", r.SentryMode, Bool);
            r.OdometerMiles = Num(state, "odometer") ?? r.OdometerMiles;
            r.UserPresent = Sent(state, "is_user_present", r.UserPresent, Bool);
            r.FirmwareVersion = Str(state, "car_version") ?? r.FirmwareVersion;
            string[] doors = ["df", "dr", "pf", "pr", "ft", "rt"];
            r.DoorsOpen = doors.Any(d => Int(state, d) is not null) ? doors.Any(d => Int(state, d) is > 0) : r.DoorsOpen;
            r.SoftwareUpdateStatus = Section(state, "software_update") is { } update ? Sent(update, "status", r.SoftwareUpdateStatus, Str) : r.SoftwareUpdateStatus;
        }
        if (Section(data, "vehicle_config") is { } config)
        {
            r.CarType = Str(config, "car_type") ?? r.CarType;
        }
    }

    private static JsonElement? Section(JsonElement e, string name) =>
        e.TryGetProperty(name, out var s) && s.ValueKind == JsonValueKind.Object ? s : null;

    /// <summary>Tesla's value when the field is there, null included; the current value when it is left out or unreadable.</summary>
    private static T? Sent<T>(JsonElement e, string name, T? current, Func<JsonElement, string, T?> read) =>
        !e.TryGetProperty(name, out var v) ? current
        : v.ValueKind == JsonValueKind.Null ? default
        : read(e, name) is { } value ? value : current;

    private static double? Num(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : null;

    private static int? Int(JsonElement e, string name) => Num(e, name) is { } d ? (int)Math.Round(d) : null;

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? Hosting.TextInput.Clean(v.GetString()) : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null } : null;

    public static void ApplyLiveStatus(EnergySiteReading r, JsonElement s)
    {
        r.SolarPowerW = Num(s, "solar_power");
        r.BatteryPowerW = Num(s, "battery_power");
        r.LoadPowerW = Num(s, "load_power");
        r.GridPowerW = Num(s, "grid_power");
        r.PercentageCharged = Num(s, "percentage_charged");
        r.EnergyLeftWh = Num(s, "energy_left");
        r.TotalPackEnergyWh = Num(s, "total_pack_energy");
        r.GridStatus = Str(s, "grid_status");
        r.IslandStatus = Str(s, "island_status");
        r.StormModeActive = Bool(s, "storm_mode_active");
    }
}
