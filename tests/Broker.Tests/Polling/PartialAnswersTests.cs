using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Polling;

/// <summary>
/// Real vehicle_data and live_status answers are partial (docs/tesla-confirmed.md §6-7). A null or missing field is not a
/// reading: its series leaves /metrics instead of repeating an old value under a new timestamp; a null gear is not P; an
/// asleep car is not still driving; a site without a battery has no battery series.
/// </summary>
public sealed class PartialAnswersTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string MidnightRunner = "5YJ3E1EA7PF381204"; // alice's car, driving in the demo fleet
    private const string BlueYonder = "7SAYGDEE5PA114587";     // alice's car, charging
    private static readonly string[] WithoutLocation = ["openid", "offline_access", "vehicle_device_data", "energy_device_data"];

    // The Tesla before 2026 (drive_state sent without location too), so the real 2024 fragment can stand in for it.
    protected override Dictionary<string, string?> SimulatorSettings => new() { ["Simulator:DriveStateNeedsLocationScope"] = "false" };

    [Fact]
    public async Task AParkedCarWithoutLocationDataHasNoGearAndNoSpeedInTheMetrics()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo", WithoutLocation);
        // A real parked car's drive_state without location_data (timdorr/tesla-api#786): power 0, shift_state and speed null.
        await ShapeAsync(BlueYonder, new { extra = new Dictionary<string, JsonNode?> { ["drive_state"] = RealTesla.Node("vehicle_data_drive_state_parked_no_location_fragment_timdorr786.json")["drive_state"] } });

        await PollAccountsAsync();

        var metrics = await ScrapeMetricsAsync(ApiKey);
        Assert.Contains($"tesla_vehicle_data_timestamp_seconds{{tenant=\"household\",account=", metrics);
        Assert.DoesNotMatch($"tesla_vehicle_shift_state\\{{[^}}]*vin=\"{BlueYonder}\"", metrics); // not "P": Tesla did not say
        Assert.DoesNotMatch($"tesla_vehicle_speed_meters_per_second\\{{[^}}]*vin=\"{BlueYonder}\"", metrics); // not 0
        Assert.Matches($"tesla_vehicle_battery_level_percent\\{{[^}}]*vin=\"{BlueYonder}\"", metrics);
    }

    [Fact]
    public async Task NullsAndMissingSectionsLeaveTheirSeriesOutWhileTheRestIsFresh()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        Assert.Matches($"tesla_vehicle_odometer_meters\\{{[^}}]*vin=\"{MidnightRunner}\"", await ScrapeMetricsAsync(ApiKey));
        await ShapeAsync(MidnightRunner, new
        {
            nulls = new[] { "charge_state.battery_level", "vehicle_state.odometer", "climate_state.inside_temp", "drive_state.shift_state", "drive_state.speed" },
            omit = new[] { "vehicle_config", "climate_state.outside_temp", "vehicle_state.locked" },
        });

        Time.Advance(TimeSpan.FromMinutes(3));
        await PollAccountsAsync();

        var metrics = await ScrapeMetricsAsync(ApiKey);
        string Of(string family) => $"{family}\\{{[^}}]*vin=\"{MidnightRunner}\"";
        foreach (var gone in new[] { "tesla_vehicle_battery_level_percent", "tesla_vehicle_odometer_meters", "tesla_vehicle_inside_temperature_celsius",
            "tesla_vehicle_outside_temperature_celsius", "tesla_vehicle_locked", "tesla_vehicle_shift_state", "tesla_vehicle_speed_meters_per_second" })
        {
            Assert.DoesNotMatch(Of(gone), metrics);
        }
        Assert.Matches(Of("tesla_vehicle_battery_range_meters"), metrics); // what Tesla did send is fresh
        // No vehicle_config (old firmware): the model is still named, from what was known and from the VIN.
        Assert.Matches($"tesla_vehicle_info\\{{[^}}]*vin=\"{MidnightRunner}\"[^}}]*model=\"Model 3\",car_type=\"model3\"", metrics);
        await using var db = Broker.CreateDbContext();
        var reading = await db.VehicleReadings.SingleAsync(r => db.Vehicles.Any(v => v.Id == r.VehicleId && v.Vin == MidnightRunner), Ct);
        Assert.Equal(0, reading.ConsecutiveFailures); // a reading, not a failure
    }

    [Fact]
    public async Task ACarThatFellAsleepIsNotStillDrivingInTheMetrics()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        Assert.Matches($"tesla_vehicle_speed_meters_per_second\\{{[^}}]*vin=\"{MidnightRunner}\"", await ScrapeMetricsAsync(ApiKey));
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsJsonAsync($"/_sim/vehicles/{MidnightRunner}/state", new { state = "asleep" }, Ct)).EnsureSuccessStatusCode();
        }

        Time.Advance(TimeSpan.FromMinutes(2));
        await PollAccountsAsync();

        var metrics = await ScrapeMetricsAsync(ApiKey);
        Assert.Matches($"tesla_vehicle_state\\{{[^}}]*vin=\"{MidnightRunner}\",state=\"asleep\"\\}} 1", metrics);
        Assert.DoesNotMatch($"tesla_vehicle_speed_meters_per_second\\{{[^}}]*vin=\"{MidnightRunner}\"", metrics);
        Assert.DoesNotMatch($"tesla_vehicle_shift_state\\{{[^}}]*vin=\"{MidnightRunner}\"", metrics);
    }

    [Fact]
    public async Task ASolarOnlySiteHasSolarAndGridButNoBatterySeries()
    {
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsJsonAsync("/_sim/accounts/alice@example.com/energy-sites", DeviceChangesTests.SolarOnlySite(2252179778), Ct)).EnsureSuccessStatusCode();
        }
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        await PollAccountsAsync();

        var metrics = await ScrapeMetricsAsync(ApiKey);
        string Of(string family, long site) => $"{family}\\{{[^}}]*site=\"{site}\"\\}}";
        Assert.Matches(Of("tesla_energy_site_solar_power_watts", 2252179778), metrics);
        Assert.Matches(Of("tesla_energy_site_grid_power_watts", 2252179778), metrics);
        Assert.DoesNotMatch(Of("tesla_energy_site_battery_level_percent", 2252179778), metrics);
        Assert.DoesNotMatch(Of("tesla_energy_site_battery_power_watts", 2252179778), metrics);
        Assert.Matches(Of("tesla_energy_site_battery_level_percent", 2252179001), metrics); // the Powerwall still has its
    }

    [Theory]
    [InlineData("live_status_solar_only_no_battery_teslapy96.json", false)]
    [InlineData("live_status_no_energy_left_2024_fleetapi_inner_pwdash478.json", true)]
    [InlineData("live_status_no_energy_left_2024_cloud_pwdash478.json", true)]
    [InlineData("live_status_powerwall_with_wall_connector_teslajsonpy342.json", true)]
    public async Task RealLiveStatusAnswersAreReadWhateverTheyLeaveOut(string realBody, bool battery)
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        // The Powerwall's next live_status is the real answer, byte for byte, in Tesla's envelope.
        await AddSimFaultAsync(new { path = "/api/1/energy_sites/2252179001/live_status", status = 200, body = RealTesla.InEnvelope(realBody) });

        await PollAccountsAsync();

        var metrics = await ScrapeMetricsAsync(ApiKey);
        var solar = RealTesla.Response(realBody)["solar_power"]!.GetValue<double>();
        var exported = System.Text.RegularExpressions.Regex.Match(metrics, "tesla_energy_site_solar_power_watts\\{[^}]*site=\"2252179001\"\\} (\\S+)");
        Assert.Equal(solar, double.Parse(exported.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 3);
        Assert.Equal(battery, System.Text.RegularExpressions.Regex.IsMatch(metrics, "tesla_energy_site_battery_level_percent\\{[^}]*site=\"2252179001\"\\}"));
    }

    private async Task ShapeAsync(string vin, object shape)
    {
        using var control = Simulator.CreateControlClient();
        (await control.PutAsJsonAsync($"/_sim/vehicles/{vin}/vehicle-data-shape", shape, Ct)).EnsureSuccessStatusCode();
    }
}
