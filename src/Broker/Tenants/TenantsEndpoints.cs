using System.ComponentModel.DataAnnotations;
using Broker.Admin;
using Broker.Data;
using Broker.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tenants;

/// <summary>
/// The tenant's policy; a PUT replaces all of it, so the wake setting must be sent (a PUT that forgot it would quietly turn
/// waking off). <paramref name="WakeAfterSleepMinutes"/>: null never wakes a car (the default).
/// <paramref name="AccountNamesInMetrics"/>: export each account's link label and email as <c>tesla_broker_account_info</c> (default off).
/// <paramref name="MonthlyBudgetUsd"/>: the most to spend on Tesla's Fleet API per calendar month (UTC), in US dollars; null or
/// left out: no limit. Near it polling slows and cars are not woken; at it no billed call is made (Polling/CostBudget.cs).
/// <paramref name="AllowedCommands"/>: the commands the tenant's keys and members may send to cars; left out: the charging
/// commands only (Commands/CommandCatalog.cs). <c>[]</c> allows none.
/// </summary>
public sealed record PolicyRequest(
    [property: Range(1, 10080), System.Text.Json.Serialization.JsonRequired] int? WakeAfterSleepMinutes, bool AccountNamesInMetrics = false,
    [property: Range(TenantPolicy.MinBudgetUsd, TenantPolicy.MaxBudgetUsd), Cents] decimal? MonthlyBudgetUsd = null,
    [property: KnownCommands] string[]? AllowedCommands = null);

/// <summary>Command names from Commands/CommandCatalog.cs, each once.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class KnownCommandsAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext context) =>
        value is not string[] names ? ValidationResult.Success
        : names.Any(n => n is null) ? new ValidationResult("null is not a command.", [context.MemberName!])
        : names.FirstOrDefault(n => Commands.CommandCatalog.Find(n ?? "") is null) is { } unknown
            ? new ValidationResult($"Unknown command '{Hosting.TextInput.Clean(unknown)}'; known: {string.Join(", ", Commands.CommandCatalog.All.Select(c => c.Name))}.", [context.MemberName!])
        : names.Distinct(StringComparer.Ordinal).Count() != names.Length ? new ValidationResult("Each command once.", [context.MemberName!])
        : ValidationResult.Success;
}

/// <summary>An amount of money in whole cents: 12.345 is refused, not rounded (the console's budget form says the same).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class CentsAttribute() : ValidationAttribute("The {0} field must have at most two decimals.")
{
    public override bool IsValid(object? value) => value is not decimal d || decimal.Round(d, 2) == d;
}

/// <summary>The policy, and where the month stands against the budget: <c>BudgetState</c> normal, slow or stopped, at the last poll.</summary>
public sealed record PolicyResponse(int? WakeAfterSleepMinutes, bool AccountNamesInMetrics, decimal? MonthlyBudgetUsd = null,
    string BudgetState = "normal", decimal? SpentThisMonthUsd = null, decimal? ProjectedThisMonthUsd = null, string[]? AllowedCommands = null);

