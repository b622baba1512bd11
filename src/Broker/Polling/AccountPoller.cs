using Broker.Accounts;
using Broker.Data;
using Broker.Tesla;
using Broker.Tokens;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Polling;

/// <summary>
/// One poll of one account: the free vehicle list when any car is due, vehicle_data or a wake
/// where <see cref="VehiclePolicy"/> says so, live_status for due energy sites, the devices from
/// /api/1/products about daily; then the readings, the polling state and the counted calls are saved together.
/// Returns when the account is next due, or null when it must not be polled any more (revoked, needs reconnecting).
/// Two refusals stop a poll before it spends more calls: Tesla disabling the whole app (<see cref="TeslaAppGuard"/>)
/// and Tesla refusing the account's token even after a refresh (the account then waits, without refreshing again).
/// </summary>
public sealed partial class AccountPoller(
    BrokerDbContext db, TeslaFleetClient fleet, FleetUsage usage, TokenRefresher tokens, TeslaAppGuard apps,
    TimeProvider time, IOptions<PollingOptions> options, ILogger<AccountPoller> logger, Partner.VirtualKeyCheck virtualKeys,
    Telemetry.TelemetrySetup telemetry, CostBudget costs)
{
    private readonly PollingOptions _options = options.Value;
    private TokenRefresher Tokens => tokens;
    private TeslaFleetClient Fleet => fleet;

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
        if (account.TokenRetryAt is { } wait && wait > now)
        {
            return wait; // Tesla refused this account's token after a refresh: nothing to gain by asking sooner
        }
        var app = await apps.CheckAsync(account.Region, ct);
        if (!app.Allowed)
        {
            return app.NotBefore;
        }

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

        var budget = await costs.CheckAsync(account.TenantId, ct);   // the tenant's monthly budget: slower, no wakes, or no billed calls
        var session = new Session(this, caller, rejectedBefore: account.TokenRejectedSince is not null);
        Dictionary<string, VehicleReading> vehicles = [];
        List<EnergySiteReading> sites = [];
        DateTimeOffset? stopUntil = null;
        try
        {
            await RefreshDevicesIfDueAsync(session, account, now, ct);
            vehicles = await LoadVehicleReadingsAsync(account, now, ct);
            sites = await LoadSiteReadingsAsync(account, now, ct);
            await PollVehiclesAsync(session, account, vehicles, budget, now, ct);
            await PollSitesAsync(session, account, sites, now, ct);
            await virtualKeys.CheckIfDueAsync(session.Caller, account, now, ct); // Partner/: fleet_status about daily; never fails the poll
            await telemetry.EnsureAsync(session.Caller, account, now, ct);      // Telemetry/: stream configs written, checked, renewed; never fails the poll
            if (app.Probing && session.Accepted)
            {
                await apps.LiftedAsync(account.Region, ct);
            }
        }
        catch (TeslaApiException ex) when (ex.AppDisabled)
        {
            PollingMetrics.Polls.WithLabels("account", "app_disabled").Inc();
            await apps.DisabledAsync(account.Region, ex, ct);
            stopUntil = now.AddMinutes(_options.DisabledAppProbeMinutes);
        }
        catch (TokenRejectedException ex)
        {
            PollingMetrics.Polls.WithLabels("account", "token_rejected").Inc();
            stopUntil = TokenRejected(account, ex, now);
        }
        catch (AccountNotUsableException)
        {
            // The refresh after a 401 found the refresh token dead; the refresher marked the account needs_reconnect. What was
            // read and billed so far is still saved below; the job stops polling the account.
            PollingMetrics.Polls.WithLabels("account", "needs_reconnect").Inc();
            await SaveAsync(ct);
            return null;
        }
        if (session.Accepted && account.TokenRejectedSince is not null)
        {
            logger.LogInformation("Tesla accepts the token of account {AccountId} again", account.Id);
            (account.TokenRejectedSince, account.TokenRejectedError, account.TokenRetryAt) = (null, null, null);
        }

        if (session.Caller.BaseUrl != account.FleetApiBaseUrl)
        {
            logger.LogInformation("Account {AccountId} moved to {BaseUrl} (Tesla answered 421)", account.Id, session.Caller.BaseUrl);
            account.FleetApiBaseUrl = session.Caller.BaseUrl;
        }
        await SaveAsync(ct);
        PollingMetrics.LastSuccess.Set(time.GetUtcNow().ToUnixTimeSeconds());
        PollingMetrics.Duration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        return stopUntil ?? vehicles.Values.Select(v => v.NextPollAt).Concat(sites.Select(s => s.NextPollAt))
            .DefaultIfEmpty(now.AddSeconds(_options.ListIntervalSeconds * 5)).Min();
    }

    /// <summary>Marks the account for attention and sets its wait: at least the configured minutes, then as long as it has lasted, up to 6 h.</summary>
    private DateTimeOffset TokenRejected(TeslaAccount account, TokenRejectedException ex, DateTimeOffset now)
    {
        var since = account.TokenRejectedSince ??= now;
        var wait = TimeSpan.FromMinutes(_options.RejectedTokenRetryMinutes);
        wait = TimeSpan.FromTicks(Math.Clamp((now - since).Ticks, wait.Ticks, Math.Max(wait.Ticks, TimeSpan.FromHours(6).Ticks)));
        account.TokenRejectedError = ex.Error is { Length: > 200 } e ? e[..200] : ex.Error;
        account.TokenRetryAt = now + wait;
        logger.LogWarning("Tesla refuses the token of account {AccountId} even after a refresh ({Error}); next try after {RetryAt}",
            account.Id, account.TokenRejectedError, account.TokenRetryAt);
        return account.TokenRetryAt.Value;
    }

    /// <summary>Re-reads the account's devices from /api/1/products (free) when the last read is older than the interval.</summary>
    private async Task RefreshDevicesIfDueAsync(Session session, TeslaAccount account, DateTimeOffset now, CancellationToken ct)
    {
        if (account.ProductsCheckedAt is { } checkedAt && now - checkedAt < TimeSpan.FromHours(_options.ProductsIntervalHours)
            || !(account.GrantedScopes.Contains("vehicle_device_data") || account.GrantedScopes.Contains("energy_device_data")))
        {
            return;
        }
        try
        {
            var products = await session.CallAsync((c, t) => fleet.GetProductsAsync(c, t), ct);
            var before = (account.Vehicles.Count(v => v.RetiredAt is null), account.EnergySites.Count(s => s.RetiredAt is null));
            AccountDevices.Reconcile(db, account, products, now);
            var after = (account.Vehicles.Count(v => v.RetiredAt is null), account.EnergySites.Count(s => s.RetiredAt is null));
            if (before != after)
            {
                logger.LogInformation("Account {AccountId} now has {Vehicles} vehicles and {Sites} energy sites (was {Before})", account.Id, after.Item1, after.Item2, before);
            }
        }
        catch (TeslaApiException ex) when (!ex.AppDisabled)
        {
            // Not fatal: the devices known stay polled; tried again at the next poll.
            logger.LogWarning("Reading the products of account {AccountId} failed: {Reason}", account.Id, ex.Message);
        }
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
            catch (TeslaApiException ex) when (!ex.AppDisabled)
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
        return account.Vehicles.Where(v => v.RetiredAt is null).ToDictionary(v => v.Vin, v => stored.GetValueOrDefault(v.Id) ?? db.VehicleReadings.Add(new VehicleReading
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
        return account.EnergySites.Where(s => s.RetiredAt is null).Select(s => stored.GetValueOrDefault(s.Id) ?? db.EnergySiteReadings.Add(new EnergySiteReading
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

    /// <summary>
    /// The account's caller for this poll. A 401 is met with one refresh and one retry, unless Tesla already refused this
    /// account's token after a refresh (then the refresh would only rotate the refresh token for nothing); a 401 after that
    /// is <see cref="TokenRejectedException"/>. A 421 moves the caller to the region Tesla named, for the rest of the poll.
    /// A per-car 401 (<c>mobile_access_disabled</c>: the car turned remote access off) is that car's failure alone.
    /// </summary>
    private sealed class Session(AccountPoller owner, FleetAccount caller, bool rejectedBefore)
    {
        private FleetAccount _caller = caller;
        private bool _refreshed;

        public FleetAccount Caller => _caller;

        /// <summary>Tesla accepted this account's token at least once in this poll.</summary>
        public bool Accepted { get; private set; }

        public async Task<T> CallAsync<T>(Func<FleetAccount, CancellationToken, Task<T>> call, CancellationToken ct)
        {
            try
            {
                return Answered(await call(_caller, ct));
            }
            catch (TeslaApiException ex) when (ex.Status == 401 && ex.Error != "mobile_access_disabled")
            {
                if (rejectedBefore || _refreshed)
                {
                    throw new TokenRejectedException(ex.Error);
                }
                _refreshed = true;
                var fresh = await owner.Tokens.GetAccessTokenAsync(_caller.AccountId, ct, rejected: _caller.AccessToken);
                _caller = _caller with { AccessToken = fresh };
                try
                {
                    return Answered(await call(_caller, ct));
                }
                catch (TeslaApiException again) when (again.Status == 401 && again.Error != "mobile_access_disabled")
                {
                    throw new TokenRejectedException(again.Error);
                }
            }
            finally
            {
                if (owner.Fleet.LastBaseUrl is { } moved && moved != _caller.BaseUrl)
                {
                    _caller = _caller with { BaseUrl = moved };
                }
            }
        }

        private T Answered<T>(T answer)
        {
            Accepted = true;
            return answer;
        }
    }
}
