namespace Broker.Tenants;

/// <summary>A household, fleet or customer organisation that owns linked Tesla accounts.</summary>
public sealed class Tenant
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Slug { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>
    /// Wake this tenant's sleeping cars once they have slept this long (the seed exporter's
    /// "sleep allowed for N"). Null: never wake, the default; a wake costs $0.02 and battery.
    /// </summary>
    public int? WakeAfterSleepMinutes { get; set; }

    /// <summary>
    /// Export <c>tesla_broker_account_info</c> (each account's connect-link label and email) in /metrics, so dashboards
    /// and alerts can name accounts. Off by default: an email is personal data, and whoever holds a metrics credential reads it.
    /// </summary>
    public bool AccountNamesInMetrics { get; set; }

    /// <summary>
    /// The commands this tenant's keys and members may send to cars (Commands/CommandCatalog.cs names them). Charging
    /// commands only by default: unlocking a car is not something an energy app should be able to do by accident.
    /// </summary>
    public string[] AllowedCommands { get; set; } = [.. Commands.CommandCatalog.DefaultAllowed];

    /// <summary>
    /// What the tenant is prepared to spend on Tesla's Fleet API per calendar month (UTC), in US dollars; null: no limit.
    /// See <see cref="Polling.CostBudget"/> for what the broker does as the month's projection nears it.
    /// </summary>
    public decimal? MonthlyBudgetUsd { get; set; }
    /// <summary>normal, slow (the month's projection is above the budget) or stopped (the budget is spent), at the last check.</summary>
    public string BudgetState { get; set; } = "normal";
    public DateTimeOffset? BudgetStateSince { get; set; }
    /// <summary>This month's estimated Fleet API cost so far, and projected to the month's end, at the last check.</summary>
    public decimal? BudgetSpentUsd { get; set; }
    public decimal? BudgetProjectedUsd { get; set; }
}

/// <summary>
/// A tenant's credential for the tenant API. Only a SHA-256 hash of the key is stored: the key
/// carries 256 bits of entropy, so a slow password hash would add nothing but latency.
/// </summary>
public sealed class TenantApiKey
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid TenantId { get; set; }
    public Tenant Tenant { get; set; } = null!;
    public required byte[] KeyHash { get; set; }
    /// <summary>The first characters of the key, so an operator can tell keys apart.</summary>
    public required string Prefix { get; set; }
    public string? Label { get; set; }
    /// <summary>Admin (the default, as before scopes existed), Member, or Metrics (reads its tenant's /metrics only).</summary>
    public TenantKeyScope Scope { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}
