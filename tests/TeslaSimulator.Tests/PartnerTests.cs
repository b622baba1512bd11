using System.Net;
using System.Text;
using System.Text.Json;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

public sealed class PartnerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Body(object o) => new(JsonSerializer.Serialize(o), Encoding.UTF8, "application/json");

    [Fact]
    public async Task PartnerRegistersADomainAndThePublicKeyCheckFindsIt()
    {
        await using var app = new SimulatorApp();
        var token = await Json(await PostFormAsync(app.Client(), "/oauth2/v3/token", Ct, ("grant_type", "client_credentials"),
            ("client_id", ClientId), ("client_secret", ClientSecret), ("audience", Na)), Ct);
        var partner = app.Fleet((string)token["access_token"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await partner.GetAsync("/api/1/partner_accounts/public_key?domain=broker.example.com", Ct)).StatusCode);
        var registered = await Json(await partner.PostAsync("/api/1/partner_accounts", Body(new { domain = "broker.example.com" }), Ct), Ct);
        Assert.Equal("broker.example.com", (string?)registered["response"]!["domain"]);
        var key = await Json(await partner.GetAsync("/api/1/partner_accounts/public_key?domain=broker.example.com", Ct), Ct);
        Assert.StartsWith("04", (string?)key["response"]!["public_key"]);
    }

    [Fact]
    public async Task FleetStatusAndTelemetryConfigRoundTrip()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var status = await Json(await fleet.PostAsync("/api/1/vehicles/fleet_status", Body(new { vins = new[] { AliceDriving } }), Ct), Ct);
        Assert.Equal(AliceDriving, (string?)status["response"]!["unpaired_vins"]![0]);

        var config = new { vins = new[] { AliceDriving }, config = new { hostname = "telemetry.example.com", port = 443, fields = new { Soc = new { interval_seconds = 60 } } } };
        var created = await Json(await fleet.PostAsync("/api/1/vehicles/fleet_telemetry_config", Body(config), Ct), Ct);
        Assert.Equal(1, (int)created["response"]!["updated_vehicles"]!);
        var got = await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/fleet_telemetry_config", Ct), Ct);
        Assert.Equal("telemetry.example.com", (string?)got["response"]!["config"]!["hostname"]);
        Assert.Equal(HttpStatusCode.OK, (await fleet.DeleteAsync($"/api/1/vehicles/{AliceDriving}/fleet_telemetry_config", Ct)).StatusCode);
        var gone = await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/fleet_telemetry_config", Ct), Ct);
        Assert.Null(gone["response"]!["config"]);
    }
}
