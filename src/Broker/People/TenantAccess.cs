using System.Security.Claims;
using Broker.Data;
using Broker.Tenants;
using Microsoft.EntityFrameworkCore;

namespace Broker.People;

public enum AccessOutcome
{
    Allowed,
    /// <summary>Nobody is signed in or no credential was given: 401 (the console redirects to sign-in).</summary>
    Unauthenticated,
    /// <summary>A member without the role the act needs: 403.</summary>
    Forbidden,
    /// <summary>No such tenant, or one the caller may not know exists: both look the same, 404.</summary>
    NotFound,
}

public sealed record TenantAccessResult(AccessOutcome Outcome, Tenant? Tenant = null, TenantRole? Role = null);

/// <summary>
/// The one place that decides who may see and act on a tenant. Operators see every tenant; a tenant
/// API key sees its own; a person sees the tenants they are a member of, with that membership's
/// role. Everyone else learns nothing, not even whether the tenant exists.
/// Memberships are read per request, so removing one takes effect at once.
/// </summary>
public sealed class TenantAccess(BrokerDbContext db)
{
    public async Task<TenantAccessResult> ResolveAsync(ClaimsPrincipal user, string slug, TenantRole needed, CancellationToken ct)
    {
        if (user.Identity?.IsAuthenticated != true)
        {
            return new(AccessOutcome.Unauthenticated);
        }
        var tenant = await db.Tenants.AsNoTracking().SingleOrDefaultAsync(t => t.Slug == slug, ct);
        if (tenant is null)
        {
            return new(AccessOutcome.NotFound);
        }
        TenantRole? role = user.IsOperator() ? TenantRole.Admin
            : user.FindFirstValue(TenantApiKeyHandler.TenantIdClaim) == tenant.Id.ToString() ? user.KeyRole()
            : user.PersonId() is { } personId
                ? await db.Memberships.Where(m => m.TenantId == tenant.Id && m.PersonId == personId).Select(m => (TenantRole?)m.Role).SingleOrDefaultAsync(ct)
                : null;
        // Only Admin satisfies Admin: a role outside the enum (refused at input since) counts as a member, never above admin.
        role = role is null or TenantRole.Admin ? role : TenantRole.Member;
        return role switch
        {
            null => new(AccessOutcome.NotFound),
            TenantRole.Member when needed == TenantRole.Admin => new(AccessOutcome.Forbidden, tenant, role),
            _ => new(AccessOutcome.Allowed, tenant, role),
        };
    }

    /// <summary>The tenants a principal may open in the console, by name.</summary>
    public async Task<List<Tenant>> VisibleTenantsAsync(ClaimsPrincipal user, CancellationToken ct)
    {
        if (user.IsOperator())
        {
            return await db.Tenants.AsNoTracking().OrderBy(t => t.Name).ToListAsync(ct);
        }
        var personId = user.PersonId();
        return personId is null ? [] : await db.Memberships.AsNoTracking()
            .Where(m => m.PersonId == personId).Select(m => m.Tenant).OrderBy(t => t.Name).ToListAsync(ct);
    }
}