public static class TenantsEndpoints
{
    public static void MapTenantPolicy(RouteGroupBuilder tenant)
    {
        var group = tenant.MapGroup("/policy").WithTags("Policy");

        group.MapGet("/", async Task<Ok<PolicyResponse>> (HttpContext http, BrokerDbContext db) =>
        {
            var tenantId = http.TenantId();
            return TypedResults.Ok(await db.Tenants.Where(t => t.Id == tenantId)
                .Select(t => new PolicyResponse(t.WakeAfterSleepMinutes, t.AccountNamesInMetrics, t.MonthlyBudgetUsd, t.BudgetState, t.BudgetSpentUsd, t.BudgetProjectedUsd, t.AllowedCommands))
                .SingleAsync(http.RequestAborted));
        }).Describe("getPolicy", "Get the tenant's policy");

        group.MapPut("/", async Task<Ok<PolicyResponse>> (PolicyRequest request, HttpContext http, BrokerDbContext db, AuditLog audit, Polling.CostBudget costs) =>
        {
            var tenantId = http.TenantId();
            var allowed = request.AllowedCommands ?? Commands.CommandCatalog.DefaultAllowed;   // left out: charging only, like a new tenant
            await db.Tenants.Where(t => t.Id == tenantId).ExecuteUpdateAsync(s => s
                .SetProperty(t => t.WakeAfterSleepMinutes, request.WakeAfterSleepMinutes)
                .SetProperty(t => t.AccountNamesInMetrics, request.AccountNamesInMetrics)
                .SetProperty(t => t.AllowedCommands, allowed), http.RequestAborted);
            await TenantPolicy.SetBudgetAsync(db, audit, costs, tenantId, request.MonthlyBudgetUsd, http.RequestAborted,
                $"wake_after_sleep_minutes={request.WakeAfterSleepMinutes?.ToString() ?? "never"} account_names_in_metrics={(request.AccountNamesInMetrics ? "on" : "off")} "
                + $"allowed_commands={string.Join(",", allowed)} ");
            return TypedResults.Ok(await db.Tenants.Where(t => t.Id == tenantId)
                .Select(t => new PolicyResponse(t.WakeAfterSleepMinutes, t.AccountNamesInMetrics, t.MonthlyBudgetUsd, t.BudgetState, t.BudgetSpentUsd, t.BudgetProjectedUsd, t.AllowedCommands))
                .SingleAsync(http.RequestAborted));
        }).Describe("replacePolicy", "Replace the tenant's policy: waking, account names in /metrics, the monthly Fleet API budget, the commands its keys may send").RequireTenantRole(People.TenantRole.Admin);
    }
}

/// <summary>The budget part of the policy, which the API's PUT and the console's budget form both change.</summary>
public static class TenantPolicy
{
    public const double MinBudgetUsd = 0.01, MaxBudgetUsd = 1_000_000;

    /// <summary>
    /// Sets the monthly budget (null: none) and writes <c>tenant.policy_changed</c>, its detail led by <paramref name="otherChanges"/>.
    /// Then judges the month against the new budget at once, as a poll would (state, spend and projection written, a change of
    /// state audited), so the answer and the console show where the tenant stands now, not where it stood under the old budget.
    /// </summary>
    public static async Task SetBudgetAsync(BrokerDbContext db, AuditLog audit, Polling.CostBudget costs, Guid tenantId, decimal? budgetUsd, CancellationToken ct,
        string otherChanges = "")
    {
        await db.Tenants.Where(t => t.Id == tenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.MonthlyBudgetUsd, budgetUsd), ct);
        audit.Add("tenant.policy_changed", tenantId,
            detail: $"{otherChanges}monthly_budget_usd={budgetUsd?.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
        await db.SaveChangesAsync(ct);
        await costs.CheckAsync(tenantId, ct);
    }
}

public sealed record CreateTenantRequest([property: Required, MaxLength(64), SingleLine] string Slug, [property: Required, MaxLength(200), SingleLine] string Name);

public sealed record TenantResponse(Guid Id, string Slug, string Name, DateTimeOffset CreatedAt, int? WakeAfterSleepMinutes);

/// <param name="Scope">admin (the default): the tenant as an admin; member: as a member; metrics: GET /metrics of the tenant, nothing else.</param>
public sealed record CreateApiKeyRequest([property: MaxLength(200), SingleLine] string? Label, TenantKeyScope Scope = TenantKeyScope.Admin);

public sealed record ApiKeyResponse(Guid Id, string Prefix, string? Label, string Scope, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Key = null);

