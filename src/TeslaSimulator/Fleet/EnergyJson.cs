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
