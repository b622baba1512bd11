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

    // Partial answers (nulls, missing sections, extra fields) are readings with gaps: Polling/PartialAnswersTests.
}
