using System.Text.Json.Nodes;
using Broker.Accounts;
using Broker.Data;
using Broker.Partner;
using Broker.Tesla;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Telemetry;

/// <summary>
/// Keeps each car's Fleet Telemetry config in step, inside the account's poll (so it shares the poll's token and one
/// database save) and never failing it:
/// <list type="bullet">
/// <item>A car not streaming is configured: on the poll after connect, again once its virtual key is paired (a
/// <c>missing_key</c> skip), and daily for other skips. The config is signed with the partner key
/// (<c>fleet_telemetry_config_jws</c>, <see cref="TelemetryJws"/>); without a partner key nothing is configured.</item>
/// <item>A config Tesla has not delivered yet (<c>synced=false</c>) is checked every <see cref="TelemetryOptions.CheckSyncSeconds"/>;
/// a streaming car's daily. A config Tesla dropped (it removes them when the billing limit is hit, and does not restore them,
/// TESLA.md §7) sends the car back to polling and to being configured again.</item>
/// <item>A config is written again before its <c>exp</c> runs out.</item>
/// <item>Revoking an account deletes its cars' configs at Tesla with the partner token (<see cref="DeleteRevokedAsync"/>).</item>
/// </list>
/// </summary>
public sealed class TelemetrySetup(
    BrokerDbContext db, TeslaFleetClient fleet, TeslaAuthClient auth, PartnerKeys keys, IOptions<TelemetryOptions> options,
    IOptions<TeslaOptions> tesla, IOptions<PartnerOptions> partner, ILogger<TelemetrySetup> logger)
{
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromHours(1);
    private const string NoPartnerKey = "no partner key: an operator creates one on the console's Operator page (docs/partner.md) to stream";
    private static readonly TimeSpan RetrySkipped = TimeSpan.FromHours(24);
    private static readonly TimeSpan CheckStreaming = TimeSpan.FromHours(24);
    private readonly TelemetryOptions _o = options.Value;

    public bool Enabled => _o.Enabled;

    /// <summary>
    /// A car is left to its stream (not read with vehicle_data) while it holds the config and the stream is alive: a field
    /// arrived within <see cref="TelemetryOptions.QuietAfterSeconds"/>, or it is connected and a field arrived within the resend
    /// interval (every field is resent at least that often).
    /// </summary>
    public bool IsStreaming(VehicleTelemetry t, DateTimeOffset now) =>
        _o.Enabled && t is { Status: TelemetryStatus.Streaming, DeletePending: false }
        && (t.LastSignalAt > now.AddSeconds(-_o.QuietAfterSeconds)
            // Connected and parked, a car sends only changes, but every field at least once per resend interval: longer
            // silence means the stream died without a DISCONNECTED (fleet-telemetry gone, a message lost), so poll.
            || t.Connected == true && t.LastSignalAt > now.AddSeconds(-(TelemetryFields.ResendSeconds + _o.QuietAfterSeconds)));

    public async Task EnsureAsync(FleetAccount caller, TeslaAccount account, DateTimeOffset now, CancellationToken ct)
    {
        var cars = account.Vehicles.Where(v => v.RetiredAt is null).ToList();
        if (!_o.Enabled || cars.Count == 0 || !account.GrantedScopes.Contains("vehicle_device_data"))
        {
            return;
        }
        var rows = await db.VehicleTelemetry.Where(t => t.AccountId == account.Id).ToDictionaryAsync(t => t.VehicleId, ct);
        if (rows.Values.Any(t => t.DeletePending))
        {
            return; // revoked and reconnected: the old configs are deleted first (reconcile job), then set up afresh
        }
        foreach (var car in cars.Where(c => !rows.ContainsKey(c.Id)))
        {
            rows[car.Id] = db.VehicleTelemetry.Add(new VehicleTelemetry
            {
                VehicleId = car.Id, AccountId = account.Id, TenantId = account.TenantId, Vin = car.Vin, Status = TelemetryStatus.Polling, Since = now,
            }).Entity;
        }
        // A partner key made since a car was found without one: configure now, not an hour later.
        var keySince = rows.Values.Any(t => t.SkipReason == NoPartnerKey) ? (await keys.CurrentAsync(ct))?.CreatedAt : null;
        try
        {
            await ConfigureDueAsync(caller, account, cars.Where(c => NeedsConfig(rows[c.Id], c, now, keySince)).Select(c => rows[c.Id]).ToList(), now, ct);
            foreach (var t in cars.Select(c => rows[c.Id]).Where(t => NeedsCheck(t, now)))
            {
                await CheckAsync(caller, t, now, ct);
            }
        }
        catch (Exception ex) when (ex is TeslaApiException { AppDisabled: false } or VehicleUnavailableException && !ct.IsCancellationRequested)
        {
            logger.LogWarning("Fleet Telemetry set-up for account {AccountId} failed: {Reason}; cars are polled meanwhile", account.Id, ex.Message);
        }
    }

    private bool NeedsConfig(VehicleTelemetry t, Vehicle car, DateTimeOffset now, DateTimeOffset? keySince) => t.Status switch
    {
        TelemetryStatus.Polling => t.CheckedAt is null || t.CheckedAt <= now - RetryAfterFailure
            || t.SkipReason == NoPartnerKey && keySince > t.CheckedAt,
        TelemetryStatus.Skipped => t.SkipReason == "missing_key" && car.KeyPaired == true && car.KeyCheckedAt > t.CheckedAt
            || t.CheckedAt is null || t.CheckedAt <= now - RetrySkipped,
        _ => t.ExpiresAt is null || t.ExpiresAt <= now.AddDays(_o.RenewDaysBefore),
    };

    private bool NeedsCheck(VehicleTelemetry t, DateTimeOffset now) => t.Status switch
    {
        TelemetryStatus.ConfiguredNotSynced => t.CheckedAt is null || t.CheckedAt <= now.AddSeconds(-_o.CheckSyncSeconds),
        TelemetryStatus.Streaming => t.CheckedAt is null || t.CheckedAt <= now - CheckStreaming,
        _ => false,
    };

    private async Task ConfigureDueAsync(FleetAccount caller, TeslaAccount account, List<VehicleTelemetry> due, DateTimeOffset now, CancellationToken ct)
    {
        if (due.Count == 0)
        {
            return;
        }
        using var key = await keys.LoadPrivateKeyAsync(ct);
        if (key is null)
        {
            foreach (var t in due)
            {
                (t.SkipReason, t.CheckedAt) = (NoPartnerKey, now);
            }
            return;
        }
        var plans = TelemetryFields.For(account.GrantedScopes.Contains("vehicle_location"));
        var exp = now.AddDays(_o.ConfigDays);
        var config = new JsonObject
        {
            ["hostname"] = _o.Server.Hostname,
            ["port"] = _o.Server.Port,
            ["exp"] = exp.ToUnixTimeSeconds(),
            ["prefer_typed"] = true,
            ["fields"] = TelemetryFields.ToConfigFields(plans),
        };
        if (_o.Server.Ca is { Length: > 0 } ca)
        {
            config["ca"] = ca;
        }
        var result = await fleet.ConfigureTelemetryAsync(caller, due.Select(t => t.Vin).ToList(), TelemetryJws.Sign(key, config), ct);
        foreach (var t in due)
        {
            t.CheckedAt = now;
            if (SkipReasonOf(result, t.Vin) is { } reason)
            {
                Move(t, TelemetryStatus.Skipped, now);
                t.SkipReason = reason;
                continue;
            }
            (t.ConfiguredAt, t.ExpiresAt, t.Fields, t.SkipReason) = (now, DateTimeOffset.FromUnixTimeSeconds(exp.ToUnixTimeSeconds()), plans.Select(p => p.Field).ToArray(), null);
            if (t.Status != TelemetryStatus.Streaming)
            {
                Move(t, TelemetryStatus.ConfiguredNotSynced, now);
            }
        }
        logger.LogInformation("Fleet Telemetry configured for {Updated} of {Cars} cars of account {AccountId}",
            due.Count(t => t.Status != TelemetryStatus.Skipped), due.Count, account.Id);
    }

    private async Task CheckAsync(FleetAccount caller, VehicleTelemetry t, DateTimeOffset now, CancellationToken ct)
    {
        var state = await fleet.GetTelemetryConfigAsync(caller, t.Vin, ct);
        t.CheckedAt = now;
        if (state.Config is null)
        {
            // Gone or never taken: the car refused it (a config signed with another key than the one Tesla holds is accepted,
            // then the car reports "InvalidSignature: unknown issuer", fleet-telemetry#303), or Tesla dropped it (billing limit,
            // the owner's revoke). Polled; configured again an hour later.
            var reason = await CarErrorAsync(caller, t.Vin, ct) ?? "config removed at Tesla";
            Move(t, TelemetryStatus.Polling, now);
            (t.SkipReason, t.ConfiguredAt, t.ExpiresAt) = (reason, null, null);
            return;
        }
        if (!state.KeyPaired)
        {
            Move(t, TelemetryStatus.Skipped, now);
            t.SkipReason = "missing_key";
            return;
        }
        if (state.Synced && t.Status == TelemetryStatus.ConfiguredNotSynced)
        {
            Move(t, TelemetryStatus.Streaming, now);
            t.SkipReason = null;
        }
        else if (t.Status == TelemetryStatus.ConfiguredNotSynced)
        {
            t.SkipReason = await CarErrorAsync(caller, t.Vin, ct); // usually none: the car has not been online since
        }
    }

    /// <summary>The car's latest report about this app's config (fleet_telemetry_errors), in its own words; null when none.</summary>
    private async Task<string?> CarErrorAsync(FleetAccount caller, string vin, CancellationToken ct)
    {
        var latest = (await fleet.GetTelemetryErrorsAsync(caller, vin, ct)).OrderByDescending(e => e.CreatedAt).FirstOrDefault();
        var text = latest is null ? null : Hosting.TextInput.Clean($"{latest.ErrorName ?? latest.Name}: {latest.Error}");
        return text is { Length: > 200 } ? text[..200] : text;
    }

    /// <summary>Tesla's reason for skipping the car, in Tesla's words; null when the car took the config.</summary>
    private static string? SkipReasonOf(TelemetryConfigureResult result, string vin)
    {
        var s = result.SkippedVehicles;
        bool In(IReadOnlyList<string>? vins) => vins?.Contains(vin, StringComparer.OrdinalIgnoreCase) == true;
        return s is null ? null
            : In(s.MissingKey) ? "missing_key"
            : In(s.UnsupportedHardware) ? "unsupported_hardware"
            : In(s.UnsupportedFirmware) ? "unsupported_firmware"
            : In(s.MaxConfigs) ? "max_configs"
            : null;
    }

    /// <summary>Sets the car's streaming status, and <see cref="VehicleTelemetry.Since"/> when it changes.</summary>
    internal static void Move(VehicleTelemetry t, TelemetryStatus to, DateTimeOffset now)
    {
        if (t.Status != to)
        {
            (t.Status, t.Since) = (to, now);
        }
    }

    /// <summary>
    /// Deletes the configs of revoked accounts' cars at Tesla with the partner token (TESLA.md §8.1: it works on any car),
    /// then forgets them. Run by the reconcile job, so a Tesla outage at revoke time only delays it.
    /// </summary>
    public async Task DeleteRevokedAsync(CancellationToken ct)
    {
        var pending = await (from t in db.VehicleTelemetry
                             join a in db.TeslaAccounts on t.AccountId equals a.Id
                             where t.DeletePending
                             select new { Row = t, a.Region, a.FleetApiBaseUrl, a.TenantId }).Take(200).ToListAsync(ct);
        foreach (var region in pending.GroupBy(p => (p.Region, p.FleetApiBaseUrl)))
        {
            try
            {
                var token = await auth.GetPartnerTokenAsync(tesla.Value.RealmOfRegion(region.Key.Region), region.Key.FleetApiBaseUrl, partner.Value.Scopes, ct);
                foreach (var p in region)
                {
                    if (p.Row.ConfiguredAt is not null || p.Row.Status != TelemetryStatus.Polling)
                    {
                        await fleet.DeleteTelemetryConfigAsync(new FleetAccount(p.TenantId, p.Row.AccountId, region.Key.FleetApiBaseUrl, token.AccessToken), p.Row.Vin, ct);
                    }
                    db.VehicleTelemetry.Remove(p.Row);
                    await db.SaveChangesAsync(ct);
                }
            }
            catch (Exception ex) when (ex is TeslaApiException or TeslaAuthException or VehicleUnavailableException or HttpRequestException && !ct.IsCancellationRequested)
            {
                logger.LogWarning("Deleting Fleet Telemetry configs of revoked accounts in {Region} failed: {Reason}; retried on the next pass",
                    region.Key.Region, ex.Message);
            }
        }
    }
}
