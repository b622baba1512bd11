using System.Text.Json;

namespace Broker.Polling;

/// <summary>
/// Copies a vehicle_data answer into a <see cref="VehicleReading"/>. Real answers are partial (docs/tesla-confirmed.md §6):
/// old firmware lacks whole sections, fields arrive as null, a drive_state without location_data has no shift_state or
/// speed, and since 2026 drive_state may be missing altogether without <c>vehicle_location</c>. The rules:
/// <list type="bullet">
/// <item>A reading is what Tesla sent this time. A section or field left out, sent as null or with the wrong type is not
/// a reading: the value becomes unknown (null) and /metrics leaves it out, instead of repeating an old value under the
/// new data timestamp.</item>
/// <item>Attributes of the car (<c>car_type</c>, firmware) keep their last known value: old firmware has no vehicle_config.</item>
/// <item>A null <c>shift_state</c> is unknown, not P; null <c>speed</c> and <c>power</c> are unknown, not 0.</item>
/// </list>
/// Unknown extra fields are ignored. An answer with none of the requested sections never gets here
/// (<see cref="Tesla.TeslaFleetClient.GetVehicleDataAsync"/> refuses it as malformed).
/// </summary>
public static class VehicleDataMapper
{
    public static void Apply(VehicleReading r, JsonElement data, bool withLocation)
    {
        var charge = Section(data, "charge_state");
        r.BatteryLevel = Int(charge, "battery_level");
        r.UsableBatteryLevel = Int(charge, "usable_battery_level");
        r.BatteryRangeMiles = Num(charge, "battery_range");
        r.ChargingState = Str(charge, "charging_state");
        r.ChargerPowerKw = Num(charge, "charger_power");
        r.ChargeLimitSoc = Int(charge, "charge_limit_soc");
        r.ChargeCurrentRequest = Int(charge, "charge_current_request");
        r.ChargeCurrentRequestMax = Int(charge, "charge_current_request_max");
        r.ChargeEnergyAddedKwh = Num(charge, "charge_energy_added");

        var climate = Section(data, "climate_state");
        r.InsideTempC = Num(climate, "inside_temp");
        r.OutsideTempC = Num(climate, "outside_temp");
        r.ClimateOn = Bool(climate, "is_climate_on");
        r.Preconditioning = Bool(climate, "is_preconditioning");

        var drive = Section(data, "drive_state");
        r.ShiftState = Str(drive, "shift_state");
        r.SpeedMph = Num(drive, "speed");
        r.PowerKw = Num(drive, "power");
        r.Heading = Num(drive, "heading");
        // Location only with the scope (a scope taken away takes the location with it); location_data first, else drive_state.
        var location = withLocation ? Section(data, "location_data") ?? drive : null;
        (r.Latitude, r.Longitude) = (Num(location, "latitude"), Num(location, "longitude"));

        var state = Section(data, "vehicle_state");
        r.Locked = Bool(state, "locked");
        r.SentryMode = Bool(state, "sentry_mode");
        r.OdometerMiles = Num(state, "odometer");
        r.UserPresent = Bool(state, "is_user_present");
        r.FirmwareVersion = Str(state, "car_version") ?? r.FirmwareVersion;
        string[] doors = ["df", "dr", "pf", "pr", "ft", "rt"];
        r.DoorsOpen = state is { } vs && doors.Any(d => Int(vs, d) is not null) ? doors.Any(d => Int(vs, d) is > 0) : null;
        r.SoftwareUpdateStatus = state is { } s && Section(s, "software_update") is { } update ? Str(update, "status") : null;

        r.CarType = Str(Section(data, "vehicle_config"), "car_type") ?? r.CarType;
    }

    private static JsonElement? Section(JsonElement? e, string name) =>
        e is { } o && o.TryGetProperty(name, out var s) && s.ValueKind == JsonValueKind.Object ? s : null;

    private static double? Num(JsonElement? e, string name) =>
        e is { } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : null;

    private static int? Int(JsonElement? e, string name) => Num(e, name) is { } d ? (int)Math.Round(d) : null;

    private static string? Str(JsonElement? e, string name) =>
        e is { } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? Hosting.TextInput.Clean(v.GetString()) : null;

    private static bool? Bool(JsonElement? e, string name) =>
        e is { } o && o.TryGetProperty(name, out var v) ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null } : null;

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
