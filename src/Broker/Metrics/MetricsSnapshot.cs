using Broker.Accounts;
using Broker.Data;
using Broker.Polling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Metrics;

/// <summary>
/// Reads one tenant's (or every tenant's) accounts, devices, readings and API usage and writes them
/// as Prometheus series. Units are converted to base units (meters, watts, joules, m/s).
/// Readings older than <see cref="PollingOptions.StaleAfterMinutes"/> are left out rather than frozen.
/// Queries project only the columns written, untracked: no entities are materialised.
/// </summary>
public sealed class MetricsSnapshot(BrokerDbContext db, TimeProvider time, IOptions<PollingOptions> options)
{
    private const double MetersPerMile = 1609.344;

    internal async Task WriteAsync(Guid? tenantId, ExpositionWriter w, CancellationToken ct)
    {
        // Read everything as one retried unit: inside it EF streams each result into its list instead of
        // buffering every row first (what it does for a query retried on its own), which halves the garbage.
        var (tenantRows, accounts, vehicles, sites, usage, failures, tokens) =
            await db.Database.CreateExecutionStrategy().ExecuteAsync(() => ReadAsync(tenantId, ct));
        var tenants = tenantRows.ToDictionary(t => t.Id, t => t.Slug);

        var staleBefore = time.GetUtcNow().AddMinutes(-options.Value.StaleAfterMinutes);
        string Slug(Guid id) => tenants.GetValueOrDefault(id, "unknown");

        w.Family("tesla_broker_account_status", "1 for the account's current status (active, needs_reconnect, revoked).", "gauge");
        foreach (var a in accounts)
        {
            w.Sample([("tenant", Slug(a.TenantId)), ("account", a.Id.ToString("N")), ("region", a.Region), ("status", AccountStatusLabel(a.Status))], 1);
        }
        // Names only for tenants that turned them on (Tenant.AccountNamesInMetrics): an email is personal data.
        w.Family("tesla_broker_account_info", "Who an account is, for tenants that turned accountNamesInMetrics on: the label of its connect link and its email; always 1.", "gauge");
        foreach (var a in accounts.Where(a => a.Named))
        {
            w.Sample([("tenant", Slug(a.TenantId)), ("account", a.Id.ToString("N")), ("label", a.Label ?? ""), ("email", a.Email ?? "")], 1);
        }
        w.Family("tesla_broker_account_token_rejected_since_timestamp_seconds", "Since when Tesla refuses the account's token although a refresh succeeds (attention tesla_rejects_token); absent while it accepts it.", "gauge");
        foreach (var a in accounts.Where(a => a.TokenRejectedSince is not null && a.Status == AccountStatus.Active))
        {
            w.Sample([("tenant", Slug(a.TenantId)), ("account", a.Id.ToString("N"))], a.TokenRejectedSince!.Value.ToUnixTimeSeconds());
        }
        w.Family("tesla_broker_accounts", "Linked Tesla accounts by status.", "gauge");
        foreach (var g in accounts.GroupBy(a => (a.TenantId, a.Status)))
        {
            w.Sample([("tenant", Slug(g.Key.TenantId)), ("status", AccountStatusLabel(g.Key.Status))], g.Count());
        }

        w.Family("tesla_broker_api_calls_total", "Fleet API answers by device and billing category; billable=true is what Tesla charges for (status < 500). device is empty for account-wide calls.", "counter");
        foreach (var u in usage)
        {
            w.Sample([("tenant", Slug(u.TenantId)), ("account", u.AccountId.ToString("N")), ("device", u.Device), ("category", u.Category),
                ("billable", u.Billable ? "true" : "false")], u.Calls);
        }
        w.Family("tesla_broker_api_cost_dollars_total", "Estimated Fleet API cost in US dollars from Tesla's price table.", "counter");
        foreach (var g in usage.GroupBy(u => (u.TenantId, u.Category)))
        {
            w.Sample([("tenant", Slug(g.Key.TenantId)), ("category", g.Key.Category)], (double)g.Sum(u => u.CostUsd));
        }

        w.Family("tesla_broker_tenant_budget_dollars", "The tenant's monthly Fleet API budget in US dollars (PUT /api/v1/policy); absent when it has none.", "gauge");
        foreach (var t in tenantRows.Where(t => t.Budget is not null))
        {
            w.Sample([("tenant", t.Slug)], (double)t.Budget!.Value);
        }
        w.Family("tesla_broker_tenant_projected_cost_dollars", "This calendar month's Fleet API cost projected to its end from the ledger, at the tenant's last poll.", "gauge");
        foreach (var t in tenantRows.Where(t => t.Projected is not null))
        {
            w.Sample([("tenant", t.Slug)], (double)t.Projected!.Value);
        }
        w.Family("tesla_broker_tenant_budget_state", "1 for the tenant's budget state: normal, slow (projection above budget: slower polls, no wakes) or stopped (spent: no billed calls).", "gauge");
        foreach (var t in tenantRows.Where(t => t.Budget is not null))
        {
            w.Sample([("tenant", t.Slug), ("state", t.BudgetState)], 1);
        }

        w.Family("tesla_broker_api_failures_total", "Fleet API attempts that failed, by reason (rate_limited, unauthorized, client_error, server_error, timeout, unreachable, malformed) and HTTP status (0: no answer). 408 asleep is not a failure.", "counter");
        foreach (var x in failures)
        {
            w.Sample(ExpositionWriter.Labels(("tenant", Slug(x.TenantId)), ("account", x.AccountId.ToString("N")), ("reason", x.Reason),
                ("status", x.Status.ToString(System.Globalization.CultureInfo.InvariantCulture))), x.Calls);
        }

        w.Family("tesla_broker_token_expiry_timestamp_seconds", "When the account's current Tesla access token expires; the broker refreshes it before then.", "gauge");
        var tokenLabels = tokens.Select(t => (Token: t, Labels: ExpositionWriter.Labels(("tenant", Slug(t.TenantId)), ("account", t.AccountId.ToString("N"))))).ToList();
        foreach (var (t, labels) in tokenLabels)
        {
            w.Sample(labels, t.AccessTokenExpiresAt.ToUnixTimeSeconds());
        }
        w.Family("tesla_broker_token_refreshable", "1 when the account holds a refresh token (offline_access granted), 0 when it must be reconnected once the access token expires.", "gauge");
        foreach (var (t, labels) in tokenLabels)
        {
            w.Sample(labels, t.HasRefresh ? 1 : 0);
        }

        if (tenantId is null)
        {
            await WriteTeslaAppAsync(w, ct);
        }
        VehicleSeries.Write(w, vehicles, Slug, staleBefore);
        EnergySiteSeries.Write(w, sites, Slug, staleBefore);
    }

