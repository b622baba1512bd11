using System.Text.Json.Nodes;
using TeslaSimulator.Fixtures;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

/// <summary>Energy-site JSON from the products/live_status/site_info templates with the site's live values.</summary>
internal static class EnergyJson
{
    public static JsonObject Product(SimEnergySite s, DateTimeOffset now)
    {
        var item = Fixture.Item("products", 1);
        var flows = s.FlowsAt(now);
        item["energy_site_id"] = s.Seed.EnergySiteId;
        item["site_name"] = s.Seed.SiteName;
        item["id"] = s.Seed.Id;
        item["gateway_id"] = s.Seed.GatewayId;
        item["asset_site_id"] = s.Seed.AssetSiteId;
        item["energy_left"] = s.EnergyLeftWh;
        item["total_pack_energy"] = s.NameplateWh;
        item["percentage_charged"] = s.Percent;
        item["battery_power"] = flows.BatteryW;
        item["components"]!["wall_connectors"] = new JsonArray();
        if (!s.HasBattery)
        {
            // TeslaPy#96 (a real solar-only product): resource_type solar, no battery component, energy_left 0.
            item["resource_type"] = "solar";
            item["components"]!["battery"] = false;
            (item["energy_left"], item["total_pack_energy"], item["percentage_charged"], item["battery_power"]) = (0, 1, 0, 0);
        }
        return item;
    }

    public static JsonObject LiveStatus(SimEnergySite s, DateTimeOffset now)
    {
        var body = Fixture.Object("live_status");
        var r = body["response"]!.AsObject();
        var flows = s.FlowsAt(now);
        r["solar_power"] = flows.SolarW;
        r["energy_left"] = Math.Round(s.EnergyLeftWh, 1);
        r["total_pack_energy"] = s.NameplateWh;
        r["percentage_charged"] = s.Percent;
        r["battery_power"] = flows.BatteryW;
        r["load_power"] = flows.LoadW;
        r["grid_power"] = flows.GridW;
        r["timestamp"] = now.ToOffset(TimeSpan.FromHours(s.Seed.UtcOffsetHours)).ToString("yyyy-MM-dd'T'HH:mm:sszzz");
        r["wall_connectors"] = new JsonArray();
        if (!s.HasBattery)
        {
            // A real solar-only answer (TeslaPy#96): the no-battery sentinel energy_left 0 / total_pack_energy 1, no load
            // meter (load_power 0, the grid takes the solar), grid and island status unknown, wall_connectors null.
            (r["energy_left"], r["total_pack_energy"], r["percentage_charged"], r["battery_power"], r["load_power"]) = (0, 1, 0, 0, 0);
            r["grid_power"] = -flows.SolarW;
            (r["grid_status"], r["island_status"], r["wall_connectors"]) = ("Unknown", "island_status_unknown", null);
        }
        else if (s.Seed.LiveStatusWithoutEnergy)
        {
            // Answers since 2024 may lack both (Powerwall-Dashboard#478, hass-teslemetry#91).
            r.Remove("energy_left");
            r.Remove("total_pack_energy");
        }
        return body;
    }

    public static JsonObject SiteInfo(SimEnergySite s)
    {
        var body = Fixture.Object("site_info");
        var r = body["response"]!.AsObject();
        r["id"] = s.Seed.Id;
        r["site_name"] = s.Seed.SiteName;
        r["backup_reserve_percent"] = s.Seed.BackupReservePercent;
        r["installation_date"] = s.Seed.InstallationDate;
        r["installation_time_zone"] = s.Seed.TimeZone;
        r["battery_count"] = s.Seed.BatteryCount;
        r["nameplate_energy"] = s.NameplateWh;
        r["nameplate_power"] = s.Seed.BatteryCount * 5000;
        var components = r["components"]!.AsObject();
        if (components["batteries"] is JsonArray batteries)
            while (batteries.Count > s.Seed.BatteryCount) batteries.RemoveAt(batteries.Count - 1);
        components["wall_connectors"] = new JsonArray();
        return body;
    }
}
