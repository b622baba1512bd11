using System.ComponentModel.DataAnnotations;
using Broker.Admin;
using Broker.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tenants;

/// <summary>The tenant's polling policy. Null never wakes a car (the default).</summary>
public sealed record PolicyRequest([property: Range(1, 10080)] int? WakeAfterSleepMinutes);

public sealed record PolicyResponse(int? WakeAfterSleepMinutes);

public static class TenantsEndpoints
{
    public static RouteGroupBuilder MapTenantPolicy(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/v1/policy").WithTags("Policy").RequireAuthorization(TenancyExtensions.TenantPolicy);

        group.MapGet("/", async Task<Ok<PolicyResponse>> (HttpContext http, BrokerDbContext db) =>
        {
            var tenantId = http.User.TenantId();
            var wake = await db.Tenants.Where(t => t.Id == tenantId).Select(t => t.WakeAfterSleepMinutes).SingleAsync(http.RequestAborted);
            return TypedResults.Ok(new PolicyResponse(wake));
        });

        group.MapPut("/", async Task<Ok<PolicyResponse>> (PolicyRequest request, HttpContext http, BrokerDbContext db, TimeProvider time) =>
        {
            var tenantId = http.User.TenantId();
            await db.Tenants.Where(t => t.Id == tenantId)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.WakeAfterSleepMinutes, request.WakeAfterSleepMinutes), http.RequestAborted);
            db.AuditEvents.Add(new AuditEvent
            {
                At = time.GetUtcNow(), TenantId = tenantId, Action = "tenant.policy_changed", Actor = "tenant-api",
                Detail = $"wake_after_sleep_minutes={request.WakeAfterSleepMinutes?.ToString() ?? "never"}",
            });
            await db.SaveChangesAsync(http.RequestAborted);
            return TypedResults.Ok(new PolicyResponse(request.WakeAfterSleepMinutes));
        });

        return group;
    }
}
