using Broker.Data;
using Broker.Tesla;
using Microsoft.EntityFrameworkCore;

namespace Broker.Polling;

/// <summary>Adds counted Fleet API calls to <c>api_usage</c> and failures to <c>api_failures</c> (one upsert per key).</summary>
public static class ApiUsageStore
{
    public static async Task FlushAsync(this FleetUsage usage, BrokerDbContext db, CancellationToken ct)
    {
        foreach (var (tenant, account, device, category, billable, calls) in usage.Drain())
        {
            var name = category.ToString().ToLowerInvariant();
            var cost = billable ? calls * FleetUsage.PriceUsd(category) : 0m;
            // The month is the database's (UTC), as the ledger of one replica and of the next must agree on it.
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO api_usage (account_id, device, tenant_id, category, billable, month, calls, cost_usd)
                VALUES ({account}, {device}, {tenant}, {name}, {billable}, date_trunc('month', now() AT TIME ZONE 'UTC')::date, {calls}, {cost})
                ON CONFLICT (account_id, device, category, billable, month)
                DO UPDATE SET calls = api_usage.calls + EXCLUDED.calls, cost_usd = api_usage.cost_usd + EXCLUDED.cost_usd
                """, ct);
        }
        foreach (var (tenant, account, reason, status, calls) in usage.DrainFailures())
        {
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO api_failures (account_id, reason, status, tenant_id, calls)
                VALUES ({account}, {reason}, {status}, {tenant}, {calls})
                ON CONFLICT (account_id, reason, status) DO UPDATE SET calls = api_failures.calls + EXCLUDED.calls
                """, ct);
        }
    }
}
