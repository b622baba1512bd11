using System.Net.Http.Json;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Polling;

/// <summary>
/// Accounts gain and lose cars and sites after they connect. Devices were once found only at connect: a new car was
/// never polled, and a sold one was called (and billed) for ever.
/// </summary>
public sealed class DeviceChangesTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string BlueYonder = "7SAYGDEE5PA114587";
    private const string NewCar = "LRWYGCEK7RC900001";

    [Fact]
    public async Task CarsAndSitesTheAccountGainsOrLosesAtTeslaArePolledOrRetiredWithinADay()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsJsonAsync("/_sim/accounts/alice@example.com/vehicles", Car(NewCar), Ct)).EnsureSuccessStatusCode();
            (await control.DeleteAsync($"/_sim/accounts/alice@example.com/vehicles/{BlueYonder}", Ct)).EnsureSuccessStatusCode();
            (await control.PostAsJsonAsync("/_sim/accounts/alice@example.com/energy-sites", SolarOnlySite(2252179777), Ct)).EnsureSuccessStatusCode();
        }

        Time.Advance(TimeSpan.FromHours(1));
        await PollAccountsAsync();
        var early = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.DoesNotContain(early.Vehicles, v => v.Vin == NewCar); // the products list is read about daily, not every poll

        Time.Advance(TimeSpan.FromHours(24));
        await PollAccountsAsync();
        await ResetSimCallsAsync();
        Time.Advance(TimeSpan.FromMinutes(3));
        await PollAccountsAsync();

        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Null(Assert.Single(account.Vehicles, v => v.Vin == NewCar).RetiredAt);
        Assert.NotNull(Assert.Single(account.Vehicles, v => v.Vin == BlueYonder).RetiredAt);
        Assert.Contains(account.EnergySites, s => s.EnergySiteId == 2252179777 && s.RetiredAt is null);
        var calls = await SimCallsAsync();
        Assert.DoesNotContain(calls, c => c.Device == BlueYonder);
        Assert.Contains(calls, c => c.Device == NewCar);
        var metrics = await ScrapeMetricsAsync(ApiKey);
        Assert.Contains($"vin=\"{NewCar}\"", metrics);
        Assert.DoesNotContain($"vin=\"{BlueYonder}\"", metrics);

        // The car comes back (bought back, re-added to the account): it is polled again under its old row.
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsJsonAsync("/_sim/accounts/alice@example.com/vehicles", Car(BlueYonder, "Blue Yonder"), Ct)).EnsureSuccessStatusCode();
        }
        Time.Advance(TimeSpan.FromHours(25));
        await PollAccountsAsync();
        var back = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Null(Assert.Single(back.Vehicles, v => v.Vin == BlueYonder).RetiredAt);
        await using var db = Broker.CreateDbContext();
        Assert.Equal(1, await db.Vehicles.CountAsync(v => v.Vin == BlueYonder, Ct));
    }

    [Fact]
    public async Task AReconnectRetiresWhatTheAccountNoLongerHasAtOnce()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var before = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        using (var control = Simulator.CreateControlClient())
        {
            (await control.DeleteAsync($"/_sim/accounts/alice@example.com/vehicles/{BlueYonder}", Ct)).EnsureSuccessStatusCode();
        }
        var link = await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{before.Id}/reconnect-links", null, Ct);
        var url = (await link.Content.ReadFromJsonAsync<ReconnectLinkResponse>(Ct))!.Url;

        await NewUser().ConnectAsync(url.Split('/')[^1], "alice@example.com", "alice-demo");

        var after = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.NotNull(Assert.Single(after.Vehicles, v => v.Vin == BlueYonder).RetiredAt);
    }

    /// <summary>
    /// Found by the outside test: polling pushed an account without the data scope an hour out, and a reconnect that granted
    /// it left the cars waiting for that hour. Withdrawn location leaves storage and /metrics at the reconnect.
    /// </summary>
    [Fact]
    public async Task AReconnectWithMoreScopesPollsAtOnceAndOneWithFewerDropsWhatTheyCovered()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo", ["openid", "offline_access", "energy_device_data"]);
        await PollAccountsAsync();
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await ResetSimCallsAsync();

        await PollAccountsAsync();

        Assert.Contains(await SimCallsAsync("alice@example.com"), c => c.Category == "data" && c.Status == 200);
        Assert.Matches("tesla_vehicle_latitude_degrees\\{", await ScrapeMetricsAsync(ApiKey));

        // The owner takes location back at the next reconnect: it is gone from storage and /metrics before any poll.
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo", ["openid", "offline_access", "vehicle_device_data", "energy_device_data"]);
        Assert.DoesNotMatch("tesla_vehicle_latitude_degrees\\{", await ScrapeMetricsAsync(ApiKey));
        await using var db = Broker.CreateDbContext();
        Assert.All(await db.VehicleReadings.ToListAsync(Ct), r => Assert.Null(r.Latitude));
    }

    /// <summary>A car in the simulator's seed shape (State/Seed.cs), parked and awake.</summary>
    internal static object Car(string vin, string name = "New arrival") => new
    {
        id = 3_744_291_018_500_000L + vin.GetHashCode() % 1000, vehicleId = 1_492_940_000L + Math.Abs(vin.GetHashCode() % 1000), vin, displayName = name,
        carType = "modely", exteriorColor = "PearlWhite", state = "online", batteryLevel = 77, chargeLimit = 80, odometer = 1200.5,
        latitude = 37.39, longitude = -122.08, heading = 90, pluggedIn = false,
    };

    /// <summary>A site with panels and no battery (BatteryCount 0): answers as TeslaPy#96's real solar-only site did.</summary>
    internal static object SolarOnlySite(long id) => new
    {
        energySiteId = id, id = $"STE2022{id}", siteName = "Garage roof", gatewayId = "", assetSiteId = Guid.NewGuid().ToString(),
        batteryCount = 0, percentageCharged = 0, solarPeakWatts = 6000, baseLoadWatts = 0, utcOffsetHours = -7.0,
        timeZone = "America/Los_Angeles", backupReservePercent = 0, installationDate = "2022-05-01T00:00:00-07:00",
    };
}
