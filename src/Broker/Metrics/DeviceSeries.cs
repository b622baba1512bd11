namespace Broker.Metrics;

/// <summary>One vehicle and its latest reading, only the columns the exposition needs.</summary>
internal sealed record VehicleRow(
    Guid TenantId, Guid AccountId, string Vin, string? DisplayName, bool HasReading, string? State,
    DateTimeOffset? LastSeenAt, DateTimeOffset? DataAt, int? BatteryLevel, int? UsableBatteryLevel, double? BatteryRangeMiles,
    string? ChargingState, double? ChargerPowerKw, int? ChargeLimitSoc, double? ChargeEnergyAddedKwh, double? OdometerMiles,
    double? InsideTempC, double? OutsideTempC, bool? Locked, bool? SentryMode, string? ShiftState, double? SpeedMph,
    double? Latitude, double? Longitude, string? CarType, string? FirmwareVersion);

/// <summary>One energy site and its latest reading.</summary>
internal sealed record SiteRow(
    Guid TenantId, Guid AccountId, long EnergySiteId, string? SiteName, string? ResourceType, bool HasBattery, DateTimeOffset? DataAt,
    double? SolarPowerW, double? BatteryPowerW, double? LoadPowerW, double? GridPowerW, double? PercentageCharged, double? EnergyLeftWh,
    double? TotalPackEnergyWh, string? GridStatus)
{
    /// <summary>
    /// A battery to report on: the products list says so, and live_status does not send Tesla's no-battery sentinel
    /// (solar-only sites answer <c>energy_left: 0, total_pack_energy: 1</c>, TeslaPy#96).
    /// </summary>
    public bool ReportsBattery => HasBattery && !(TotalPackEnergyWh == 1 && EnergyLeftWh == 0);
}

/// <summary>The vehicle families, labelled tenant, account, vin.</summary>
internal static class VehicleSeries
{
    public static void Write(ExpositionWriter w, List<VehicleRow> rows, Func<Guid, string> slug, DateTimeOffset staleBefore)
    {
        var devices = rows.Select(v => (Row: v, Labels: ExpositionWriter.Labels(("tenant", slug(v.TenantId)), ("account", v.AccountId.ToString("N")), ("vin", v.Vin))))
            .ToList();
        // Stale readings say nothing rather than repeat an old value as if it were current.
        var fresh = devices.Where(d => d.Row.HasReading && d.Row.DataAt is { } at && at >= staleBefore).ToList();

        w.Family("tesla_vehicle_info", "Static attributes of a vehicle; always 1.", "gauge");
        foreach (var (v, _) in devices)
        {
            w.Sample([("tenant", slug(v.TenantId)), ("account", v.AccountId.ToString("N")), ("vin", v.Vin),
                ("display_name", v.DisplayName ?? ""), ("model", VehicleModels.Name(v.CarType, v.Vin)), ("car_type", v.CarType ?? ""),
                ("firmware", v.FirmwareVersion ?? "")], 1);
        }
        w.Family("tesla_vehicle_state", "1 for the vehicle's current online state (online, asleep, offline, unknown).", "gauge");
        foreach (var (v, labels) in devices.Where(d => d.Row.HasReading))
        {
            w.Sample(labels, "state", v.State, 1);
        }
        Gauges(w, devices.Where(d => d.Row.HasReading), "tesla_vehicle_last_seen_timestamp_seconds", "When Tesla last reported the vehicle's state.", v => v.LastSeenAt?.ToUnixTimeSeconds());
        Gauges(w, fresh, "tesla_vehicle_data_timestamp_seconds", "When the readings below were taken (vehicle_data).", v => v.DataAt?.ToUnixTimeSeconds());
        Gauges(w, fresh, "tesla_vehicle_battery_level_percent", "State of charge.", v => v.BatteryLevel);
        Gauges(w, fresh, "tesla_vehicle_usable_battery_level_percent", "Usable state of charge.", v => v.UsableBatteryLevel);
        Gauges(w, fresh, "tesla_vehicle_battery_range_meters", "Rated range.", v => v.BatteryRangeMiles is { } range ? MetricsSnapshot.Meters(range) : null);
        w.Family("tesla_vehicle_charging_state", "1 for the current charging state (Charging, Complete, Disconnected, Stopped, ...).", "gauge");
        foreach (var (v, labels) in fresh.Where(d => d.Row.ChargingState is { Length: > 0 }))
        {
            w.Sample(labels, "state", v.ChargingState, 1);
        }
        Gauges(w, fresh, "tesla_vehicle_charger_power_watts", "Power drawn by the charger.", v => v.ChargerPowerKw * 1000);
        Gauges(w, fresh, "tesla_vehicle_charge_limit_percent", "Charge limit.", v => v.ChargeLimitSoc);
        Gauges(w, fresh, "tesla_vehicle_charge_energy_added_joules", "Energy added in the current or last charging session.", v => v.ChargeEnergyAddedKwh * 3_600_000);
        Gauges(w, fresh, "tesla_vehicle_odometer_meters", "Odometer.", v => v.OdometerMiles is { } odo ? MetricsSnapshot.Meters(odo) : null);
        Gauges(w, fresh, "tesla_vehicle_inside_temperature_celsius", "Cabin temperature.", v => v.InsideTempC);
        Gauges(w, fresh, "tesla_vehicle_outside_temperature_celsius", "Outside temperature.", v => v.OutsideTempC);
        Gauges(w, fresh, "tesla_vehicle_locked", "1 when locked.", v => v.Locked is { } locked ? (locked ? 1 : 0) : null);
        Gauges(w, fresh, "tesla_vehicle_sentry_mode", "1 when sentry mode is on.", v => v.SentryMode is { } sentry ? (sentry ? 1 : 0) : null);
        // A gear and a speed only where Tesla sent them: a null gear is unknown, not P (no location_data, an asleep car).
        w.Family("tesla_vehicle_shift_state", "1 for the current gear (P, D, R, N); absent while Tesla does not say.", "gauge");
        foreach (var (v, labels) in fresh.Where(d => d.Row.ShiftState is { Length: > 0 }))
        {
            w.Sample(labels, "state", v.ShiftState, 1);
        }
        Gauges(w, fresh, "tesla_vehicle_speed_meters_per_second", "Speed; absent while Tesla does not say.", v => v.SpeedMph * MetricsSnapshot.Meters(1) / 3600);
        Gauges(w, fresh, "tesla_vehicle_latitude_degrees", "Latitude (only with the vehicle_location scope).", v => v.Latitude);
        Gauges(w, fresh, "tesla_vehicle_longitude_degrees", "Longitude (only with the vehicle_location scope).", v => v.Longitude);
    }

