using Broker.Accounts;
using Broker.Polling;
using Prometheus;

namespace Broker.Metrics;

/// <summary>The vehicle families, labelled tenant, account, vin.</summary>
internal sealed class VehicleSeries(IMetricFactory f)
{
    private static readonly string[] Labels = ["tenant", "account", "vin"];
    private readonly Gauge _info = f.CreateGauge("tesla_vehicle_info", "Static attributes of a vehicle; always 1.", [.. Labels, "display_name", "model", "firmware"]);
    private readonly Gauge _state = f.CreateGauge("tesla_vehicle_state", "1 for the vehicle's current online state (online, asleep, offline, unknown).", [.. Labels, "state"]);
    private readonly Gauge _lastSeen = f.CreateGauge("tesla_vehicle_last_seen_timestamp_seconds", "When Tesla last reported the vehicle's state.", Labels);
    private readonly Gauge _dataAt = f.CreateGauge("tesla_vehicle_data_timestamp_seconds", "When the readings below were taken (vehicle_data).", Labels);
    private readonly Gauge _battery = f.CreateGauge("tesla_vehicle_battery_level_percent", "State of charge.", Labels);
    private readonly Gauge _usable = f.CreateGauge("tesla_vehicle_usable_battery_level_percent", "Usable state of charge.", Labels);
    private readonly Gauge _range = f.CreateGauge("tesla_vehicle_battery_range_meters", "Rated range.", Labels);
    private readonly Gauge _charging = f.CreateGauge("tesla_vehicle_charging_state", "1 for the current charging state (Charging, Complete, Disconnected, Stopped, ...).", [.. Labels, "state"]);
    private readonly Gauge _chargerPower = f.CreateGauge("tesla_vehicle_charger_power_watts", "Power drawn by the charger.", Labels);
    private readonly Gauge _chargeLimit = f.CreateGauge("tesla_vehicle_charge_limit_percent", "Charge limit.", Labels);
    private readonly Gauge _energyAdded = f.CreateGauge("tesla_vehicle_charge_energy_added_joules", "Energy added in the current or last charging session.", Labels);
    private readonly Gauge _odometer = f.CreateGauge("tesla_vehicle_odometer_meters", "Odometer.", Labels);
    private readonly Gauge _inside = f.CreateGauge("tesla_vehicle_inside_temperature_celsius", "Cabin temperature.", Labels);
    private readonly Gauge _outside = f.CreateGauge("tesla_vehicle_outside_temperature_celsius", "Outside temperature.", Labels);
    private readonly Gauge _locked = f.CreateGauge("tesla_vehicle_locked", "1 when locked.", Labels);
    private readonly Gauge _sentry = f.CreateGauge("tesla_vehicle_sentry_mode", "1 when sentry mode is on.", Labels);
    private readonly Gauge _shift = f.CreateGauge("tesla_vehicle_shift_state", "1 for the current gear (P, D, R, N).", [.. Labels, "state"]);
    private readonly Gauge _speed = f.CreateGauge("tesla_vehicle_speed_meters_per_second", "Speed.", Labels);
    private readonly Gauge _latitude = f.CreateGauge("tesla_vehicle_latitude_degrees", "Latitude (only with the vehicle_location scope).", Labels);
    private readonly Gauge _longitude = f.CreateGauge("tesla_vehicle_longitude_degrees", "Longitude (only with the vehicle_location scope).", Labels);

