using Broker.Admin;
using System.ComponentModel.DataAnnotations;
using Broker.Data;
using Broker.Hosting;
using System.Text.Json.Serialization;
using Broker.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Broker.People;

public sealed record InviteMemberRequest([property: Required, MemberEmail, MaxLength(254), SingleLine] string Email, TenantRole Role = TenantRole.Member);

/// <summary>Body of <c>PUT …/members/{id}</c>: the member's new role.</summary>
public sealed record ChangeRoleRequest([property: JsonRequired] TenantRole Role);

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
        }).Describe("listMembers", "List the tenant's members and invitations");

        // Inviting someone who is already a member is a 409: a role changes only by saying so (PUT), never by a second invitation.
        group.MapPost("/", async Task<Results<Ok<MemberResponse>, ProblemHttpResult>> (InviteMemberRequest request, HttpContext http, TenantProvisioning provisioning) =>
        {
            try
            {
                return TypedResults.Ok(ToResponse(await provisioning.InviteMemberAsync(http.TenantId(), request.Email, request.Role, http.RequestAborted)));
            }
            catch (MembershipConflictException ex)
            {
                return Conflict(ex);
            }
        }).Describe("inviteMember", "Invite a person by verified email, as member or admin").ProducesProblem(StatusCodes.Status409Conflict).RequireTenantRole(TenantRole.Admin);

        group.MapPut("/{id:guid}", async Task<Results<Ok<MemberResponse>, NotFound, ProblemHttpResult>> (
            Guid id, ChangeRoleRequest request, HttpContext http, TenantProvisioning provisioning) =>
        {
            try
            {
                return await provisioning.ChangeRoleAsync(http.TenantId(), id, request.Role, http.RequestAborted) is { } m
                    ? TypedResults.Ok(ToResponse(m)) : TypedResults.NotFound();
            }
            catch (MembershipConflictException ex)
            {
                return Conflict(ex);
            }
        }).Describe("changeMemberRole", "Change a member's role").ProducesProblem(StatusCodes.Status409Conflict).RequireTenantRole(TenantRole.Admin);

        group.MapDelete("/{id:guid}", async Task<Results<NoContent, NotFound, ProblemHttpResult>> (Guid id, HttpContext http, TenantProvisioning provisioning) =>
        {
            try
            {
                return await provisioning.RemoveMemberAsync(http.TenantId(), id, http.RequestAborted) ? TypedResults.NoContent() : TypedResults.NotFound();
            }
            catch (MembershipConflictException ex)
            {
                return Conflict(ex);
            }
        }).Describe("removeMember", "Remove a member (a tenant keeps its last admin)").ProducesProblem(StatusCodes.Status409Conflict).RequireTenantRole(TenantRole.Admin);
    }

    private static MemberResponse ToResponse(Membership m) => new(m.Id, m.Email, m.Role.Name(), m.PersonId != null, null, m.CreatedAt, m.CreatedBy);

    private static ProblemHttpResult Conflict(MembershipConflictException ex) =>
        TypedResults.Problem(ex.Message, title: "Conflict", statusCode: StatusCodes.Status409Conflict);
}
