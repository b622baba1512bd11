namespace Broker.Polling;

public enum VehicleAction { None, VehicleData, Wake }

public sealed record VehicleDecision(VehicleAction Action, DateTimeOffset NextPollAt, string Reason);

/// <summary>
/// Decides, from what the free vehicle list said and the last reading, whether to call
/// vehicle_data (billed, keeps the car awake), wake it (billed more, only if the tenant allows),
/// or only keep watching the list. Pure: the same inputs give the same answer.
/// </summary>
public static class VehiclePolicy
{
    /// <param name="wakeAfterSleepMinutes">The tenant's wake policy; null never wakes.</param>
    public static VehicleDecision Decide(VehicleReading r, DateTimeOffset now, PollingOptions o, int? wakeAfterSleepMinutes = null)
    {
        if (r.RetryAfter is { } retry && retry > now)
        {
            return new(VehicleAction.None, retry, "rate limited: waiting for Retry-After");
        }
        var list = now.AddSeconds(o.ListIntervalSeconds);
        if (r.State is "asleep" or "offline")
        {
            var sleptFor = now - r.StateSince;
            if (wakeAfterSleepMinutes is { } minutes && sleptFor >= TimeSpan.FromMinutes(minutes)
                && (r.LastWakeAt is null || now - r.LastWakeAt >= TimeSpan.FromMinutes(minutes)))
            {
                return new(VehicleAction.Wake, list, $"asleep {sleptFor.TotalMinutes:0} min; tenant allows waking after {minutes}");
            }
            return new(VehicleAction.None, list, "asleep: watching the free list");
        }
        if (r.State != "online")
        {
            return new(VehicleAction.None, list, "state unknown: watching the free list");
        }
        if (r.DataAt is null)
        {
            return new(VehicleAction.VehicleData, now.AddSeconds(o.ParkedIntervalSeconds), "online, no reading yet");
        }
        if (IsDriving(r))
        {
            return new(VehicleAction.VehicleData, now.AddSeconds(o.DrivingIntervalSeconds), "driving");
        }
        if (IsCharging(r))
        {
            return new(VehicleAction.VehicleData, now.AddSeconds(o.ChargingIntervalSeconds), "charging");
        }
        if (InUse(r) || r.IdleSince is not { } idleSince)
        {
            return new(VehicleAction.VehicleData, now.AddSeconds(o.ParkedIntervalSeconds), InUse(r) ? "parked, in use" : "parked");
        }
        // The window is derived from when the car became idle, so no later step can leave it open.
        var (suspendFrom, suspendUntil) = SuspensionWindow(idleSince, o);
        if (now < suspendFrom)
        {
            return new(VehicleAction.VehicleData, Min(now.AddSeconds(o.ParkedIntervalSeconds), suspendFrom), "parked");
        }
        return now < suspendUntil
            ? new(VehicleAction.None, Min(suspendUntil, list), "idle: left alone so it can fall asleep")
            : new(VehicleAction.VehicleData, now.AddSeconds(o.ParkedIntervalSeconds), "suspension over and still awake: read it again");
    }

    /// <summary>After a reading: when did the car become idle (null while in use)?</summary>
    public static void AfterReading(VehicleReading r, DateTimeOffset now, PollingOptions o)
    {
        if (IsDriving(r) || IsCharging(r) || InUse(r))
        {
            (r.IdleSince, r.SuspendedUntil) = (null, null);
            return;
        }
        if (r.IdleSince is not { } since || now >= SuspensionWindow(since, o).Until)
        {
            r.IdleSince = now; // idle from now on, or still awake after a whole window: a new idle period
        }
        var window = SuspensionWindow(r.IdleSince.Value, o);
        r.SuspendedUntil = now >= window.From ? window.Until : null; // shown to operators; Decide derives it
    }

    /// <summary>What the list said about the car: a change of state restarts the idle clock.</summary>
    public static void AfterList(VehicleReading r, string state, DateTimeOffset now)
    {
        state = state is "online" or "asleep" or "offline" ? state : "unknown";
        r.LastSeenAt = now;
        if (state == r.State)
        {
            return;
        }
        r.State = state;
        r.StateSince = now;
        (r.IdleSince, r.SuspendedUntil) = (null, null); // asleep: nothing to suspend; woke up: someone may be using it
        if (state is "asleep" or "offline")
        {
            (r.ShiftState, r.SpeedMph, r.PowerKw) = (null, null, null); // a sleeping car is not still driving at its last speed
        }
    }

    /// <summary>TeslaMate's rule: idle this long, then left alone this long.</summary>
    public static (DateTimeOffset From, DateTimeOffset Until) SuspensionWindow(DateTimeOffset idleSince, PollingOptions o)
    {
        var from = idleSince.AddMinutes(o.IdleMinutesBeforeSuspend);
        return (from, from.AddMinutes(o.SuspendMinutes));
    }

    /// <summary>
    /// From what the answer holds: a gear, a speed, or, where neither was sent (no location_data, no drive_state), power
    /// drawn while not charging. A null gear alone says nothing either way.
    /// </summary>
    public static bool IsDriving(VehicleReading r) =>
        r.ShiftState is "D" or "R" or "N" || r.SpeedMph is > 0
        || (r.ShiftState is null && r.SpeedMph is null && r.PowerKw is > 0 && !IsCharging(r));

    public static bool IsCharging(VehicleReading r) =>
        r.ChargingState is "Charging" or "Starting" || r.ChargerPowerKw is > 0;

    /// <summary>TeslaMate's "don't suspend" signals: someone inside, climate, sentry, an update, open doors, power drawn.</summary>
    public static bool InUse(VehicleReading r) =>
        r.UserPresent == true || r.ClimateOn == true || r.Preconditioning == true || r.SentryMode == true
        || r.DoorsOpen == true || r.SoftwareUpdateStatus is "installing" or "downloading" or "scheduled"
        || r.PowerKw is > 0 or < 0;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
