using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

public sealed class ControlApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CallsAreCountedByAccountDeviceCategoryAndPriced()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        Assert.Equal(HttpStatusCode.NoContent, (await app.Client().DeleteAsync("/_sim/calls", Ct)).StatusCode);

        await fleet.GetAsync("/api/1/vehicles", Ct);
        await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct);
        await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct);
        await fleet.PostAsync($"/api/1/vehicles/{AliceDriving}/command/honk_horn", null, Ct);
        await fleet.PostAsync($"/api/1/vehicles/{AliceDriving}/wake_up", null, Ct);
        await fleet.GetAsync($"/api/1/energy_sites/{AliceSite}/live_status", Ct);
        await app.SimPostAsync("/_sim/fail-next?path=/api/1/vehicles/&status=503", null, Ct);
        await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct); // 503: counted, not billed

        var calls = JsonDocument.Parse(await app.Client().GetStringAsync($"/_sim/calls?account={Alice}", Ct)).RootElement;
        var rows = calls.GetProperty("calls").EnumerateArray().ToList();
        var data = rows.Single(r => r.GetProperty("category").GetString() == "data" && r.GetProperty("status").GetInt32() == 200);
        Assert.Equal(AliceDriving, data.GetProperty("device").GetString());
        Assert.Equal(2, data.GetProperty("count").GetInt64());
        Assert.Contains(rows, r => r.GetProperty("category").GetString() == "data" && r.GetProperty("status").GetInt32() == 503 && !r.GetProperty("billable").GetBoolean());
        Assert.Contains(rows, r => r.GetProperty("category").GetString() == "energy" && r.GetProperty("device").GetString() == AliceSite.ToString());
        var totals = calls.GetProperty("totals");
        Assert.Equal(7, totals.GetProperty("calls").GetInt64());
        Assert.Equal(6, totals.GetProperty("billable").GetInt64());
        Assert.Equal(2 * 0.002m + 0.001m + 0.02m, totals.GetProperty("cost").GetDecimal());
        Assert.Equal(1, totals.GetProperty("byCategory").GetProperty("meta").GetProperty("calls").GetInt64());
    }

    [Fact]
    public async Task StatusFaultIsServedOnceThenTheRealAnswerReturns()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        await app.SimPostAsync("/_sim/faults", new { path = "/api/1/vehicles", status = 429, retryAfterSeconds = 120 }, Ct);
        var limited = await fleet.GetAsync("/api/1/vehicles", Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(120), limited.Headers.RetryAfter!.Delta);
        Assert.Equal("Retry in 120 seconds", await limited.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.OK, (await fleet.GetAsync("/api/1/vehicles", Ct)).StatusCode);
    }

    [Fact]
    public async Task DelayFaultSlowsTheRealAnswer()
    {
        await using var app = new SimulatorApp();
        await app.SimPostAsync("/_sim/faults", new { path = "/status", delayMs = 300 }, Ct);
        var watch = Stopwatch.StartNew();
        var response = await app.Client(Na).GetAsync("/status", Ct);
        Assert.True(watch.ElapsedMilliseconds >= 250);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task MalformedAndEmptyFaultsBreakTheBody()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        await app.SimPostAsync("/_sim/fail-next?path=/api/1/products&status=200&body=malformed", null, Ct);
        var malformed = await fleet.GetAsync("/api/1/products", Ct);
        Assert.Equal(HttpStatusCode.OK, malformed.StatusCode);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(malformed.Content.ReadAsStringAsync(Ct).Result));
        await app.SimPostAsync("/_sim/fail-next?path=/api/1/products&status=502&body=empty", null, Ct);
        var empty = await fleet.GetAsync("/api/1/products", Ct);
        Assert.Equal(HttpStatusCode.BadGateway, empty.StatusCode);
        Assert.Equal("", await empty.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task AfterCommitFaultOnRefreshLosesTheRotatedAnswerButTheOldTokenStillWorks()
    {
        await using var app = new SimulatorApp();
        var original = (string)(await app.TokensAsync(Alice, ct: Ct))["refresh_token"]!;
        await app.SimPostAsync("/_sim/faults", new { path = "/oauth2/v3/token", status = 504, body = "empty", afterCommit = true }, Ct);
        var lost = await app.RefreshAsync(original, Ct);
        Assert.Equal(HttpStatusCode.GatewayTimeout, lost.StatusCode);

        // The rotation happened: the old token is now "used" and remains valid for the 24 h grace only.
        var retry = await app.RefreshAsync(original, Ct);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        app.Time.Advance(TimeSpan.FromHours(25));
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.RefreshAsync(original, Ct)).StatusCode);
    }

    [Fact]
    public async Task StateOverrideAndStateViewNeverShowTokens()
    {
        await using var app = new SimulatorApp();
        var tokens = await app.TokensAsync(Bob, ct: Ct);
        var set = await app.SimPostAsync($"/_sim/vehicles/{BobAsleep}/state", new { state = "charging" }, Ct);
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var state = await app.Client().GetStringAsync("/_sim/state", Ct);
        Assert.Contains("\"mode\":\"charging\"", state);
        Assert.DoesNotContain((string)tokens["refresh_token"]!, state);
        Assert.DoesNotContain((string)tokens["access_token"]!, state);
        Assert.Contains("vehicle_device_data", state);
    }

    [Fact]
    public async Task IssuedListsEveryCodeAndTokenTheAuthServerHandedOut()
    {
        await using var app = new SimulatorApp();
        var (verifier, challenge) = Pkce();
        var code = Query(await app.AuthorizeAsync(Alice, "alice-demo", "openid offline_access vehicle_device_data", challenge, ct: Ct), "code");
        var first = await Json(await app.ExchangeAsync(code, verifier, ct: Ct), Ct);
        var rotated = await Json(await app.RefreshAsync((string)first["refresh_token"]!, Ct), Ct);

        var issued = JsonDocument.Parse(await app.Client().GetStringAsync("/_sim/issued", Ct)).RootElement.GetProperty("secrets")
            .EnumerateArray().Select(s => (s.GetProperty("kind").GetString(), s.GetProperty("value").GetString())).ToList();

        (string?, string?)[] expected =
        [
            ("code", code),
            ("access_token", (string)first["access_token"]!), ("refresh_token", (string)first["refresh_token"]!), ("id_token", (string)first["id_token"]!),
            ("access_token", (string)rotated["access_token"]!), ("refresh_token", (string)rotated["refresh_token"]!), ("id_token", (string)rotated["id_token"]!),
        ];
        Assert.Equal(expected, issued);
    }

    [Fact]
    public async Task VehicleDataShapeServesNullsMissingAndExtraFieldsForOneCarUntilCleared()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var shape = await app.Client().PutAsJsonAsync($"/_sim/vehicles/{AliceDriving}/vehicle-data-shape", new
        {
            like = "vehicle_data_alt",
            nulls = new[] { "charge_state.battery_level" },
            omit = new[] { "vehicle_state.odometer", "gui_settings" },
            extra = new Dictionary<string, object> { ["charge_state.brand_new"] = 7 },
        }, Ct);
        Assert.Equal(HttpStatusCode.NoContent, shape.StatusCode);

        var odd = JsonDocument.Parse(await fleet.GetStringAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct)).RootElement.GetProperty("response");
        var charge = odd.GetProperty("charge_state");
        Assert.Equal(JsonValueKind.Null, charge.GetProperty("battery_level").ValueKind);
        Assert.Equal(7, charge.GetProperty("brand_new").GetInt32());
        Assert.Equal("bad value", charge.GetProperty("minutes_to_full_charge").GetString()); // from vehicle_data_alt.json
        Assert.Equal(JsonValueKind.Null, charge.GetProperty("charger_phases").ValueKind);     // likewise
        Assert.False(charge.TryGetProperty("energy_remaining", out _));                      // absent there
        Assert.False(odd.GetProperty("vehicle_state").TryGetProperty("odometer", out _));
        Assert.False(odd.TryGetProperty("gui_settings", out _));
        var other = JsonDocument.Parse(await fleet.GetStringAsync($"/api/1/vehicles/{AliceCharging}/vehicle_data", Ct)).RootElement.GetProperty("response");
        Assert.Equal(JsonValueKind.Number, other.GetProperty("charge_state").GetProperty("battery_level").ValueKind);

        Assert.Equal(HttpStatusCode.NoContent, (await app.Client().DeleteAsync($"/_sim/vehicles/{AliceDriving}/vehicle-data-shape", Ct)).StatusCode);
        var usual = JsonDocument.Parse(await fleet.GetStringAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct)).RootElement.GetProperty("response");
        Assert.Equal(JsonValueKind.Number, usual.GetProperty("charge_state").GetProperty("battery_level").ValueKind);
        Assert.True(usual.GetProperty("vehicle_state").TryGetProperty("odometer", out _));
    }
}
