using System.ComponentModel.DataAnnotations;
using Broker.Data;
using Broker.Hosting;
using Broker.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Broker.People;

public sealed record InviteMemberRequest([property: Required, EmailAddress, MaxLength(320), SingleLine] string Email, TenantRole Role = TenantRole.Member);

/// <summary>Joined is false until the invited person first signs in with that (verified) email.</summary>
public sealed record MemberResponse(Guid Id, string Email, string Role, bool Joined, string? Name, DateTimeOffset CreatedAt, string CreatedBy);

/// <summary>A tenant's members: everyone in it may list them; admins invite and remove.</summary>
public static class MembersEndpoints
{
    public static void MapMembers(RouteGroupBuilder tenant)
    {
        var group = tenant.MapGroup("/members").WithTags("Members");

        group.MapGet("/", async Task<Ok<List<MemberResponse>>> (HttpContext http, BrokerDbContext db) =>
        {
            var tenantId = http.TenantId();
            return TypedResults.Ok(await (from m in db.Memberships.AsNoTracking()
                                          where m.TenantId == tenantId
                                          join p in db.People on m.PersonId equals p.Id into ps
                                          from p in ps.DefaultIfEmpty()
                                          orderby m.Email
                                          select new MemberResponse(m.Id, m.Email, m.Role.Name(), m.PersonId != null, p.Name, m.CreatedAt, m.CreatedBy))
                .ToListAsync(http.RequestAborted));
        });

        group.MapPost("/", async Task<Ok<MemberResponse>> (InviteMemberRequest request, HttpContext http, TenantProvisioning provisioning) =>
        {
            var m = await provisioning.InviteMemberAsync(http.TenantId(), request.Email, request.Role, http.RequestAborted);
            return TypedResults.Ok(new MemberResponse(m.Id, m.Email, m.Role.Name(), m.PersonId != null, null, m.CreatedAt, m.CreatedBy));
        }).RequireTenantRole(TenantRole.Admin);

        group.MapDelete("/{id:guid}", async Task<Results<NoContent, NotFound>> (Guid id, HttpContext http, TenantProvisioning provisioning) =>
            await provisioning.RemoveMemberAsync(http.TenantId(), id, http.RequestAborted) ? TypedResults.NoContent() : TypedResults.NotFound())
            .RequireTenantRole(TenantRole.Admin);
    }
}
