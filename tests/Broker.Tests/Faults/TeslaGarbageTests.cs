using System.Net.Http.Json;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Faults;

/// <summary>
/// Answers that arrive but cannot be used (truncated, empty, HTML, the wrong shape), answers that never
/// arrive (timeouts), and answers that are odd but valid (nulls, missing and unknown fields). The rule for
/// odd answers is VehicleDataMapper's: left out changes nothing, null is stored only where Tesla means it.
/// </summary>
public sealed class TeslaGarbageTests(PostgresServer postgres) : FaultsTestBase(postgres)
{
    // Generous against a loaded machine, short enough that a hung Tesla costs the test seconds, not minutes.
    protected override Dictionary<string, string?> BrokerSettings => new() { ["Tesla:FleetRequestTimeoutSeconds"] = "5" };

    public static TheoryData<string, int, string> Garbage => new()
    {
        { "truncated JSON", 200, "malformed" },
        { "empty body", 200, "empty" },
        { "captive portal page", 200, "<!DOCTYPE html><html><head><title>Sign in to Wi-Fi</title></head><body>Please accept the terms.</body></html>" },
        { "no sections", 200, "{\"response\":{}}" },
        { "null response", 200, "{\"response\":null,\"error\":null,\"error_description\":\"\"}" },
        { "an array", 200, "[{\"response\":{}}]" },
    };

    [Theory]
    [MemberData(nameof(Garbage))]
    public async Task AnAnswerThatCannotBeReadNeverOverwritesTheLastGoodReading(string kind, int status, string body)
    {
        await ConnectAliceAndBobAsync();
        await PollAccountsAsync();
        var good = await ReadingAsync(MidnightRunner);
        var tokens = await TokenCiphersAsync();
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{MidnightRunner}/vehicle_data", status, body, count = 2 });

        for (var attempt = 1; attempt <= 2; attempt++)
        {
            Time.Advance((await ReadingAsync(MidnightRunner)).NextPollAt - Time.GetUtcNow());
            await PollAccountsAsync();
            var after = await ReadingAsync(MidnightRunner);
            Assert.True(DataOf(good).Equals(DataOf(after)), $"{kind}: the stored reading changed");
            Assert.Equal(attempt, after.ConsecutiveFailures);
            Assert.NotNull(after.LastError);
            await AssertServingAsync();
        }

        Assert.Equal(2, await FailuresInMetricsAsync("malformed", 200));
        Assert.Equal(tokens, await TokenCiphersAsync());
        await AssertAccountsActiveAsync();
        Time.Advance((await ReadingAsync(MidnightRunner)).NextPollAt - Time.GetUtcNow());
        await PollAccountsAsync();
        var recovered = await ReadingAsync(MidnightRunner);
        Assert.Equal(0, recovered.ConsecutiveFailures);
        AssertNow(recovered.DataAt);
    }

    [Fact]
    public async Task ATeslaThatNeverAnswersTimesOutWhileTheBrokerKeepsServing()
    {
        await ConnectAliceAndBobAsync();
        await PollAccountsAsync();
        var good = await ReadingAsync(MidnightRunner);
        var site = await SiteReadingAsync(AlicesHome);
        // Longer than the broker's 5 s: the simulator holds the request until the broker gives up.
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{MidnightRunner}/vehicle_data", delayMs = 12_000, count = 1 });
        await AddSimFaultAsync(new { path = $"/api/1/energy_sites/{AlicesHome}/live_status", delayMs = 12_000, count = 1 });
        Time.Advance(TimeSpan.FromMinutes(2));

        var hung = PollAccountsAsync();
        while (await PendingSimFaultsAsync() > 0 && !hung.IsCompleted)
        {
            await Task.Delay(100, Ct);
        }
        await AssertServingAsync(); // while a poll waits on Tesla
        await hung.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        var after = await ReadingAsync(MidnightRunner);
        Assert.Equal(1, after.ConsecutiveFailures);
        Assert.Contains("did not answer", after.LastError);
        Assert.Equal(DataOf(good), DataOf(after));
        Assert.Equal(site.DataAt, (await SiteReadingAsync(AlicesHome)).DataAt);
        Assert.Equal(0, (await ReadingAsync(BlueYonder)).ConsecutiveFailures); // the other car was read in the same poll
        Assert.True(await FailuresInMetricsAsync("timeout", 0) >= 2, "both timeouts counted");
        await AssertAccountsActiveAsync();

        Time.Advance(TimeSpan.FromMinutes(5));
        await PollAccountsAsync();
        Assert.Equal(0, (await ReadingAsync(MidnightRunner)).ConsecutiveFailures);
        AssertNow((await ReadingAsync(MidnightRunner)).DataAt);
    }

