using Broker.Accounts;
using Broker.Data;
using Broker.Polling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Broker.Metrics;

/// <summary>
/// Reads one tenant's (or every tenant's) accounts, devices, readings and API usage and turns them
/// into Prometheus series. Units are converted to base units (meters, watts, joules, m/s).
/// Readings older than <see cref="PollingOptions.StaleAfterMinutes"/> are left out rather than frozen.
/// </summary>
public sealed class MetricsSnapshot(BrokerDbContext db, TimeProvider time, IOptions<PollingOptions> options)
{
    private const double MetersPerMile = 1609.344;

    public async Task<CollectorRegistry> BuildAsync(Guid? tenantId, CancellationToken ct)
    {
        var tenants = await db.Tenants.AsNoTracking().Where(t => tenantId == null || t.Id == tenantId)
            .ToDictionaryAsync(t => t.Id, t => t.Slug, ct);
        var accounts = await db.TeslaAccounts.AsNoTracking().Where(a => tenantId == null || a.TenantId == tenantId)
            .Select(a => new { a.Id, a.TenantId, a.Status, a.Region }).ToListAsync(ct);
        var vehicles = await (from v in db.Vehicles.AsNoTracking()
                              where tenantId == null || v.TenantId == tenantId
                              where !db.TeslaAccounts.Any(a => a.Id == v.AccountId && a.Status == AccountStatus.Revoked)
                              join r in db.VehicleReadings.AsNoTracking() on v.Id equals r.VehicleId into rs
                              from r in rs.DefaultIfEmpty()
                              select new { Vehicle = v, Reading = r }).ToListAsync(ct);
        var sites = await (from s in db.EnergySites.AsNoTracking()
                           where tenantId == null || s.TenantId == tenantId
                           where !db.TeslaAccounts.Any(a => a.Id == s.AccountId && a.Status == AccountStatus.Revoked)
                           join r in db.EnergySiteReadings.AsNoTracking() on s.Id equals r.EnergySiteId into rs
                           from r in rs.DefaultIfEmpty()
                           select new { Site = s, Reading = r }).ToListAsync(ct);
        var usage = await db.ApiUsage.AsNoTracking().Where(u => tenantId == null || u.TenantId == tenantId).ToListAsync(ct);
        var failures = await db.ApiFailures.AsNoTracking().Where(u => tenantId == null || u.TenantId == tenantId).ToListAsync(ct);
        var tokens = await (from t in db.TeslaTokens.AsNoTracking()
                            join a in db.TeslaAccounts.AsNoTracking() on t.AccountId equals a.Id
                            where (tenantId == null || a.TenantId == tenantId) && a.Status == AccountStatus.Active
                            select new { a.TenantId, t.AccountId, t.AccessTokenExpiresAt, HasRefresh = t.RefreshTokenCipher != null }).ToListAsync(ct);

        var registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(registry);
        var now = time.GetUtcNow();
        var staleBefore = now.AddMinutes(-options.Value.StaleAfterMinutes);
        string Slug(Guid id) => tenants.GetValueOrDefault(id, "unknown");

        var accountStatus = f.CreateGauge("tesla_broker_account_status", "1 for the account's current status (active, needs_reconnect, revoked).", "tenant", "account", "region", "status");
        var accountsByStatus = f.CreateGauge("tesla_broker_accounts", "Linked Tesla accounts by status.", "tenant", "status");
        foreach (var a in accounts)
        {
            var status = AccountStatusLabel(a.Status);
            accountStatus.WithLabels(Slug(a.TenantId), a.Id.ToString("N"), a.Region, status).Set(1);
        }
        foreach (var g in accounts.GroupBy(a => (a.TenantId, a.Status)))
        {
            accountsByStatus.WithLabels(Slug(g.Key.TenantId), AccountStatusLabel(g.Key.Status)).Set(g.Count());
        }

        var calls = f.CreateCounter("tesla_broker_api_calls_total", "Fleet API answers by device and billing category; billable=true is what Tesla charges for (status < 500). device is empty for account-wide calls.", "tenant", "account", "device", "category", "billable");
        var cost = f.CreateCounter("tesla_broker_api_cost_dollars_total", "Estimated Fleet API cost in US dollars from Tesla's price table.", "tenant", "category");
        foreach (var u in usage)
        {
            calls.WithLabels(Slug(u.TenantId), u.AccountId.ToString("N"), u.Device, u.Category, u.Billable ? "true" : "false").IncTo(u.Calls);
        }
        foreach (var g in usage.GroupBy(u => (u.TenantId, u.Category)))
        {
            cost.WithLabels(Slug(g.Key.TenantId), g.Key.Category).IncTo((double)g.Sum(u => u.CostUsd));
        }

        var failed = f.CreateCounter("tesla_broker_api_failures_total", "Fleet API attempts that failed, by reason (rate_limited, unauthorized, client_error, server_error, timeout, unreachable, malformed) and HTTP status (0: no answer). 408 asleep is not a failure.", "tenant", "account", "reason", "status");
        foreach (var x in failures)
        {
            failed.WithLabels(Slug(x.TenantId), x.AccountId.ToString("N"), x.Reason, x.Status.ToString(System.Globalization.CultureInfo.InvariantCulture)).IncTo(x.Calls);
        }

        var tokenExpiry = f.CreateGauge("tesla_broker_token_expiry_timestamp_seconds",
            "When the account's current Tesla access token expires; the broker refreshes it before then.", "tenant", "account");
        var refreshable = f.CreateGauge("tesla_broker_token_refreshable",
            "1 when the account holds a refresh token (offline_access granted), 0 when it must be reconnected once the access token expires.", "tenant", "account");
        foreach (var t in tokens)
        {
            tokenExpiry.WithLabels(Slug(t.TenantId), t.AccountId.ToString("N")).Set(t.AccessTokenExpiresAt.ToUnixTimeSeconds());
            refreshable.WithLabels(Slug(t.TenantId), t.AccountId.ToString("N")).Set(t.HasRefresh ? 1 : 0);
        }

        var vehicleSeries = new VehicleSeries(f);
        foreach (var x in vehicles)
        {
            vehicleSeries.Add(Slug(x.Vehicle.TenantId), x.Vehicle, x.Reading, staleBefore);
        }
        var siteSeries = new EnergySiteSeries(f);
        foreach (var x in sites)
        {
            siteSeries.Add(Slug(x.Site.TenantId), x.Site, x.Reading, staleBefore);
        }
        return registry;
    }

    private static string AccountStatusLabel(AccountStatus status) => status switch
    {
        AccountStatus.Active => "active",
        AccountStatus.NeedsReconnect => "needs_reconnect",
        _ => "revoked",
    };

    internal static double Meters(double miles) => miles * MetersPerMile;
}
