using Broker.Tests.Infrastructure;

namespace Broker.Tests.Faults;

/// <summary>
/// Storms of 429 and 5xx while two accounts are polled (single answers are in Polling/PollingBehaviourTests).
/// What must hold throughout: the broker serves, stored readings and tokens stay as they were, the
/// failures are counted in /metrics, no account is sent to reconnect, and polling recovers by itself.
/// </summary>
public sealed class TeslaStormTests(PostgresServer postgres) : FaultsTestBase(postgres)
{
    [Fact]
    public async Task RateLimitStormIsWaitedOutDeviceByDeviceWithNoCallBeforeRetryAfter()
    {
        await ConnectAliceAndBobAsync();
        await PollAccountsAsync();
        var tokens = await TokenCiphersAsync();
        // Three 429s in a row for one car, two for the other and for the Powerwall, each with its own Retry-After.
        var retryAfter = new Dictionary<(string Device, string Category), TimeSpan>
        {
            [(MidnightRunner, "data")] = TimeSpan.FromSeconds(240),
            [(BlueYonder, "data")] = TimeSpan.FromSeconds(600),
            [(AlicesHome.ToString(), "energy")] = TimeSpan.FromSeconds(420),
        };
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{MidnightRunner}/vehicle_data", status = 429, count = 3, retryAfterSeconds = 240 });
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{BlueYonder}/vehicle_data", status = 429, count = 2, retryAfterSeconds = 600 });
        await AddSimFaultAsync(new { path = $"/api/1/energy_sites/{AlicesHome}/live_status", status = 429, count = 2, retryAfterSeconds = 420 });
        await ResetSimCallsAsync();

        var seen = retryAfter.Keys.ToDictionary(k => k, _ => (Calls: 0L, Refused: 0L));
        var blockedUntil = retryAfter.Keys.ToDictionary(k => k, _ => DateTimeOffset.MinValue);
        var step = 0;
        await RunAsync(TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(15), async () =>
        {
            var calls = await SimCallsAsync();
            foreach (var key in retryAfter.Keys)
            {
                var now = (Calls: calls.Where(c => c.Device == key.Device && c.Category == key.Category).Sum(c => c.Count),
                           Refused: calls.Where(c => c.Device == key.Device && c.Category == key.Category && c.Status == 429).Sum(c => c.Count));
                if (now.Calls > seen[key].Calls)
                {
                    Assert.True(Time.GetUtcNow() >= blockedUntil[key],
                        $"{key} was called at {Time.GetUtcNow():T}, before its Retry-After ran out at {blockedUntil[key]:T}");
                }
                if (now.Refused > seen[key].Refused)
                {
                    blockedUntil[key] = Time.GetUtcNow() + retryAfter[key];
                }
                seen[key] = now;
            }
            if (step++ % 8 == 0)
            {
                await AssertServingAsync();
            }
        });

        Assert.Equal(0, await PendingSimFaultsAsync()); // every 429 was met, and waited out
        Assert.Equal(3, await DeviceCallsAsync(MidnightRunner, "data", 429));
        Assert.True(await DeviceCallsAsync(MidnightRunner, "data", 200) > 20, "the car is read at its driving interval again");
        Assert.True(await DeviceCallsAsync(BlueYonder, "data", 200) > 5, "the charging car is read again");
        Assert.True(await DeviceCallsAsync(AlicesHome.ToString(), "energy", 200) > 5, "the Powerwall is read again");
        Assert.True((await SimCallsAsync("bob@example.com")).Sum(c => c.Count) > 20, "Bob's account was polled on its own schedule throughout");
        Assert.Equal(0, (await ReadingAsync(MidnightRunner)).ConsecutiveFailures);
        Assert.Equal(7, await FailuresInMetricsAsync("rate_limited", 429));
        Assert.Equal(tokens, await TokenCiphersAsync());
        await AssertAccountsActiveAsync();
        await AssertServingAsync();
    }

    [Fact]
    public async Task ServerErrorStormIsRetriedBackedOffAndRecoveredFromWithoutLosingReadings()
    {
        await ConnectAliceAndBobAsync();
        await PollAccountsAsync();
        var good = await ReadingAsync(MidnightRunner);
        var before = DataOf(good);
        var siteBefore = (await SiteReadingAsync(AlicesHome)).DataAt;
        var tokens = await TokenCiphersAsync();
        // Tesla down for both cars; a CDN answering for the Powerwall with its own HTML error page.
        const string cdnPage = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudfront</center></body></html>";
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{MidnightRunner}/vehicle_data", status = 503, count = 1000 });
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{BlueYonder}/vehicle_data", status = 500, count = 1000 });
        await AddSimFaultAsync(new { path = $"/api/1/energy_sites/{AlicesHome}/live_status", status = 502, count = 1000, body = cdnPage });
        await ResetSimCallsAsync();

        var step = 0;
        await RunAsync(TimeSpan.FromMinutes(20), TimeSpan.FromSeconds(15), async () =>
        {
            if (step++ % 8 == 0)
            {
                await AssertServingAsync();
            }
        });

        // Each failed read is tried three times (two jittered retries), then the device backs off
        // exponentially: at a driving car's 30 s that would have been 40 reads in 20 minutes.
        var failed503 = await DeviceCallsAsync(MidnightRunner, "data", 503);
        Assert.Equal(0, failed503 % 3);
        Assert.InRange(failed503 / 3, 4, 8);
        Assert.InRange(await DeviceCallsAsync(BlueYonder, "data", 500) / 3, 4, 8);
        Assert.InRange(await DeviceCallsAsync(AlicesHome.ToString(), "energy", 502) / 3, 3, 8);
        var stormy = await ReadingAsync(MidnightRunner);
        Assert.True(stormy.ConsecutiveFailures >= 4, $"{stormy.ConsecutiveFailures} failures in a row recorded");
        Assert.True(stormy.NextPollAt - Time.GetUtcNow() >= TimeSpan.FromMinutes(1), "the car is left alone for a while");
        Assert.Equal(before, DataOf(stormy)); // the last good reading stands
        Assert.Equal(siteBefore, (await SiteReadingAsync(AlicesHome)).DataAt);
        Assert.Equal(failed503, await FailuresInMetricsAsync("server_error", 503));
        Assert.Equal(await DeviceCallsAsync(BlueYonder, "data", 500), await FailuresInMetricsAsync("server_error", 500));
        Assert.Equal(await DeviceCallsAsync(AlicesHome.ToString(), "energy", 502), await FailuresInMetricsAsync("server_error", 502));
        Assert.Equal(tokens, await TokenCiphersAsync());
        await AssertAccountsActiveAsync();

        // Tesla is back: within the longest back-off (15 minutes, plus jitter) every device is read again.
        await ClearSimFaultsAsync();
        await RunAsync(TimeSpan.FromMinutes(20), TimeSpan.FromSeconds(15));
        var recovered = await ReadingAsync(MidnightRunner);
        Assert.Equal(0, recovered.ConsecutiveFailures);
        Assert.True(recovered.DataAt > good.DataAt, "a fresh reading after the storm");
        Assert.Equal(0, (await ReadingAsync(BlueYonder)).ConsecutiveFailures);
        Assert.True((await SiteReadingAsync(AlicesHome)).DataAt > siteBefore);
        await AssertServingAsync();
    }
}
