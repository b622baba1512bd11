using System.Net.Http.Json;
using Broker.Polling;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Polling;

/// <summary>How polling treats Tesla's answers, through the real poller against the simulator.</summary>
public sealed class PollingBehaviourTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string MidnightRunner = "5YJ3E1EA7PF381204";
    private const string Nachtfalke = "XP7YGCEK1PB209361";

    [Fact]
    public async Task SleepingCarIsWatchedThroughTheListAndNeverAskedForData()
    {
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");
        await ResetSimCallsAsync();

        await PollAccountsAsync();
        Time.Advance(TimeSpan.FromMinutes(5));
        await PollAccountsAsync();

        var calls = await SimCallsAsync();
        Assert.DoesNotContain(calls, c => c.Category is "data" or "wake");
        Assert.Contains(calls, c => c.Category == "meta");
        var reading = await ReadingAsync(Nachtfalke);
        Assert.Equal("asleep", reading.State);
        Assert.Null(reading.DataAt);
    }

    [Fact]
    public async Task TenantThatAllowsWakingGetsASleepingCarWokenAfterItsWindowOnly()
    {
        var policy = await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = 30 }, Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, policy.StatusCode);
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");
        await ResetSimCallsAsync();

        for (var minute = 0; minute <= 29; minute++)
        {
            await PollAccountsAsync();
            Time.Advance(TimeSpan.FromMinutes(1));
        }
        Assert.DoesNotContain(await SimCallsAsync(), c => c.Category == "wake");

        Time.Advance(TimeSpan.FromMinutes(1));
        await PollAccountsAsync();
        Assert.Equal(1, (await SimCallsAsync()).Where(c => c.Category == "wake" && c.Device == Nachtfalke).Sum(c => c.Count));
    }

    [Fact]
    public async Task WakePolicyOutsideItsRangeIsRefusedWithAProblem()
    {
        var response = await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = 0 }, Ct);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Null((await GetJsonAsync<global::Broker.Tenants.PolicyResponse>(ApiKey, "/api/v1/policy")).WakeAfterSleepMinutes);
    }

    [Fact]
    public async Task A408IsAsleepNotAnError()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{MidnightRunner}/vehicle_data", status = 408 });

        await PollAccountsAsync();

        var reading = await ReadingAsync(MidnightRunner);
        Assert.Equal("asleep", reading.State);
        Assert.Equal(0, reading.ConsecutiveFailures);
        Assert.Null(reading.LastError);
    }

    [Fact]
    public async Task A429IsWaitedOutWithNoCallToThatCarBeforeRetryAfter()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{MidnightRunner}/vehicle_data", status = 429, retryAfterSeconds = 3600 });
        await ResetSimCallsAsync();

        await PollAccountsAsync();
        var reading = await ReadingAsync(MidnightRunner);
        Assert.Equal(Time.GetUtcNow().AddHours(1), reading.RetryAfter!.Value, TimeSpan.FromSeconds(2));

        for (var i = 0; i < 10; i++)
        {
            Time.Advance(TimeSpan.FromMinutes(5));
            await PollAccountsAsync();
        }
        Assert.Equal(1, await DataCallsAsync(MidnightRunner)); // only the call that was refused
        Assert.True(await DataCallsAsync("7SAYGDEE5PA114587") > 1, "the other car is not held back");

        Time.Advance(TimeSpan.FromMinutes(11));
        await PollAccountsAsync();
        Assert.Equal(2, await DataCallsAsync(MidnightRunner));
    }

    [Fact]
    public async Task ServerErrorsAreRetriedUnbilledThenBackedOff()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{MidnightRunner}/vehicle_data", status = 503, count = 3 });
        await ResetSimCallsAsync();

        await PollAccountsAsync();

        var calls = (await SimCallsAsync()).Where(c => c.Device == MidnightRunner && c.Category == "data").ToList();
        Assert.True(3 == calls.Where(c => c.Status == 503).Sum(c => c.Count), // first try + two jittered retries
            string.Join('\n', calls) + string.Join('\n', Broker.Logs.Lines.Where(l => l.Contains("Polly") || l.Contains("503") || l.StartsWith("Warn"))));
        var reading = await ReadingAsync(MidnightRunner);
        Assert.Equal(1, reading.ConsecutiveFailures);
        Assert.True(reading.NextPollAt > Time.GetUtcNow().AddSeconds(10), "backed off before asking again");
        await using var db = Broker.CreateDbContext();
        var usage = await db.ApiUsage.Where(u => u.Category == "data").ToListAsync(Ct);
        Assert.Equal(3, usage.Single(u => !u.Billable).Calls);
        Assert.Equal(0m, usage.Single(u => !u.Billable).CostUsd);
    }

    [Fact]
    public async Task WrongRegionFollowsTheBaseUrlTeslaNames()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await using (var db = Broker.CreateDbContext())
        {
            await db.TeslaAccounts.ExecuteUpdateAsync(s => s.SetProperty(a => a.FleetApiBaseUrl, SimulatorHost.EuBase), Ct);
        }

        await PollAccountsAsync();

        await using var check = Broker.CreateDbContext();
        Assert.Equal(SimulatorHost.NaBase, await check.TeslaAccounts.Select(a => a.FleetApiBaseUrl).SingleAsync(Ct));
        Assert.NotNull((await ReadingAsync(MidnightRunner)).DataAt);
    }

    [Fact]
    public async Task CarsAreReadAtTheirOwnIntervals()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await ResetSimCallsAsync();

        for (var second = 0; second < 300; second += 15)
        {
            if (await NextDueAsync() <= Time.GetUtcNow())
            {
                await PollAccountsAsync();
            }
            Time.Advance(TimeSpan.FromSeconds(15));
        }

        // Five minutes: driving every 45 s (0, 45, … 270), charging every 60 s.
        Assert.InRange(await DataCallsAsync(MidnightRunner), 6, 8);
        Assert.InRange(await DataCallsAsync("7SAYGDEE5PA114587"), 4, 6);
    }

    private async Task<DateTimeOffset> NextDueAsync()
    {
        await using var db = Broker.CreateDbContext();
        var vehicles = await db.VehicleReadings.Select(r => r.NextPollAt).ToListAsync(Ct);
        return vehicles.Count == 0 ? DateTimeOffset.MinValue : vehicles.Min();
    }

    private async Task<long> DataCallsAsync(string vin) =>
        (await SimCallsAsync()).Where(c => c.Device == vin && c.Category == "data").Sum(c => c.Count);

    private async Task<VehicleReading> ReadingAsync(string vin)
    {
        await using var db = Broker.CreateDbContext();
        var vehicleId = await db.Vehicles.Where(v => v.Vin == vin).Select(v => v.Id).SingleAsync(Ct);
        return await db.VehicleReadings.SingleAsync(r => r.VehicleId == vehicleId, Ct);
    }
}
