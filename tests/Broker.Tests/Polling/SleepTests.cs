using System.Net.Http.Json;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Polling;

/// <summary>The promise that matters most to owners: Broker lets an idle car sleep.</summary>
public sealed class SleepTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string BlueYonder = "7SAYGDEE5PA114587";

    protected override bool ShareClockWithSimulator => true;

    [Fact]
    public async Task ParkedCarLeftAloneFallsAsleepAndIsNotWokenAgain()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        using (var control = Simulator.CreateControlClient())
        {
            var parked = await control.PostAsync($"/_sim/vehicles/{BlueYonder}/state",
                JsonContent.Create(new { state = "online" }), Ct);
            parked.EnsureSuccessStatusCode();
        }
        await ResetSimCallsAsync();

        await RunScheduleAsync(TimeSpan.FromHours(2));

        Assert.Equal("asleep", await VehicleStateAsync());
        var calls = (await SimCallsAsync()).Where(c => c.Device == BlueYonder).ToList();
        Assert.DoesNotContain(calls, c => c.Category == "wake");
        // Read while it might be in use (15 min at 2 min), then left alone: a handful of billed
        // calls in two hours instead of one a minute.
        Assert.InRange(calls.Where(c => c.Category == "data").Sum(c => c.Count), 5, 12);
    }

    /// <summary>Does what the Quartz trigger would: polls whenever the account is due, on the shared clock.</summary>
    private async Task RunScheduleAsync(TimeSpan span)
    {
        var end = Time.GetUtcNow() + span;
        while (Time.GetUtcNow() < end)
        {
            await using (var db = Broker.CreateDbContext())
            {
                var due = await db.VehicleReadings.Select(r => r.NextPollAt).ToListAsync(Ct);
                if (due.Count == 0 || due.Min() <= Time.GetUtcNow())
                {
                    await PollAccountsAsync();
                }
            }
            Time.Advance(TimeSpan.FromSeconds(15));
        }
    }

    private async Task<string> VehicleStateAsync()
    {
        await using var db = Broker.CreateDbContext();
        var id = await db.Vehicles.Where(v => v.Vin == BlueYonder).Select(v => v.Id).SingleAsync(Ct);
        return await db.VehicleReadings.Where(r => r.VehicleId == id).Select(r => r.State).SingleAsync(Ct);
    }
}
