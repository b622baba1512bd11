using Microsoft.EntityFrameworkCore;
using Broker.Accounts;
using Broker.Tesla;

namespace Broker.Polling;

/// <summary>The vehicle half of a poll: the free list, then vehicle_data or a wake where the policy says so.</summary>
public sealed partial class AccountPoller
{
    private async Task PollVehiclesAsync(Session session, TeslaAccount account, Dictionary<string, VehicleReading> readings, BudgetDecision budget,
        DateTimeOffset now, CancellationToken ct)
    {
        var canRead = account.GrantedScopes.Contains("vehicle_device_data");
        var due = readings.Values.Where(r => r.NextPollAt <= now).ToList();
        if (!canRead)
        {
            due.ForEach(r => r.NextPollAt = now.AddMinutes(_options.StaleAfterMinutes));
            return;
        }
        if (due.Count == 0 || due.All(r => r.RetryAfter > now))
        {
            return;
        }
        try
        {
            foreach (var item in await session.CallAsync((c, t) => fleet.ListVehiclesAsync(c, t), ct))
            {
                if (item.Vin is { } vin && readings.TryGetValue(vin, out var listed))
                {
                    VehiclePolicy.AfterList(listed, item.State ?? "unknown", now);
                }
            }
            PollingMetrics.Polls.WithLabels("list", "ok").Inc();
        }
        catch (TeslaApiException ex) when (!ex.AppDisabled)
        {
            PollingMetrics.Polls.WithLabels("list", Result(ex)).Inc();
            due.ForEach(r => Failed(r, ex, now));
            return;
        }

        // Telemetry/: a car whose stream is healthy is not read here; the list above still tracks whether it is online.
        var streams = await db.VehicleTelemetry.AsNoTracking().Where(t => t.AccountId == account.Id).ToDictionaryAsync(t => t.Vin, ct);
        var withLocation = account.GrantedScopes.Contains("vehicle_location");
        // Waking needs the tenant's leave and the owner's vehicle_cmds grant (Tesla's scope table puts wake-up there): without
        // it Tesla answers 403 and still bills the call.
        var wakeAfter = account.GrantedScopes.Contains("vehicle_cmds") && budget.MayWake
            ? await db.Tenants.Where(t => t.Id == account.TenantId).Select(t => t.WakeAfterSleepMinutes).SingleAsync(ct)
            : null;
        foreach (var reading in due)
        {
            var vin = readings.Single(kv => kv.Value == reading).Key;
            var decision = VehiclePolicy.Decide(reading, now, _options, wakeAfter);
            if (decision.Action == VehicleAction.VehicleData && streams.TryGetValue(vin, out var stream) && telemetry.IsStreaming(stream, now))
            {
                reading.NextPollAt = now.AddSeconds(_options.ListIntervalSeconds);
                PollingMetrics.Polls.WithLabels("vehicle_data", "streaming").Inc();
                continue;
            }
            if (decision.Action != VehicleAction.None && !budget.MayRead)
            {
                reading.NextPollAt = now.AddSeconds(_options.ListIntervalSeconds); // the month's budget is spent: the free list only
                PollingMetrics.Polls.WithLabels(decision.Action == VehicleAction.Wake ? "wake" : "vehicle_data", "budget_spent").Inc();
                continue;
            }
            try
            {
                switch (decision.Action)
                {
                    case VehicleAction.VehicleData:
                        var data = await session.CallAsync((c, t) => fleet.GetVehicleDataAsync(c, vin, withLocation, t), ct);
                        VehicleDataMapper.Apply(reading, data, withLocation);
                        reading.DataAt = now;
                        VehiclePolicy.AfterReading(reading, now, _options);
                        PollingMetrics.Polls.WithLabels("vehicle_data", "ok").Inc();
                        break;
                    case VehicleAction.Wake:
                        await session.CallAsync((c, t) => WakeAsync(c, vin, t), ct);
                        reading.LastWakeAt = now;
                        PollingMetrics.Polls.WithLabels("wake", "ok").Inc();
                        logger.LogInformation("Woke vehicle {VehicleId} ({Reason})", reading.VehicleId, decision.Reason);
                        break;
                }
                // Schedule from what was just learned (a first reading may show the car driving).
                reading.NextPollAt = decision.Action == VehicleAction.VehicleData
                    ? VehiclePolicy.Decide(reading, now, _options, wakeAfter).NextPollAt
                    : decision.NextPollAt;
                if (budget.Stretch > 1 && decision.Action == VehicleAction.VehicleData)
                {
                    reading.NextPollAt = now + (reading.NextPollAt - now) * budget.Stretch; // the month's projection is above budget
                }
                (reading.ConsecutiveFailures, reading.LastError) = (0, null);
            }
            catch (VehicleUnavailableException)
            {
                VehiclePolicy.AfterList(reading, "asleep", now); // 408: asleep, an answer rather than an error
                reading.NextPollAt = now.AddSeconds(_options.ListIntervalSeconds);
                PollingMetrics.Polls.WithLabels("vehicle_data", "asleep").Inc();
            }
            catch (TeslaApiException ex) when (!ex.AppDisabled)
            {
                PollingMetrics.Polls.WithLabels(decision.Action == VehicleAction.Wake ? "wake" : "vehicle_data", Result(ex)).Inc();
                Failed(reading, ex, now);
            }
        }
    }

    /// <summary>A 429 waits out Retry-After; anything else backs off exponentially with jitter.</summary>
    private void Failed(VehicleReading r, TeslaApiException ex, DateTimeOffset now)
    {
        r.ConsecutiveFailures++;
        r.LastError = ex.Message;
        r.RetryAfter = ex.Status == 429 ? now + (ex.RetryAfter ?? TimeSpan.FromSeconds(_options.MaxBackoffSeconds)) : null;
        r.NextPollAt = r.RetryAfter ?? now.AddSeconds(Backoff(r.ConsecutiveFailures));
    }

    private async Task<int> WakeAsync(FleetAccount caller, string vin, CancellationToken ct)
    {
        await fleet.WakeUpAsync(caller, vin, ct);
        return 0;
    }
}