    /// <summary>A gauge family with one sample per device that has a finite value (nothing for unknown).</summary>
    internal static void Gauges<TRow>(ExpositionWriter w, IEnumerable<(TRow Row, byte[] Labels)> devices, string name, string help, Func<TRow, double?> value)
    {
        w.Family(name, help, "gauge");
        foreach (var (row, labels) in devices)
        {
            if (value(row) is { } v && double.IsFinite(v))
            {
                w.Sample(labels, v);
            }
        }
    }
}

/// <summary>The energy-site families, labelled tenant, account, site.</summary>
internal static class EnergySiteSeries
{
    public static void Write(ExpositionWriter w, List<SiteRow> rows, Func<Guid, string> slug, DateTimeOffset staleBefore)
    {
        var sites = rows.Select(s => (Row: s, Labels: ExpositionWriter.Labels(("tenant", slug(s.TenantId)), ("account", s.AccountId.ToString("N")), ("site", s.EnergySiteId.ToString()))))
            .ToList();
        var fresh = sites.Where(s => s.Row.DataAt is { } at && at >= staleBefore).ToList();

        w.Family("tesla_energy_site_info", "Static attributes of an energy site; always 1.", "gauge");
        foreach (var (s, _) in sites)
        {
            w.Sample([("tenant", slug(s.TenantId)), ("account", s.AccountId.ToString("N")), ("site", s.EnergySiteId.ToString()),
                ("site_name", s.SiteName ?? ""), ("resource_type", s.ResourceType ?? "")], 1);
        }
        VehicleSeries.Gauges(w, fresh, "tesla_energy_site_data_timestamp_seconds", "When the readings below were taken (live_status).", s => s.DataAt?.ToUnixTimeSeconds());
        VehicleSeries.Gauges(w, fresh, "tesla_energy_site_solar_power_watts", "Solar production.", s => s.SolarPowerW);
        var battery = fresh.Where(s => s.Row.ReportsBattery).ToList();
        VehicleSeries.Gauges(w, battery, "tesla_energy_site_battery_power_watts", "Battery power; positive while discharging. Only for sites with a battery.", s => s.BatteryPowerW);
        VehicleSeries.Gauges(w, fresh, "tesla_energy_site_load_power_watts", "Home consumption.", s => s.LoadPowerW);
        VehicleSeries.Gauges(w, fresh, "tesla_energy_site_grid_power_watts", "Grid power; positive while importing.", s => s.GridPowerW);
        VehicleSeries.Gauges(w, battery, "tesla_energy_site_battery_level_percent", "Battery state of charge. Only for sites with a battery.", s => s.PercentageCharged);
        w.Family("tesla_energy_site_grid_status", "1 for the current grid status (Active, Inactive, ...).", "gauge");
        foreach (var (s, labels) in fresh.Where(s => s.Row.GridStatus is { Length: > 0 }))
        {
            w.Sample(labels, "status", s.GridStatus, 1);
        }
    }
}