    /// <summary>Operator only: whether Tesla has disabled the app (billing limit, 402), per realm; "global" is always there to alert on.</summary>
    private async Task WriteTeslaAppAsync(ExpositionWriter w, CancellationToken ct)
    {
        var apps = await db.TeslaApps.AsNoTracking().OrderBy(a => a.Realm).Select(a => new { a.Realm, a.DisabledSince }).ToListAsync(ct);
        if (!apps.Any(a => a.Realm == "global"))
        {
            apps.Insert(0, new { Realm = "global", DisabledSince = (DateTimeOffset?)null });
        }
        w.Family("tesla_broker_tesla_app_disabled", "1 while Tesla has disabled this app in the realm (billing limit: 403 EXCEEDED_LIMIT, or 402): no tenant is polled.", "gauge");
        foreach (var a in apps)
        {
            w.Sample([("realm", a.Realm)], a.DisabledSince is null ? 0 : 1);
        }
        w.Family("tesla_broker_tesla_app_disabled_since_timestamp_seconds", "When Tesla disabled this app in the realm.", "gauge");
        foreach (var a in apps.Where(a => a.DisabledSince is not null))
        {
            w.Sample([("realm", a.Realm)], a.DisabledSince!.Value.ToUnixTimeSeconds());
        }
    }

    private sealed record AccountRow(Guid Id, Guid TenantId, AccountStatus Status, string Region, DateTimeOffset? TokenRejectedSince, bool Named, string? Label, string? Email);
    private sealed record UsageRow(Guid TenantId, Guid AccountId, string Device, string Category, bool Billable, long Calls, decimal CostUsd);
    private sealed record TenantRow(Guid Id, string Slug, decimal? Budget, decimal? Projected, string BudgetState);

    private sealed record FailureRow(Guid TenantId, Guid AccountId, string Reason, int Status, long Calls);
    private sealed record TokenRow(Guid TenantId, Guid AccountId, DateTimeOffset AccessTokenExpiresAt, bool HasRefresh);

