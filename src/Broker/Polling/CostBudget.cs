using Broker.Admin;
using Broker.Data;
using Microsoft.EntityFrameworkCore;

namespace Broker.Polling;

public enum BudgetMode { Normal, Slow, Stopped }

/// <param name="Stretch">How much longer than usual to wait between billed reads (1 when not slowed).</param>
public sealed record BudgetDecision(BudgetMode Mode, double Stretch)
{
    public static readonly BudgetDecision Unlimited = new(BudgetMode.Normal, 1);
    public bool MayWake => Mode == BudgetMode.Normal;
    public bool MayRead => Mode != BudgetMode.Stopped;
}

/// <summary>
/// A tenant's monthly Fleet API budget (<see cref="Tenants.Tenant.MonthlyBudgetUsd"/>, <c>PUT /api/v1/policy</c>), checked at the
/// start of each of its accounts' polls against the ledger (<c>api_usage</c>, this calendar month in UTC, streamed signals included):
/// <list type="bullet">
/// <item>The month is projected linearly: spent so far, plus the rate since the month began (or since the tenant was made, if
/// later; at least an hour) over the hours left.</item>
/// <item><c>slow</c> once the projection passes the budget: billed reads wait that many times longer (up to 8×), and cars are
/// never woken.</item>
/// <item><c>stopped</c> once the spend reaches it: no billed call at all (vehicle_data, wakes). The free vehicle list and energy
/// live status go on, and so does streaming (Tesla bills signals, but a stream is the cheapest reading there is and stopping it
/// means deleting configs); the month's next day 1 starts afresh.</item>
/// <item>Each change of state is written once to the audit log (<c>tenant.budget_state_changed</c>), whichever replica sees it.</item>
/// <item>A replica sums the ledger and writes the tenant's figures at most once a <see cref="RecheckAfter"/> per tenant
/// (<see cref="BudgetChecks"/>): a tenant of a thousand accounts polls many times a second, and each of those reading the whole
/// month and writing the same tenant row would queue them all on its lock. A changed budget is seen at the next poll.</item>
/// </list>
/// Tesla's own billing limit still applies above this: at it Tesla disables the whole app (TESLA.md §7).
/// </summary>
public sealed class CostBudget(BrokerDbContext db, AuditLog audit, TimeProvider time, BudgetChecks recent, ILogger<CostBudget> logger)
{
    public const double MaxStretch = 8;
    public static readonly TimeSpan RecheckAfter = TimeSpan.FromMinutes(1);

    public async Task<BudgetDecision> CheckAsync(Guid tenantId, CancellationToken ct)
    {
        var tenant = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId).Select(t => new { t.MonthlyBudgetUsd, t.CreatedAt }).SingleAsync(ct);
        var budget = tenant.MonthlyBudgetUsd;
        var now = time.GetUtcNow();
        var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        if (recent.Get(tenantId, budget, monthStart, now - RecheckAfter) is { } known)
        {
            return known;
        }
        var monthEnd = monthStart.AddMonths(1);
        var spent = await db.ApiUsage.AsNoTracking().Where(u => u.TenantId == tenantId && u.Month == DateOnly.FromDateTime(monthStart.UtcDateTime))
            .SumAsync(u => u.CostUsd, ct);
        // The rate since the tenant began spending this month (not since the 1st: a tenant made on the 20th would look frugal),
        // over at least an hour so the first polls do not swing it, carried to the month's end.
        var from = tenant.CreatedAt > monthStart ? tenant.CreatedAt : monthStart;
        var elapsedHours = Math.Max(1, (now - from).TotalHours);
        var projected = spent + spent / (decimal)elapsedHours * (decimal)Math.Max(0, (monthEnd - now).TotalHours);
        var (mode, stretch) = budget switch
        {
            null => (BudgetMode.Normal, 1d),
            { } b when spent >= b => (BudgetMode.Stopped, 1d),
            { } b when projected > b => (BudgetMode.Slow, Math.Clamp((double)(projected / b), 1, MaxStretch)),
            _ => (BudgetMode.Normal, 1d),
        };
        var state = mode.ToString().ToLowerInvariant();
        // Only the replica whose update moves the state writes the audit entry.
        var moved = await db.Tenants.Where(t => t.Id == tenantId && t.BudgetState != state).ExecuteUpdateAsync(s => s
            .SetProperty(t => t.BudgetState, state).SetProperty(t => t.BudgetStateSince, now)
            .SetProperty(t => t.BudgetSpentUsd, spent).SetProperty(t => t.BudgetProjectedUsd, projected), ct);
        if (moved == 0)
        {
            await db.Tenants.Where(t => t.Id == tenantId).ExecuteUpdateAsync(s => s
                .SetProperty(t => t.BudgetSpentUsd, spent).SetProperty(t => t.BudgetProjectedUsd, projected), ct);
        }
        else
        {
            audit.Add("tenant.budget_state_changed", tenantId, detail: $"state={state} spent_usd={spent:0.00} projected_usd={projected:0.00} budget_usd={budget:0.00}");
            await db.SaveChangesAsync(ct); // checked before the poll changes anything, so this writes the audit entry alone
            logger.LogInformation("Tenant {TenantId} budget state {State}: spent ${Spent:0.00}, projected ${Projected:0.00} of ${Budget:0.00}",
                tenantId, state, spent, projected, budget);
        }
        var decision = new BudgetDecision(mode, stretch);
        recent.Set(tenantId, budget, monthStart, now, decision);
        return decision;
    }
}

/// <summary>This replica's last budget decision per tenant, for the budget and month it was made under (a singleton).</summary>
public sealed class BudgetChecks
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (decimal? Budget, DateTimeOffset Month, DateTimeOffset At, BudgetDecision Decision)> _last = new();

    /// <summary>The decision made since <paramref name="notBefore"/> under this budget in this month, if any.</summary>
    public BudgetDecision? Get(Guid tenantId, decimal? budget, DateTimeOffset month, DateTimeOffset notBefore) =>
        _last.TryGetValue(tenantId, out var last) && last.Budget == budget && last.Month == month && last.At > notBefore ? last.Decision : null;

    public void Set(Guid tenantId, decimal? budget, DateTimeOffset month, DateTimeOffset at, BudgetDecision decision) =>
        _last[tenantId] = (budget, month, at, decision);
}
