using Broker.Accounts;
using Broker.Data;
using Broker.Tesla;
using Broker.Tokens;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Polling;

/// <summary>
/// One poll of one account: the free vehicle list when any car is due, vehicle_data or a wake
/// where <see cref="VehiclePolicy"/> says so, live_status for due energy sites; then the readings,
/// the polling state and the counted calls are saved together. Returns when the account is next
/// due, or null when it must not be polled any more (revoked, needs reconnecting).
/// </summary>
public sealed partial class AccountPoller(
    BrokerDbContext db, TeslaFleetClient fleet, FleetUsage usage, TokenRefresher tokens,
    TimeProvider time, IOptions<PollingOptions> options, ILogger<AccountPoller> logger, Partner.VirtualKeyCheck virtualKeys)
{
    private readonly PollingOptions _options = options.Value;
    private TokenRefresher Tokens => tokens;

    public async Task<DateTimeOffset?> PollAsync(Guid accountId, DateTimeOffset? scheduledAt, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var now = time.GetUtcNow();
        if (scheduledAt is { } due)
        {
            PollingMetrics.Lag.Observe(Math.Max(0, (now - due).TotalSeconds));
        }
        var account = await db.TeslaAccounts.Include(a => a.Vehicles).Include(a => a.EnergySites)
            .SingleOrDefaultAsync(a => a.Id == accountId, ct);
        if (account is not { Status: AccountStatus.Active })
        {
            return null;
        }
        var vehicles = await LoadVehicleReadingsAsync(account, now, ct);
        var sites = await LoadSiteReadingsAsync(account, now, ct);

        FleetAccount caller;
        try
        {
            caller = new FleetAccount(account.TenantId, account.Id, account.FleetApiBaseUrl, await tokens.GetAccessTokenAsync(account.Id, ct));
        }
        catch (AccountNotUsableException)
        {
            return null; // marked needs_reconnect by the refresher
        }
        catch (TeslaAuthException ex)
        {
            logger.LogWarning("Token refresh for account {AccountId} failed ({Error}); retrying later with the same refresh token", account.Id, ex.Error);
            return now.AddSeconds(Backoff(1));
        }

        var session = new Session(this, caller);
        await PollVehiclesAsync(session, account, vehicles, now, ct);
        await PollSitesAsync(session, account, sites, now, ct);
        await virtualKeys.CheckIfDueAsync(session.Caller, account, now, ct); // Partner/: fleet_status about daily; never fails the poll

        if (fleet.LastBaseUrl is { } baseUrl && baseUrl != account.FleetApiBaseUrl)
        {
            logger.LogInformation("Account {AccountId} moved to {BaseUrl} (Tesla answered 421)", account.Id, baseUrl);
            account.FleetApiBaseUrl = baseUrl;
        }
        await SaveAsync(ct);
        PollingMetrics.LastSuccess.Set(time.GetUtcNow().ToUnixTimeSeconds());
        PollingMetrics.Duration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        return vehicles.Values.Select(v => v.NextPollAt).Concat(sites.Select(s => s.NextPollAt))
            .DefaultIfEmpty(now.AddSeconds(_options.ListIntervalSeconds * 5)).Min();
    }

    private async Task PollSitesAsync(Session session, TeslaAccount account, List<EnergySiteReading> sites, DateTimeOffset now, CancellationToken ct)
    {
        foreach (var site in sites.Where(s => s.NextPollAt <= now))
        {
            var teslaId = account.EnergySites.Single(s => s.Id == site.EnergySiteId).EnergySiteId;
            try
            {
                var status = await session.CallAsync((c, t) => fleet.GetLiveStatusAsync(c, teslaId, t), ct);
                VehicleDataMapper.ApplyLiveStatus(site, status);
                site.DataAt = now;
                site.NextPollAt = now.AddSeconds(_options.EnergyIntervalSeconds);
                (site.ConsecutiveFailures, site.LastError) = (0, null);
                PollingMetrics.Polls.WithLabels("live_status", "ok").Inc();
            }
            catch (TeslaApiException ex)
            {
                PollingMetrics.Polls.WithLabels("live_status", Result(ex)).Inc();
                site.ConsecutiveFailures++;
                site.LastError = ex.Message;
                site.RetryAfter = ex.RetryAfter is { } wait ? now + wait : null;
                site.NextPollAt = site.RetryAfter ?? now.AddSeconds(Math.Max(_options.EnergyIntervalSeconds, Backoff(site.ConsecutiveFailures)));
            }
        }
    }

    private double Backoff(int failures) =>
        Math.Min(_options.MaxBackoffSeconds, 15 * Math.Pow(2, Math.Min(failures, 16) - 1)) * (0.8 + Random.Shared.NextDouble() * 0.4);

    private static string Result(TeslaApiException ex) => ex.Status switch
    {
        _ when ex.Error is "malformed_response" => "malformed",
        null when ex.Error is "timeout" => "timeout",
        429 => "rate_limited",
        401 or 403 => "unauthorized",
        >= 500 => "server_error",
        null => ex.Error ?? "error",
        _ => "client_error",
    };

    private async Task<Dictionary<string, VehicleReading>> LoadVehicleReadingsAsync(TeslaAccount account, DateTimeOffset now, CancellationToken ct)
    {
        var stored = await db.VehicleReadings.Where(r => r.AccountId == account.Id).ToDictionaryAsync(r => r.VehicleId, ct);
        return account.Vehicles.ToDictionary(v => v.Vin, v => stored.GetValueOrDefault(v.Id) ?? db.VehicleReadings.Add(new VehicleReading
        {
            VehicleId = v.Id, AccountId = account.Id, TenantId = account.TenantId, State = v.State ?? "unknown", StateSince = now, NextPollAt = now,
        }).Entity);
    }

    private async Task<List<EnergySiteReading>> LoadSiteReadingsAsync(TeslaAccount account, DateTimeOffset now, CancellationToken ct)
    {
        if (!account.GrantedScopes.Contains("energy_device_data"))
        {
            return [];
        }
        var stored = await db.EnergySiteReadings.Where(r => r.AccountId == account.Id).ToDictionaryAsync(r => r.EnergySiteId, ct);
        return account.EnergySites.Select(s => stored.GetValueOrDefault(s.Id) ?? db.EnergySiteReadings.Add(new EnergySiteReading
        {
            EnergySiteId = s.Id, AccountId = account.Id, TenantId = account.TenantId, NextPollAt = now,
        }).Entity).ToList();
    }

    private Task SaveAsync(CancellationToken ct) =>
        db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            await db.SaveChangesAsync(ct);
            await usage.FlushAsync(db, ct);
            await tx.CommitAsync(ct);
        });

    /// <summary>The account's caller for this poll; after a 401 it refreshes once and retries.</summary>
    private sealed class Session(AccountPoller owner, FleetAccount caller)
    {
        private FleetAccount _caller = caller;

        public FleetAccount Caller => _caller;

        public async Task<T> CallAsync<T>(Func<FleetAccount, CancellationToken, Task<T>> call, CancellationToken ct)
        {
            try
            {
                return await call(_caller, ct);
            }
            catch (TeslaApiException ex) when (ex.Status == 401)
            {
                var fresh = await owner.Tokens.GetAccessTokenAsync(_caller.AccountId, ct, rejected: _caller.AccessToken);
                _caller = _caller with { AccessToken = fresh };
                return await call(_caller, ct);
            }
        }
    }
}