/// <summary>The operator's view of tenants: list and create (<c>/api/v1/tenants</c>).</summary>
public static class OperatorTenantsEndpoints
{
    public static RouteGroupBuilder MapTenants(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/v1/tenants").WithTags("Tenants").RequireAuthorization(AdminPolicies.Operator);

        group.MapGet("/", async Task<Ok<List<TenantResponse>>> (BrokerDbContext db, HttpContext http) =>
            TypedResults.Ok(await db.Tenants.AsNoTracking().OrderBy(t => t.Slug)
                .Select(t => new TenantResponse(t.Id, t.Slug, t.Name, t.CreatedAt, t.WakeAfterSleepMinutes)).ToListAsync(http.RequestAborted)))
            .Describe("listTenants", "List tenants (operator)");

        group.MapPost("/", async Task<Results<Created<TenantResponse>, ValidationProblem, Conflict<ProblemDetailsLike>>> (
            CreateTenantRequest request, TenantProvisioning provisioning, HttpContext http) =>
        {
            if (TenantProvisioning.SlugProblem(request.Slug) is { } problem)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["slug"] = [problem] });
            }
            var tenant = await provisioning.CreateTenantAsync(request.Slug, request.Name, http.RequestAborted);
            return tenant is null
                ? TypedResults.Conflict(new ProblemDetailsLike("Conflict", 409, $"A tenant with slug '{request.Slug}' exists."))
                : TypedResults.Created($"/api/v1/tenants/{tenant.Slug}", new TenantResponse(tenant.Id, tenant.Slug, tenant.Name, tenant.CreatedAt, null));
        }).Describe("createTenant", "Create a tenant (operator)");
        return group;
    }
}

/// <summary>A problem body for typed results that need one alongside other typed results.</summary>
public sealed record ProblemDetailsLike(string Title, int Status, string Detail);

/// <summary>The tenant's API keys: created and revoked by tenant admins, shown once.</summary>
public static class ApiKeysEndpoints
{
    public static void MapApiKeys(RouteGroupBuilder tenant)
    {
        var group = tenant.MapGroup("/api-keys").WithTags("API keys").RequireTenantRole(People.TenantRole.Admin);

        group.MapGet("/", async Task<Ok<List<ApiKeyResponse>>> (HttpContext http, BrokerDbContext db) =>
        {
            var tenantId = http.TenantId();
            return TypedResults.Ok(await db.TenantApiKeys.AsNoTracking().Where(k => k.TenantId == tenantId).OrderBy(k => k.CreatedAt)
                .Select(k => new ApiKeyResponse(k.Id, k.Prefix, k.Label, k.Scope.Name(), k.CreatedAt, k.RevokedAt, null)).ToListAsync(http.RequestAborted));
        }).Describe("listApiKeys", "List the tenant's API keys");

        group.MapPost("/", async Task<Created<ApiKeyResponse>> (CreateApiKeyRequest request, HttpContext http, TenantProvisioning provisioning, BrokerDbContext db) =>
        {
            var tenantId = http.TenantId();
            var key = await provisioning.CreateApiKeyAsync(tenantId, request.Label, request.Scope, http.RequestAborted);
            var hash = SecretToken.Hash(key);
            var row = await db.TenantApiKeys.AsNoTracking().SingleAsync(k => k.KeyHash == hash, http.RequestAborted);
            return TypedResults.Created($"{http.Request.Path.Value?.TrimEnd('/')}/{row.Id}", new ApiKeyResponse(row.Id, row.Prefix, row.Label, row.Scope.Name(), row.CreatedAt, null, key));
        }).Describe("createApiKey", "Create a tenant API key with a scope (the key is in this answer only)");

        group.MapDelete("/{id:guid}", async Task<Results<NoContent, NotFound>> (Guid id, HttpContext http, TenantProvisioning provisioning) =>
            await provisioning.RevokeApiKeyAsync(http.TenantId(), id, http.RequestAborted) ? TypedResults.NoContent() : TypedResults.NotFound())
            .Describe("revokeApiKey", "Revoke a tenant API key");
    }
}
