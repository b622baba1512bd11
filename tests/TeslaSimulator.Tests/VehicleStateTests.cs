using System.Net;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

public sealed class VehicleStateTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<string> StateOf(HttpClient fleet, string vin) =>
        (string)(await Json(await fleet.GetAsync($"/api/1/vehicles/{vin}", Ct), Ct))["response"]!["state"]!;

    [Fact]
    public async Task VehicleDataOnASleepingCarIs408()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Bob, ct: Ct))["access_token"]!, Eu);
        var response = await fleet.GetAsync($"/api/1/vehicles/{BobAsleep}/vehicle_data", Ct);
        Assert.Equal(HttpStatusCode.RequestTimeout, response.StatusCode);
        Assert.Equal("vehicle unavailable: vehicle is offline or asleep", (string?)(await Json(response, Ct))["error"]);
        var command = await fleet.PostAsync($"/api/1/vehicles/{BobAsleep}/command/flash_lights", null, Ct);
        Assert.Equal(HttpStatusCode.RequestTimeout, command.StatusCode);
    }

    [Fact]
    public async Task WakeUpAnswersAtOnceAndTheCarIsOnlineAfterTheDelay()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Bob, ct: Ct))["access_token"]!, Eu);
        var wake = await Json(await fleet.PostAsync($"/api/1/vehicles/{BobAsleep}/wake_up", null, Ct), Ct);
        Assert.Equal("asleep", (string?)wake["response"]!["state"]);
        Assert.Equal(BobAsleep, (string?)wake["response"]!["vin"]);
        app.Time.Advance(TimeSpan.FromSeconds(16));
        Assert.Equal("online", await StateOf(fleet, BobAsleep));
        Assert.Equal(HttpStatusCode.OK, (await fleet.GetAsync($"/api/1/vehicles/{BobAsleep}/vehicle_data", Ct)).StatusCode);
    }

    [Fact]
    public async Task ListingNeverWakesButVehicleDataKeepsTheCarAwake()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        await app.SimPostAsync($"/_sim/vehicles/{AliceDriving}/state", new { state = "online" }, Ct);

        // Poll vehicle_data every 5 minutes for an hour: the car never sleeps.
        for (var i = 0; i < 12; i++)
        {
            app.Time.Advance(TimeSpan.FromMinutes(5));
            Assert.Equal(HttpStatusCode.OK, (await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct)).StatusCode);
        }

        // Only list for the next 20 minutes: the idle car falls asleep after 15.
        for (var i = 0; i < 4; i++)
        {
            app.Time.Advance(TimeSpan.FromMinutes(5));
            await fleet.GetAsync("/api/1/vehicles", Ct);
        }
        Assert.Equal("asleep", await StateOf(fleet, AliceDriving));
        app.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal("asleep", await StateOf(fleet, AliceDriving));
    }

    [Fact]
    public async Task ChargingCarCompletesAtItsLimitThenSleeps()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        app.Time.Advance(TimeSpan.FromHours(7)); // 41 % → 90 % at 11.5 kW on 78 kWh takes ~3.3 h
        Assert.Equal("asleep", await StateOf(fleet, AliceCharging));
        var state = await app.Client().GetStringAsync("/_sim/state", Ct);
        Assert.Contains("\"chargingState\":\"Complete\"", state);
    }

    [Fact]
    public async Task DrivingCarMovesAndDrainsItsBattery()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var before = (await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct), Ct))["response"]!;
        app.Time.Advance(TimeSpan.FromMinutes(10));
        var after = (await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/vehicle_data", Ct), Ct))["response"]!;
        Assert.True((double)after["vehicle_state"]!["odometer"]! > (double)before["vehicle_state"]!["odometer"]! + 5);
        Assert.True((double)after["charge_state"]!["battery_range"]! < (double)before["charge_state"]!["battery_range"]!);
    }

    [Fact]
    public async Task WakesAreLimitedToThreePerMinutePerDevice()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Bob, ct: Ct))["access_token"]!, Eu);
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await fleet.PostAsync($"/api/1/vehicles/{BobAsleep}/wake_up", null, Ct)).StatusCode);
        var limited = await fleet.PostAsync($"/api/1/vehicles/{BobAsleep}/wake_up", null, Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
        Assert.Equal("0", limited.Headers.GetValues("RateLimit-Remaining").Single());
        app.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.OK, (await fleet.PostAsync($"/api/1/vehicles/{BobAsleep}/wake_up", null, Ct)).StatusCode);
    }
}
