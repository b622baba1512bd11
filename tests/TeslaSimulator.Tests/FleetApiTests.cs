using System.Net;
using System.Text.Json.Nodes;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

public sealed class FleetApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task WrongRegionHostGets421WithTheRightBaseUrl()
    {
        await using var app = new SimulatorApp();
        var token = (string)(await app.TokensAsync(Bob, ct: Ct))["access_token"]!;
        var response = await app.Fleet(token, Na).GetAsync("/api/1/vehicles", Ct);
        Assert.Equal((HttpStatusCode)421, response.StatusCode);
        var body = await Json(response, Ct);
        Assert.Equal($"user out of region, use base URL: {Eu}, see https://developer.tesla.com/docs/fleet-api#regional-requirements", (string?)body["error"]);
        Assert.NotNull(body["txid"]);

        var region = await Json(await app.Fleet(token, Na).GetAsync("/api/1/users/region", Ct), Ct);
        Assert.Equal("eu", (string?)region["response"]!["region"]);
        Assert.Equal(Eu, (string?)region["response"]!["fleet_api_base_url"]);
        Assert.Equal(HttpStatusCode.OK, (await app.Fleet(token, Eu).GetAsync("/api/1/vehicles", Ct)).StatusCode);
    }

    [Fact]
    public async Task AccountsSeeOnlyTheirOwnDevices()
    {
        await using var app = new SimulatorApp();
        var bob = app.Fleet((string)(await app.TokensAsync(Bob, ct: Ct))["access_token"]!, Eu);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.GetAsync($"/api/1/vehicles/{AliceCharging}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.GetAsync($"/api/1/energy_sites/{AliceSite}/live_status", Ct)).StatusCode);
    }

    [Fact]
    public async Task ProductsListVehiclesAndSitesPerScope()
    {
        await using var app = new SimulatorApp();
        var all = await Json(await app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!).GetAsync("/api/1/products", Ct), Ct);
        Assert.Equal(3, (int)all["count"]!);
        Assert.Equal(AliceSite, (long)all["response"]![2]!["energy_site_id"]!);

        await using var fresh = new SimulatorApp();
        var energyOnly = await fresh.TokensAsync(Alice, "openid energy_device_data", Ct);
        var products = await Json(await fresh.Fleet((string)energyOnly["access_token"]!).GetAsync("/api/1/products", Ct), Ct);
        Assert.Equal(1, (int)products["count"]!);
    }

    [Fact]
    public async Task VehicleListPaginates()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var page2 = await Json(await fleet.GetAsync("/api/1/vehicles?page=2&per_page=1", Ct), Ct);
        Assert.Single(page2["response"]!.AsArray());
        Assert.Equal(AliceCharging, (string?)page2["response"]![0]!["vin"]);
        var p = page2["pagination"]!;
        Assert.Equal(1, (int)p["previous"]!);
        Assert.Null(p["next"]);
        Assert.Equal(2, (int)p["current"]!);
        Assert.Equal(2, (int)p["pages"]!);
        Assert.Equal(2, (int)page2["count"]!);
    }

    [Fact]
    public async Task LocationDataWithoutVehicleLocationScopeIs403()
    {
        await using var app = new SimulatorApp();
        var tokens = await app.TokensAsync(Alice, "openid offline_access vehicle_device_data", Ct);
        var fleet = app.Fleet((string)tokens["access_token"]!);
        var denied = await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data?endpoints=charge_state%3Blocation_data", Ct);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

        // Since 2026 there is no drive_state at all without vehicle_location (fleet-telemetry#460)...
        var data = await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct), Ct);
        Assert.False(data["response"]!.AsObject().ContainsKey("drive_state"));
        Assert.NotNull(data["response"]!["charge_state"]);

        // ...while the Tesla before it sent drive_state without its location fields.
        await using var before2026 = new SimulatorApp { Settings = { ["Simulator:DriveStateNeedsLocationScope"] = "false" } };
        var older = before2026.Fleet((string)(await before2026.TokensAsync(Alice, "openid offline_access vehicle_device_data", Ct))["access_token"]!);
        var drive = (await Json(await older.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct), Ct))["response"]!["drive_state"]!.AsObject();
        Assert.False(drive.ContainsKey("latitude"));
        Assert.Equal("D", (string?)drive["shift_state"]);
    }

    [Fact]
    public async Task VehicleDataReturnsRequestedSectionsWithLiveValues()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var before = await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceCharging}/vehicle_data?endpoints=charge_state%3Blocation_data", Ct), Ct);
        var r = before["response"]!.AsObject();
        Assert.Equal(AliceCharging, (string?)r["vin"]);
        Assert.Equal("Blue Yonder", (string?)r["display_name"]);
        Assert.Equal("Charging", (string?)r["charge_state"]!["charging_state"]);
        Assert.True(r["drive_state"]!.AsObject().ContainsKey("latitude"));
        Assert.False(r.ContainsKey("climate_state"));

        app.Time.Advance(TimeSpan.FromMinutes(30));
        var after = await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceCharging}/vehicle_data?endpoints=charge_state", Ct), Ct);
        Assert.True((int)after["response"]!["charge_state"]!["battery_level"]! > (int)r["charge_state"]!["battery_level"]!);
    }

    [Fact]
    public async Task ChargeCommandsFollowTheStateMachine()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var start = await Json(await fleet.PostAsync($"/api/1/vehicles/{AliceCharging}/command/charge_start", null, Ct), Ct);
        Assert.False((bool)start["response"]!["result"]!);
        Assert.Equal("is_charging", (string?)start["response"]!["reason"]);
        var stop = await Json(await fleet.PostAsync($"/api/1/vehicles/{AliceCharging}/command/charge_stop", null, Ct), Ct);
        Assert.True((bool)stop["response"]!["result"]!);
        var limit = await fleet.PostAsync($"/api/1/vehicles/{AliceCharging}/command/set_charge_limit", JsonContent(new { percent = 85 }), Ct);
        Assert.True((bool)(await Json(limit, Ct))["response"]!["result"]!);
        Assert.Equal(HttpStatusCode.OK, (await fleet.PostAsync($"/api/1/vehicles/{AliceCharging}/command/honk_horn", null, Ct)).StatusCode);
    }

    [Fact]
    public async Task EnergyLiveStatusVariesWithSimulatedTime()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var noon = await Json(await fleet.GetAsync($"/api/1/energy_sites/{AliceSite}/live_status", Ct), Ct);
        Assert.True((double)noon["response"]!["solar_power"]! > 3000); // 19:00Z is 11:00 at the site
        app.Time.Advance(TimeSpan.FromHours(12));
        fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var night = await Json(await fleet.GetAsync($"/api/1/energy_sites/{AliceSite}/live_status", Ct), Ct);
        Assert.Equal(0, (double)night["response"]!["solar_power"]!);
        var info = await Json(await fleet.GetAsync($"/api/1/energy_sites/{AliceSite}/site_info", Ct), Ct);
        Assert.Equal("Alice's Home", (string?)info["response"]!["site_name"]);
    }

    private static StringContent JsonContent(object body) =>
        new(System.Text.Json.JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
}