    private async Task<(List<TenantRow>, List<AccountRow>, List<VehicleRow>, List<SiteRow>, List<UsageRow>, List<FailureRow>, List<TokenRow>)> ReadAsync(
        Guid? tenantId, CancellationToken ct)
    {
        var tenantRows = await db.Tenants.AsNoTracking().Where(t => tenantId == null || t.Id == tenantId)
            .Select(t => new TenantRow(t.Id, t.Slug, t.MonthlyBudgetUsd, t.BudgetProjectedUsd, t.BudgetState)).ToListAsync(ct);

        var accounts = await (from a in db.TeslaAccounts.AsNoTracking()
                              where tenantId == null || a.TenantId == tenantId
                              join t in db.Tenants.AsNoTracking() on a.TenantId equals t.Id
                              join l in db.ConnectLinks.AsNoTracking() on a.ConnectLinkId equals (Guid?)l.Id into ls
                              from l in ls.DefaultIfEmpty()
                              select new AccountRow(a.Id, a.TenantId, a.Status, a.Region, a.TokenRejectedSince, t.AccountNamesInMetrics,
                                  t.AccountNamesInMetrics ? l!.Label : null, t.AccountNamesInMetrics ? a.Email : null)).ToListAsync(ct);
        var vehicles = await (from v in db.Vehicles.AsNoTracking()
                              where tenantId == null || v.TenantId == tenantId
                              where v.RetiredAt == null
                              where !db.TeslaAccounts.Any(a => a.Id == v.AccountId && a.Status == AccountStatus.Revoked)
                              join r in db.VehicleReadings.AsNoTracking() on v.Id equals r.VehicleId into rs
                              from r in rs.DefaultIfEmpty()
                              select new VehicleRow(v.TenantId, v.AccountId, v.Vin, v.DisplayName, r != null, r!.State,
                                  r.LastSeenAt, r.DataAt, r.BatteryLevel, r.UsableBatteryLevel, r.BatteryRangeMiles,
                                  r.ChargingState, r.ChargerPowerKw, r.ChargeLimitSoc, r.ChargeEnergyAddedKwh, r.OdometerMiles,
                                  r.InsideTempC, r.OutsideTempC, r.Locked, r.SentryMode, r.ShiftState, r.SpeedMph,
                                  r.Latitude, r.Longitude, r.CarType, r.FirmwareVersion)).ToListAsync(ct);
        var sites = await (from s in db.EnergySites.AsNoTracking()
                           where tenantId == null || s.TenantId == tenantId
                           where s.RetiredAt == null
                           where !db.TeslaAccounts.Any(a => a.Id == s.AccountId && a.Status == AccountStatus.Revoked)
                           join r in db.EnergySiteReadings.AsNoTracking() on s.Id equals r.EnergySiteId into rs
                           from r in rs.DefaultIfEmpty()
                           select new SiteRow(s.TenantId, s.AccountId, s.EnergySiteId, s.SiteName, s.ResourceType, s.HasBattery, r!.DataAt,
                               r.SolarPowerW, r.BatteryPowerW, r.LoadPowerW, r.GridPowerW, r.PercentageCharged, r.EnergyLeftWh,
                               r.TotalPackEnergyWh, r.GridStatus)).ToListAsync(ct);
        // Counters since the account was connected: the months of the ledger summed.
        var usage = await db.ApiUsage.AsNoTracking().Where(u => tenantId == null || u.TenantId == tenantId)
            .GroupBy(u => new { u.TenantId, u.AccountId, u.Device, u.Category, u.Billable })
            .Select(g => new UsageRow(g.Key.TenantId, g.Key.AccountId, g.Key.Device, g.Key.Category, g.Key.Billable, g.Sum(u => u.Calls), g.Sum(u => u.CostUsd)))
            .ToListAsync(ct);
        var failures = await db.ApiFailures.AsNoTracking().Where(u => tenantId == null || u.TenantId == tenantId)
            .Select(u => new FailureRow(u.TenantId, u.AccountId, u.Reason, u.Status, u.Calls)).ToListAsync(ct);
        var tokens = await (from t in db.TeslaTokens.AsNoTracking()
                            join a in db.TeslaAccounts.AsNoTracking() on t.AccountId equals a.Id
                            where (tenantId == null || a.TenantId == tenantId) && a.Status == AccountStatus.Active
                            select new TokenRow(a.TenantId, t.AccountId, t.AccessTokenExpiresAt, t.RefreshTokenCipher != null)).ToListAsync(ct);
        return (tenantRows, accounts, vehicles, sites, usage, failures, tokens);
    }

    private static string AccountStatusLabel(AccountStatus status) => status switch
    {
        AccountStatus.Active => "active",
        AccountStatus.NeedsReconnect => "needs_reconnect",
        _ => "revoked",
    };

    internal static double Meters(double miles) => miles * MetersPerMile;
}