    public void Add(string tenant, Vehicle v, VehicleReading? r, DateTimeOffset staleBefore)
    {
        string[] l = [tenant, v.AccountId.ToString("N"), v.Vin];
        _info.WithLabels([.. l, v.DisplayName ?? "", r?.CarType ?? "", r?.FirmwareVersion ?? ""]).Set(1);
        if (r is null)
        {
            return;
        }
        _state.WithLabels([.. l, r.State]).Set(1);
        Set(_lastSeen, l, r.LastSeenAt?.ToUnixTimeSeconds());
        if (r.DataAt is not { } dataAt || dataAt < staleBefore)
        {
            return; // stale: say nothing rather than repeat an old value as if it were current
        }
        Set(_dataAt, l, dataAt.ToUnixTimeSeconds());
        Set(_battery, l, r.BatteryLevel);
        Set(_usable, l, r.UsableBatteryLevel);
        Set(_range, l, r.BatteryRangeMiles is { } range ? MetricsSnapshot.Meters(range) : null);
        if (r.ChargingState is { Length: > 0 } charging)
        {
            _charging.WithLabels([.. l, charging]).Set(1);
        }
        Set(_chargerPower, l, r.ChargerPowerKw * 1000);
        Set(_chargeLimit, l, r.ChargeLimitSoc);
        Set(_energyAdded, l, r.ChargeEnergyAddedKwh * 3_600_000);
        Set(_odometer, l, r.OdometerMiles is { } odo ? MetricsSnapshot.Meters(odo) : null);
        Set(_inside, l, r.InsideTempC);
        Set(_outside, l, r.OutsideTempC);
        Set(_locked, l, r.Locked is { } locked ? (locked ? 1 : 0) : null);
        Set(_sentry, l, r.SentryMode is { } sentry ? (sentry ? 1 : 0) : null);
        _shift.WithLabels([.. l, r.ShiftState ?? "P"]).Set(1);
        Set(_speed, l, (r.SpeedMph ?? 0) * MetricsSnapshot.Meters(1) / 3600);
        Set(_latitude, l, r.Latitude);
        Set(_longitude, l, r.Longitude);
    }

    internal static void Set(Gauge gauge, string[] labels, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            gauge.WithLabels(labels).Set(v);
        }
    }
}

/// <summary>The energy-site families, labelled tenant, account, site.</summary>
internal sealed class EnergySiteSeries(IMetricFactory f)
{
    private static readonly string[] Labels = ["tenant", "account", "site"];
    private readonly Gauge _info = f.CreateGauge("tesla_energy_site_info", "Static attributes of an energy site; always 1.", [.. Labels, "site_name", "resource_type"]);
    private readonly Gauge _dataAt = f.CreateGauge("tesla_energy_site_data_timestamp_seconds", "When the readings below were taken (live_status).", Labels);
    private readonly Gauge _solar = f.CreateGauge("tesla_energy_site_solar_power_watts", "Solar production.", Labels);
    private readonly Gauge _battery = f.CreateGauge("tesla_energy_site_battery_power_watts", "Battery power; positive while discharging.", Labels);
    private readonly Gauge _load = f.CreateGauge("tesla_energy_site_load_power_watts", "Home consumption.", Labels);
    private readonly Gauge _grid = f.CreateGauge("tesla_energy_site_grid_power_watts", "Grid power; positive while importing.", Labels);
    private readonly Gauge _level = f.CreateGauge("tesla_energy_site_battery_level_percent", "Battery state of charge.", Labels);
    private readonly Gauge _gridStatus = f.CreateGauge("tesla_energy_site_grid_status", "1 for the current grid status (Active, Inactive, ...).", [.. Labels, "status"]);

    public void Add(string tenant, EnergySite s, EnergySiteReading? r, DateTimeOffset staleBefore)
    {
        string[] l = [tenant, s.AccountId.ToString("N"), s.EnergySiteId.ToString()];
        _info.WithLabels([.. l, s.SiteName ?? "", s.ResourceType ?? ""]).Set(1);
        if (r?.DataAt is not { } dataAt || dataAt < staleBefore)
        {
            return;
        }
        VehicleSeries.Set(_dataAt, l, dataAt.ToUnixTimeSeconds());
        VehicleSeries.Set(_solar, l, r.SolarPowerW);
        VehicleSeries.Set(_battery, l, r.BatteryPowerW);
        VehicleSeries.Set(_load, l, r.LoadPowerW);
        VehicleSeries.Set(_grid, l, r.GridPowerW);
        VehicleSeries.Set(_level, l, r.PercentageCharged);
        if (r.GridStatus is { Length: > 0 } status)
        {
            _gridStatus.WithLabels([.. l, status]).Set(1);
        }
    }
}
