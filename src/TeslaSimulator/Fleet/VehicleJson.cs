using System.Text.Json.Nodes;
using TeslaSimulator.Fixtures;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

/// <summary>Vehicle JSON built from the fixture templates, overridden with the vehicle's seed and live state.</summary>
internal static class VehicleJson
{
    public static readonly string[] DefaultEndpoints =
        ["charge_state", "climate_state", "drive_state", "gui_settings", "vehicle_config", "vehicle_state"];

    private static readonly string[] LocationFields =
        ["latitude", "longitude", "native_latitude", "native_longitude", "native_location_supported", "native_type",
         "heading", "gps_as_of", "active_route_latitude", "active_route_longitude"];

    internal const double RatedMilesAtFull = 310;

    /// <summary>The list/summary item (vehicles_list.json item shape).</summary>
    public static JsonObject Summary(SimVehicle v)
    {
        var item = Fixture.Item("vehicles_list", 0);
        ApplyIdentity(item, v);
        return item;
    }

    /// <summary>The /products item (products.json vehicle shape).</summary>
    public static JsonObject Product(SimVehicle v, DateTimeOffset now)
    {
        var item = Fixture.Item("products", 0);
        ApplyIdentity(item, v);
        ApplyConfig(item["vehicle_config"]!.AsObject(), v, now);
        return item;
    }

    public static JsonObject VehicleData(SimVehicle v, IReadOnlyCollection<string> endpoints, DateTimeOffset now)
    {
        var data = Fixture.Object("vehicle_data")["response"]!.DeepClone().AsObject();
        var ms = now.ToUnixTimeMilliseconds();
        ApplyIdentity(data, v);
        data["display_name"] = v.Seed.DisplayName;

        var charge = data["charge_state"]!.AsObject();
        var level = (int)Math.Round(v.Battery);
        var range = Math.Round(v.Battery / 100 * RatedMilesAtFull, 2);
        var amps = v.Mode == VehicleMode.Charging ? (int)Math.Round(v.ChargerPowerKw * 1000 / SimVehicle.LineVoltage) : 0;
        charge["battery_level"] = level;
        charge["usable_battery_level"] = level;
        charge["battery_range"] = range;
        charge["ideal_battery_range"] = range;
        charge["est_battery_range"] = Math.Round(range * 0.93, 2);
        charge["charge_limit_soc"] = v.ChargeLimit;
        charge["charging_state"] = v.ChargingState;
        charge["charger_power"] = (int)Math.Round(v.ChargerPowerKw);
        charge["charger_actual_current"] = amps;
        charge["charger_voltage"] = v.Mode == VehicleMode.Charging ? SimVehicle.LineVoltage : 2;
        charge["charge_rate"] = v.Mode == VehicleMode.Charging ? Math.Round(v.ChargerPowerKw / 0.26, 1) : 0;
        charge["charge_energy_added"] = Math.Round(v.ChargeEnergyAdded, 2);
        charge["charge_port_door_open"] = v.ChargePortOpen;
        charge["charge_current_request"] = v.ChargeAmps;
        charge["charge_current_request_max"] = v.Seed.MaxChargeAmps;
        charge["charge_amps"] = v.ChargeAmps;
        charge["charge_port_latch"] = v.PluggedIn ? "Engaged" : "Disengaged";
        charge["conn_charge_cable"] = v.PluggedIn ? "SAE" : "<invalid>";
        var hoursToFull = v.Mode == VehicleMode.Charging ? Math.Max(0, v.ChargeLimit - v.Battery) / (Math.Max(1e-9, v.ChargingKw) / v.Seed.PackKwh * 100) : 0;
        charge["time_to_full_charge"] = Math.Round(hoursToFull, 2);
        charge["minutes_to_full_charge"] = (int)Math.Round(hoursToFull * 60);
        charge["energy_remaining"] = Math.Round(v.Battery / 100 * v.Seed.PackKwh, 2);

        // Climate runs while driving and is off when parked: the fixture's "climate on" snapshot
        // would otherwise make every parked car look in use, and real parked cars sleep.
        var climate = data["climate_state"]!.AsObject();
        var hvac = v.Mode == VehicleMode.Driving || v.ClimateOn;
        climate["is_climate_on"] = hvac;
        climate["is_auto_conditioning_on"] = hvac;
        climate["is_preconditioning"] = false;
        climate["fan_status"] = hvac ? 3 : 0;

        var drive = data["drive_state"]!.AsObject();
        drive["shift_state"] = v.Mode == VehicleMode.Driving ? "D" : null;
        drive["speed"] = v.Mode == VehicleMode.Driving ? (int)v.SpeedNow : null;
        drive["power"] = v.Mode switch { VehicleMode.Driving => 14, VehicleMode.Charging => -(int)Math.Round(v.ChargerPowerKw), _ => 0 };
        drive["latitude"] = Math.Round(v.Latitude, 6);
        drive["longitude"] = Math.Round(v.Longitude, 6);
        drive["native_latitude"] = Math.Round(v.Latitude, 6);
        drive["native_longitude"] = Math.Round(v.Longitude, 6);
        drive["heading"] = v.Heading;
        drive["gps_as_of"] = now.ToUnixTimeSeconds();
        if (!endpoints.Contains("location_data")) foreach (var f in LocationFields) drive.Remove(f);

        ApplyConfig(data["vehicle_config"]!.AsObject(), v, now);
        var vs = data["vehicle_state"]!.AsObject();
        vs["odometer"] = Math.Round(v.Odometer, 6);
        vs["locked"] = v.Locked;
        vs["vehicle_name"] = v.Seed.DisplayName;
        vs["car_version"] = $"{v.Seed.FirmwareVersion} 06f534d46010";
        vs["is_user_present"] = v.Mode == VehicleMode.Driving;

        var wanted = endpoints.ToHashSet();
        if (wanted.Contains("location_data")) wanted.Add("drive_state");
        foreach (var (name, node) in data.ToList())
        {
            if (node is not JsonObject section || name == "granular_access") continue;
            if (!wanted.Contains(name)) { data.Remove(name); continue; }
            if (section.ContainsKey("timestamp")) section["timestamp"] = ms;
        }
        return data;
    }

    private static void ApplyIdentity(JsonObject item, SimVehicle v)
    {
        item["id"] = v.Seed.Id;
        item["user_id"] = v.Owner.UserId;
        item["vehicle_id"] = v.Seed.VehicleId;
        item["vin"] = v.Vin;
        if (item.ContainsKey("display_name")) item["display_name"] = v.Seed.DisplayName;
        item["state"] = v.ApiState;
        item["id_s"] = v.Seed.Id.ToString();
    }

    private static void ApplyConfig(JsonObject config, SimVehicle v, DateTimeOffset now)
    {
        config["car_type"] = v.Seed.CarType;
        config["exterior_color"] = v.Seed.ExteriorColor;
        config["eu_vehicle"] = v.Owner.Region == "eu";
        config["rhd"] = false;
        config["timestamp"] = now.ToUnixTimeMilliseconds();
    }
}
