using System.Net.Http.Json;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Polling;

/// <summary>The small ones: a short page that names a next one, a 421 for the rest of a poll, model names, waking without the scope.</summary>
public sealed class TeslaDetailsTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Nachtfalke = "XP7YGCEK1PB209361"; // bob's car, asleep

    // A Tesla whose pages hold one car whatever per_page asks: the short first page still names a next one.
    protected override Dictionary<string, string?> SimulatorSettings => new() { ["Simulator:MaxVehiclesPerPage"] = "1" };

    [Fact]
    public async Task AShortPageThatNamesANextPageIsFollowed()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        await PollAccountsAsync();

        await using var db = Broker.CreateDbContext();
        var seen = await (from r in db.VehicleReadings join v in db.Vehicles on r.VehicleId equals v.Id select new { v.Vin, r.LastSeenAt }).ToListAsync(Ct);
        Assert.Equal(2, seen.Count);
        Assert.All(seen, s => Assert.NotNull(s.LastSeenAt)); // both cars listed, not just the first page's
    }

    [Fact]
    public async Task AfterA421TheRestOfThePollGoesToTheRegionTeslaNamed()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo"); // alice lives in NA
        await using (var db = Broker.CreateDbContext())
        {
            await db.TeslaAccounts.ExecuteUpdateAsync(s => s.SetProperty(a => a.FleetApiBaseUrl, SimulatorHost.EuBase), Ct);
        }
        await ResetSimCallsAsync();

        await PollAccountsAsync();
        Time.Advance(TimeSpan.FromMinutes(3));
        await PollAccountsAsync();

        Assert.Equal(1, (await SimCallsAsync()).Where(c => c.Status == 421).Sum(c => c.Count));
        await using var check = Broker.CreateDbContext();
        Assert.Equal(SimulatorHost.NaBase, (await check.TeslaAccounts.SingleAsync(Ct)).FleetApiBaseUrl);
    }

    [Fact]
    public async Task VehiclesAreNamedByTheModelPeopleKnowBesideTeslasCarType()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();

        var metrics = await ScrapeMetricsAsync(ApiKey);

        Assert.Contains("model=\"Model 3\",car_type=\"model3\"", metrics);
        Assert.Contains("model=\"Model Y\",car_type=\"modely\"", metrics);
    }

    [Theory]
    [InlineData("models2", "5YJSA1E20LF000001", "Model S")]
    [InlineData("lychee", "5YJSA7E50PF000001", "Model S")]
    [InlineData("tamarind", "7SAXCBE60PF000001", "Model X")]
    [InlineData("model3", "5YJ3E1EA7PF381204", "Model 3")]
    [InlineData(null, "7G2CEHED4RA000001", "Cybertruck")]
    [InlineData(null, "5YJYGDEE5MF000001", "Model Y")]
    [InlineData("something-new", "WXX0000000000000", "")]
    public void ModelNamesFollowCarTypeThenTheVin(string? carType, string vin, string expected) =>
        Assert.Equal(expected, global::Broker.Metrics.VehicleModels.Name(carType, vin));

    [Fact]
    public async Task ATenantThatWakesNeverWakesAnAccountThatDidNotGrantVehicleCmds()
    {
        (await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = 30 }, Ct)).EnsureSuccessStatusCode();
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo",
            ["openid", "offline_access", "vehicle_device_data", "vehicle_location", "energy_device_data"]);
        await ResetSimCallsAsync();

        for (var minute = 0; minute <= 40; minute++)
        {
            await PollAccountsAsync();
            Time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.DoesNotContain(await SimCallsAsync(), c => c.Category == "wake" && c.Device == Nachtfalke);
    }
}
