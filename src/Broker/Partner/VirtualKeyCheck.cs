using System.Collections.Concurrent;
using Broker.Accounts;
using Broker.Data;
using Broker.Tesla;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Partner;

/// <summary>
/// Asks Tesla which of an account's cars hold the operator's virtual key (<c>fleet_status</c>, not billed) and
/// records it on <see cref="Vehicle.KeyPaired"/>. Runs inside a poll, at most every
/// <see cref="PartnerOptions.KeyCheckIntervalHours"/> per account (every 15 minutes while a car lacks the key, so a pairing
/// shows, and streaming starts, soon after), first on the poll right after a connect
/// (new cars are unchecked), and only once the partner domain is registered somewhere. It never fails the poll.
/// </summary>
public sealed class VirtualKeyCheck(BrokerDbContext db, TeslaFleetClient fleet, IOptions<PartnerOptions> options, ILogger<VirtualKeyCheck> logger)
{
    /// <summary>After a failed check, when the account may be asked again (per node; a lost entry only means an early retry).</summary>
    private static readonly ConcurrentDictionary<Guid, DateTimeOffset> RetryAt = new();
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromHours(1);
    /// <summary>A car without the key is asked about again this often (fleet_status is not billed): pairing shows up soon.</summary>
    private static readonly TimeSpan UnpairedInterval = TimeSpan.FromMinutes(15);

    /// <summary>Updates the tracked <paramref name="account"/>'s cars when due; the poll saves them.</summary>
    public async Task CheckIfDueAsync(FleetAccount caller, TeslaAccount account, DateTimeOffset now, CancellationToken ct)
    {
        var interval = TimeSpan.FromHours(options.Value.KeyCheckIntervalHours);
        var cars = account.Vehicles.Where(v => v.RetiredAt is null).ToList();
        var due = cars.Count > 0
            && account.GrantedScopes.Contains("vehicle_device_data")
            && cars.Any(v => v.KeyCheckedAt is null || v.KeyCheckedAt <= now - (v.KeyPaired == true ? interval : UnpairedInterval))
            && !(RetryAt.TryGetValue(account.Id, out var retry) && retry > now)
            && options.Value.Domain is { Length: > 0 };
        if (!due || !await db.PartnerRegistrations.AnyAsync(r => r.Status == "registered", ct))
        {
            return;
        }
        try
        {
            // One VIN per call, as Tesla recommends for fleet_status (TESLA.md §4.6).
            foreach (var vehicle in cars)
            {
                var status = await fleet.GetFleetStatusAsync(caller, [vehicle.Vin], ct);
                // A car Tesla names in neither list keeps what was known about it.
                vehicle.KeyPaired = Names(status.KeyPairedVins, vehicle.Vin) ? true : Names(status.UnpairedVins, vehicle.Vin) ? false : vehicle.KeyPaired;
                vehicle.KeyCheckedAt = now;
                if (status.VehicleInfo?.FirstOrDefault(i => string.Equals(i.Key, vehicle.Vin, StringComparison.OrdinalIgnoreCase)).Value is { VehicleCommandProtocolRequired: { } required })
                {
                    vehicle.CommandProtocolRequired = required;
                }
            }
            RetryAt.TryRemove(account.Id, out _);
            logger.LogDebug("Virtual key on {Paired} of {Vehicles} cars of account {AccountId}", cars.Count(v => v.KeyPaired == true), cars.Count, account.Id);
        }
        catch (Exception ex) when (ex is TeslaApiException { AppDisabled: false } or VehicleUnavailableException && !ct.IsCancellationRequested)
        {
            RetryAt[account.Id] = now + RetryAfterFailure;
            // The exception's message names the status and path only; tokens never reach it.
            logger.LogWarning("Virtual-key check (fleet_status) for account {AccountId} failed: {Reason}; next try after {RetryAt}",
                account.Id, ex.Message, now + RetryAfterFailure);
        }
    }

    private static bool Names(IReadOnlyList<string>? vins, string vin) => vins?.Contains(vin, StringComparer.OrdinalIgnoreCase) == true;
}
