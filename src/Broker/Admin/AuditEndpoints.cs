using Broker.Data;
using Broker.People;
using Broker.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Broker.Admin;

public sealed record AuditEventResponse(long Id, DateTimeOffset At, string Action, string Actor, string? Address, Guid? TenantId, Guid? AccountId, string? Detail);

/// <summary>The audit log: a tenant's own events for its admins, every event for operators (<c>/api/v1/operator/audit</c>). Newest first.</summary>
public static class AuditEndpoints
{
    public const int PageSize = 200;

    public static void MapTenantAudit(RouteGroupBuilder tenant) =>
        tenant.MapGet("/audit", async Task<Ok<List<AuditEventResponse>>> (long? before, HttpContext http, BrokerDbContext db) =>
            TypedResults.Ok(await Page(db.AuditEvents.Where(e => e.TenantId == http.TenantId()), before).ToListAsync(http.RequestAborted)))
            .Describe("listAuditEvents", "Page through the tenant's audit log, newest first")
            .WithTags("Audit").RequireTenantRole(TenantRole.Admin);

    public static RouteHandlerBuilder MapOperatorAudit(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/api/v1/operator/audit", async Task<Ok<List<AuditEventResponse>>> (long? before, HttpContext http, BrokerDbContext db) =>
            TypedResults.Ok(await Page(db.AuditEvents, before).ToListAsync(http.RequestAborted)))
            .Describe("listOperatorAuditEvents", "Page through the whole audit log, newest first (operator)")
            .WithTags("Audit").RequireAuthorization(AdminPolicies.Operator);

    /// <summary>A page of events before the id <paramref name="before"/> (exclusive), newest first.</summary>
    public static IQueryable<AuditEventResponse> Page(IQueryable<AuditEvent> events, long? before) =>
        events.AsNoTracking().Where(e => before == null || e.Id < before).OrderByDescending(e => e.Id).Take(PageSize)
            .Select(e => new AuditEventResponse(e.Id, e.At, e.Action, e.Actor, e.Address, e.TenantId, e.AccountId, e.Detail));
}
