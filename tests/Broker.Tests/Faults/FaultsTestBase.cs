using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Broker.Accounts;
using Broker.Polling;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Faults;

/// <summary>Alice (two cars, a Powerwall) and Bob (one sleeping car) polled on test time while Tesla misbehaves.</summary>
public abstract class FaultsTestBase(PostgresServer postgres) : BrokerTestBase(postgres)
{
    protected const string MidnightRunner = "5YJ3E1EA7PF381204"; // alice, driving
    protected const string BlueYonder = "7SAYGDEE5PA114587";     // alice, charging
    protected const string Nachtfalke = "XP7YGCEK1PB209361";     // bob, asleep
    protected const long AlicesHome = 2252179001;

    /// <summary>The simulator's own per-device rate limits (60 reads a minute) count test time, not the machine's.</summary>
    protected override bool ShareClockWithSimulator => true;

    protected async Task ConnectAliceAndBobAsync()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");
    }

    /// <summary>/healthz, /readyz, /metrics (tenant and operator) and the tenant API all answer 200.</summary>
    protected async Task AssertServingAsync()
    {
        var anonymous = Broker.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ApiClient(ApiKey).GetAsync("/metrics", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ApiClient(BrokerApplication.OperatorToken).GetAsync("/metrics", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ApiClient(ApiKey).GetAsync("/api/v1/accounts", Ct)).StatusCode);
    }

    /// <summary>Moves test time in steps, polling whenever a device is due, the way the scheduler would.</summary>
    protected async Task RunAsync(TimeSpan duration, TimeSpan step, Func<Task>? afterEachStep = null)
    {
        for (var elapsed = TimeSpan.Zero; elapsed < duration; elapsed += step)
        {
            if (await NextDueAsync() <= Time.GetUtcNow())
            {
                await PollAccountsAsync();
            }
            if (afterEachStep is not null)
            {
                await afterEachStep();
            }
            Time.Advance(step);
        }
    }

    protected async Task<DateTimeOffset> NextDueAsync()
    {
        await using var db = Broker.CreateDbContext();
        var vehicles = await db.VehicleReadings.Select(r => r.NextPollAt).ToListAsync(Ct);
        var sites = await db.EnergySiteReadings.Select(r => r.NextPollAt).ToListAsync(Ct);
        return vehicles.Concat(sites).DefaultIfEmpty(DateTimeOffset.MinValue).Min();
    }

    protected async Task<VehicleReading> ReadingAsync(string vin)
    {
        await using var db = Broker.CreateDbContext();
        var vehicleId = await db.Vehicles.Where(v => v.Vin == vin).Select(v => v.Id).SingleAsync(Ct);
        return await db.VehicleReadings.AsNoTracking().SingleAsync(r => r.VehicleId == vehicleId, Ct);
    }

    protected async Task<EnergySiteReading> SiteReadingAsync(long energySiteId)
    {
        await using var db = Broker.CreateDbContext();
        var id = await db.EnergySites.Where(s => s.EnergySiteId == energySiteId).Select(s => s.Id).SingleAsync(Ct);
        return await db.EnergySiteReadings.AsNoTracking().SingleAsync(r => r.EnergySiteId == id, Ct);
    }

    /// <summary>Calls the simulator counted for one device (a VIN or an energy site id), optionally with one status.</summary>
    protected async Task<long> DeviceCallsAsync(string device, string category, int? status = null) =>
        (await SimCallsAsync()).Where(c => c.Device == device && c.Category == category && (status is null || c.Status == status)).Sum(c => c.Count);

    protected async Task AssertAccountsActiveAsync()
    {
        await using var db = Broker.CreateDbContext();
        Assert.All(await db.TeslaAccounts.ToListAsync(Ct), a => Assert.Equal(AccountStatus.Active, a.Status));
    }

    /// <summary>The stored token envelopes, to show a storm never touched them.</summary>
    protected async Task<List<string>> TokenCiphersAsync()
    {
        await using var db = Broker.CreateDbContext();
        return (await db.TeslaTokens.OrderBy(t => t.AccountId).ToListAsync(Ct))
            .Select(t => Convert.ToBase64String(t.AccessTokenCipher) + "/" + Convert.ToBase64String(t.RefreshTokenCipher ?? [])).ToList();
    }

    /// <summary><c>tesla_broker_api_failures_total</c> for the tenant, summed over accounts, for a reason and status.</summary>
    protected async Task<double> FailuresInMetricsAsync(string reason, int status)
    {
        var text = await ScrapeMetricsAsync(ApiKey);
        var pattern = new Regex($"^tesla_broker_api_failures_total\\{{[^}}]*reason=\"{reason}\",status=\"{status}\"\\}} (\\S+)$", RegexOptions.Multiline);
        return pattern.Matches(text).Sum(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    protected async Task ClearSimFaultsAsync()
    {
        using var control = Simulator.CreateControlClient();
        (await control.DeleteAsync("/_sim/faults", Ct)).EnsureSuccessStatusCode();
    }

    protected async Task<int> PendingSimFaultsAsync()
    {
        using var control = Simulator.CreateControlClient();
        return (await control.GetFromJsonAsync<List<object>>("/_sim/faults", Ct))!.Count;
    }

    /// <summary>Postgres keeps microseconds; the test clock has ticks.</summary>
    protected void AssertNow(DateTimeOffset? at) =>
        Assert.True(at is { } t && (t - Time.GetUtcNow()).Duration() < TimeSpan.FromMilliseconds(1), $"expected about {Time.GetUtcNow():O}, got {at:O}");

    /// <summary>What a reading says about the car, without the polling bookkeeping, for before/after comparisons.</summary>
    protected static object DataOf(VehicleReading r) => new
    {
        r.DataAt, r.BatteryLevel, r.UsableBatteryLevel, r.BatteryRangeMiles, r.ChargingState, r.ChargerPowerKw, r.ChargeLimitSoc,
        r.ChargeEnergyAddedKwh, r.OdometerMiles, r.InsideTempC, r.OutsideTempC, r.Locked, r.SentryMode, r.ShiftState, r.SpeedMph,
        r.PowerKw, r.Latitude, r.Longitude, r.Heading, r.UserPresent, r.ClimateOn, r.Preconditioning, r.DoorsOpen, r.CarType, r.FirmwareVersion,
    };
}
