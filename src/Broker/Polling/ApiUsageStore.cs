using Broker.Data;
using Broker.Tesla;
using Microsoft.EntityFrameworkCore;

namespace Broker.Polling;

/// <summary>
/// Adds counted Fleet API calls to <c>api_usage</c> and failures to <c>api_failures</c>: one statement each, however many keys
/// (a telemetry batch bills up to a couple of thousand cars), the rows in key order so two replicas lock them in the same order.
/// </summary>
public static class ApiUsageStore
{
    public static async Task FlushAsync(this FleetUsage usage, BrokerDbContext db, CancellationToken ct)
    {
        var calls = usage.Drain().OrderBy(c => c.Account).ThenBy(c => c.Device, StringComparer.Ordinal).ThenBy(c => c.Category).ThenBy(c => c.Billable).ToList();
        if (calls.Count > 0)
        {
            var accounts = calls.Select(c => c.Account).ToArray();
            var devices = calls.Select(c => c.Device).ToArray();
            var tenants = calls.Select(c => c.Tenant).ToArray();
            var categories = calls.Select(c => c.Category.ToString().ToLowerInvariant()).ToArray();
            var billable = calls.Select(c => c.Billable).ToArray();
            var counts = calls.Select(c => c.Calls).ToArray();
            var costs = calls.Select(c => c.Billable ? c.Calls * FleetUsage.PriceUsd(c.Category) : 0m).ToArray();
            // The month is the database's (UTC), as the ledger of one replica and of the next must agree on it.
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO api_usage (account_id, device, tenant_id, category, billable, month, calls, cost_usd)
                SELECT u.account_id, u.device, u.tenant_id, u.category, u.billable, date_trunc('month', now() AT TIME ZONE 'UTC')::date, u.calls, u.cost_usd
                FROM unnest({accounts}::uuid[], {devices}::text[], {tenants}::uuid[], {categories}::text[], {billable}::boolean[], {counts}::bigint[], {costs}::numeric[])
                    AS u(account_id, device, tenant_id, category, billable, calls, cost_usd)
                ON CONFLICT (account_id, device, category, billable, month)
                DO UPDATE SET calls = api_usage.calls + EXCLUDED.calls, cost_usd = api_usage.cost_usd + EXCLUDED.cost_usd
                """, ct);
        }
        var failures = usage.DrainFailures().OrderBy(f => f.Account).ThenBy(f => f.Reason, StringComparer.Ordinal).ThenBy(f => f.Status).ToList();
        if (failures.Count > 0)
        {
            var accounts = failures.Select(f => f.Account).ToArray();
            var reasons = failures.Select(f => f.Reason).ToArray();
            var statuses = failures.Select(f => f.Status).ToArray();
            var tenants = failures.Select(f => f.Tenant).ToArray();
            var counts = failures.Select(f => f.Calls).ToArray();
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO api_failures (account_id, reason, status, tenant_id, calls)
                SELECT * FROM unnest({accounts}::uuid[], {reasons}::text[], {statuses}::integer[], {tenants}::uuid[], {counts}::bigint[])
                ON CONFLICT (account_id, reason, status) DO UPDATE SET calls = api_failures.calls + EXCLUDED.calls
                """, ct);
        }
    }
}
