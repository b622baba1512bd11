using Broker.Polling;

namespace Broker.Tests.Polling;

public sealed class VehiclePolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly PollingOptions Options = new();

    private static VehicleReading Online(Action<VehicleReading>? set = null)
    {
        var r = new VehicleReading { State = "online", StateSince = Now.AddHours(-1), DataAt = Now.AddMinutes(-1), ChargingState = "Disconnected" };
        set?.Invoke(r);
        return r;
    }

    [Fact]
    public void DrivingCarIsReadAtTheDrivingInterval()
    {
        var d = VehiclePolicy.Decide(Online(r => r.ShiftState = "D"), Now, Options);
        Assert.Equal(VehicleAction.VehicleData, d.Action);
        Assert.Equal(Now.AddSeconds(Options.DrivingIntervalSeconds), d.NextPollAt);
    }

    [Fact]
    public void ChargingCarIsReadAtTheChargingInterval()
    {
        var d = VehiclePolicy.Decide(Online(r => (r.ChargingState, r.ChargerPowerKw) = ("Charging", 11)), Now, Options);
        Assert.Equal(VehicleAction.VehicleData, d.Action);
        Assert.Equal(Now.AddSeconds(Options.ChargingIntervalSeconds), d.NextPollAt);
    }

    [Fact]
    public void AsleepCarIsOnlyWatchedThroughTheFreeList()
    {
        var d = VehiclePolicy.Decide(Online(r => r.State = "asleep"), Now, Options);
        Assert.Equal(VehicleAction.None, d.Action);
        Assert.Equal(Now.AddSeconds(Options.ListIntervalSeconds), d.NextPollAt);
    }

    [Fact]
    public void OfflineCountsAsAsleep() =>
        Assert.Equal(VehicleAction.None, VehiclePolicy.Decide(Online(r => r.State = "offline"), Now, Options).Action);

    [Fact]
    public void ParkedCarIsLeftAloneAfterTheIdlePeriodSoItCanSleep()
    {
        var r = Online();
        VehiclePolicy.AfterReading(r, Now.AddMinutes(-20), Options); // idle since 20 minutes ago
        VehiclePolicy.AfterReading(r, Now, Options);

        Assert.Equal(Now.AddMinutes(-20), r.IdleSince);
        // Left alone from 15 idle minutes for 21 more (TeslaMate's rule): until 16 minutes from now.
        Assert.Equal(Now.AddMinutes(-20 + Options.IdleMinutesBeforeSuspend + Options.SuspendMinutes), r.SuspendedUntil);
        var d = VehiclePolicy.Decide(r, Now.AddMinutes(1), Options);
        Assert.Equal(VehicleAction.None, d.Action);
    }

    [Fact]
    public void ParkedCarWithinTheIdlePeriodIsStillRead()
    {
        var r = Online();
        VehiclePolicy.AfterReading(r, Now.AddMinutes(-5), Options);
        Assert.Equal(VehicleAction.VehicleData, VehiclePolicy.Decide(r, Now, Options).Action);
    }

    [Theory]
    [InlineData("user")]
    [InlineData("climate")]
    [InlineData("preconditioning")]
    [InlineData("sentry")]
    [InlineData("update")]
    [InlineData("doors")]
    [InlineData("power")]
    public void CarInUseIsNeverSuspended(string use)
    {
        var r = Online(x =>
        {
            switch (use)
            {
                case "user": x.UserPresent = true; break;
                case "climate": x.ClimateOn = true; break;
                case "preconditioning": x.Preconditioning = true; break;
                case "sentry": x.SentryMode = true; break;
                case "update": x.SoftwareUpdateStatus = "installing"; break;
                case "doors": x.DoorsOpen = true; break;
                case "power": x.PowerKw = 2; break;
            }
        });
        r.IdleSince = Now.AddHours(-2);

        VehiclePolicy.AfterReading(r, Now, Options);

        Assert.Null(r.SuspendedUntil);
        Assert.Equal(VehicleAction.VehicleData, VehiclePolicy.Decide(r, Now, Options).Action);
    }

    [Fact]
    public void CarIsNeverWokenByDefault()
    {
        var r = Online(x => (x.State, x.StateSince) = ("asleep", Now.AddDays(-3)));
        Assert.Equal(VehicleAction.None, VehiclePolicy.Decide(r, Now, Options).Action);
    }

    [Fact]
    public void CarIsWokenOnlyAfterSleepingAsLongAsTheTenantAllows()
    {
        var r = Online(x => (x.State, x.StateSince) = ("asleep", Now.AddMinutes(-59)));
        Assert.Equal(VehicleAction.None, VehiclePolicy.Decide(r, Now, Options, wakeAfterSleepMinutes: 60).Action);

        Assert.Equal(VehicleAction.Wake, VehiclePolicy.Decide(r, Now.AddMinutes(1), Options, wakeAfterSleepMinutes: 60).Action);

        r.LastWakeAt = Now.AddMinutes(1); // just woken: not again within the window
        Assert.Equal(VehicleAction.None, VehiclePolicy.Decide(r, Now.AddMinutes(2), Options, wakeAfterSleepMinutes: 60).Action);
    }

    [Fact]
    public void RetryAfterIsHonouredBeforeAnythingElse()
    {
        var r = Online(x => (x.ShiftState, x.RetryAfter) = ("D", Now.AddHours(3)));
        var d = VehiclePolicy.Decide(r, Now, Options);
        Assert.Equal(VehicleAction.None, d.Action);
        Assert.Equal(Now.AddHours(3), d.NextPollAt);
    }

    [Fact]
    public void CarThatWakesUpIsReadAgainSoon()
    {
        var r = Online(x => (x.State, x.StateSince) = ("asleep", Now.AddHours(-5)));
        VehiclePolicy.AfterList(r, "online", Now);

        Assert.Equal(Now, r.StateSince);
        Assert.Null(r.IdleSince);
        Assert.Equal(VehicleAction.VehicleData, VehiclePolicy.Decide(r, Now, Options).Action);
    }

    [Fact]
    public void CarStillOnlineWhenTheSuspensionEndsIsReadAgainAndGetsANewIdlePeriod()
    {
        var r = Online(x => x.DataAt = Now);
        VehiclePolicy.AfterReading(r, Now, Options);
        var t1 = Now.AddMinutes(Options.IdleMinutesBeforeSuspend);
        VehiclePolicy.AfterReading(r, t1, Options);
        Assert.Equal(t1.AddMinutes(Options.SuspendMinutes), r.SuspendedUntil);

        var after = t1.AddMinutes(Options.SuspendMinutes + 1);
        VehiclePolicy.AfterList(r, "online", after); // it did not fall asleep
        Assert.Equal(VehicleAction.VehicleData, VehiclePolicy.Decide(r, after, Options).Action);

        VehiclePolicy.AfterReading(r, after, Options);
        Assert.Null(r.SuspendedUntil);
        Assert.Equal(after, r.IdleSince);
        Assert.Equal(VehicleAction.VehicleData, VehiclePolicy.Decide(r, after.AddMinutes(2), Options).Action);
    }

    [Fact]
    public void CarLastReadJustBeforeTheIdleThresholdIsReadAgainWhenItsWindowEnds()
    {
        // Read at 14 idle minutes (no window yet), next looked at after the threshold: the window
        // follows from IdleSince alone, so the car is left alone and then read, never forgotten.
        var r = Online(x => x.DataAt = Now.AddMinutes(-2));
        r.IdleSince = Now.AddMinutes(-16);

        var during = VehiclePolicy.Decide(r, Now, Options);
        Assert.Equal(VehicleAction.None, during.Action);
        Assert.True(during.NextPollAt <= Now.AddMinutes(-16 + Options.IdleMinutesBeforeSuspend + Options.SuspendMinutes));

        var after = Now.AddMinutes(-16 + Options.IdleMinutesBeforeSuspend + Options.SuspendMinutes);
        Assert.Equal(VehicleAction.VehicleData, VehiclePolicy.Decide(r, after, Options).Action);
    }
}