    [Fact]
    public async Task NullsAndMissingFieldsKeepWhatTeslaDidNotSayAndUnknownFieldsAreIgnored()
    {
        await ConnectAliceAndBobAsync();
        await PollAccountsAsync();
        var good = await ReadingAsync(MidnightRunner);
        Assert.Equal("D", good.ShiftState);
        using (var control = Simulator.CreateControlClient())
        {
            var shape = await control.PutAsJsonAsync($"/_sim/vehicles/{MidnightRunner}/vehicle-data-shape", new
            {
                like = "vehicle_data_alt", // its nulls, its missing fields, "minutes_to_full_charge": "bad value"
                nulls = new[] { "charge_state.battery_level", "charge_state.battery_range", "vehicle_state.odometer", "climate_state.inside_temp", "drive_state.shift_state", "drive_state.speed" },
                omit = new[] { "vehicle_state.locked", "vehicle_state.sentry_mode", "vehicle_state.is_user_present", "climate_state.outside_temp", "climate_state.is_climate_on", "drive_state.power", "vehicle_config" },
                extra = new Dictionary<string, object>
                {
                    ["charge_state.battery_level_v2"] = 12, ["drive_state.autopilot_state"] = new { engaged = true }, ["brand_new_section"] = new { x = 1 },
                },
            }, Ct);
            Assert.Equal(System.Net.HttpStatusCode.NoContent, shape.StatusCode);
        }

        Time.Advance(good.NextPollAt - Time.GetUtcNow());
        await PollAccountsAsync();

        var odd = await ReadingAsync(MidnightRunner);
        Assert.Equal(0, odd.ConsecutiveFailures); // a reading, not a failure
        AssertNow(odd.DataAt);
        // Gaps: what a car always has stays at its last good value.
        Assert.Equal(good.BatteryLevel, odd.BatteryLevel);
        Assert.Equal(good.BatteryRangeMiles, odd.BatteryRangeMiles);
        Assert.Equal(good.OdometerMiles, odd.OdometerMiles);
        Assert.Equal(good.InsideTempC, odd.InsideTempC);
        Assert.Equal(good.OutsideTempC, odd.OutsideTempC);
        Assert.Equal(good.Locked, odd.Locked);
        Assert.Equal(good.CarType, odd.CarType);
        Assert.Equal((good.SentryMode, good.UserPresent, good.ClimateOn, good.PowerKw), (odd.SentryMode, odd.UserPresent, odd.ClimateOn, odd.PowerKw));
        // Tesla's own nulls: no gear and no speed is a parked car.
        Assert.Null(odd.ShiftState);
        Assert.Null(odd.SpeedMph);
        var metrics = await ScrapeMetricsAsync(ApiKey);
        Assert.Matches($"tesla_vehicle_battery_level_percent\\{{[^}}]*vin=\"{MidnightRunner}\"[^}}]*\\}} {good.BatteryLevel}\n", metrics);
        Assert.Equal(0, await FailuresInMetricsAsync("malformed", 200));

        using (var control = Simulator.CreateControlClient())
        {
            (await control.DeleteAsync($"/_sim/vehicles/{MidnightRunner}/vehicle-data-shape", Ct)).EnsureSuccessStatusCode();
        }
        Time.Advance((await ReadingAsync(MidnightRunner)).NextPollAt - Time.GetUtcNow());
        await PollAccountsAsync();
        var back = await ReadingAsync(MidnightRunner);
        Assert.Equal("D", back.ShiftState);
        Assert.True(back.OdometerMiles >= good.OdometerMiles);
    }
}
