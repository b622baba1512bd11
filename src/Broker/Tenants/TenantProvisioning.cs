using System.Text.RegularExpressions;
using Broker.Admin;
using Broker.Connect;
using Broker.Data;
using Broker.People;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tenants;

/// <summary>
/// Creates tenants, API keys, connect links and memberships, for the console, the API and the
/// commands alike. Returns each secret once; stores only hashes. Acts on behalf of a person or key
/// are audited by the caller's <see cref="AuditLog"/>.
/// </summary>
public sealed partial class TenantProvisioning(BrokerDbContext db, AuditLog audit, TimeProvider time)
{
    // \z, not $: $ also matches before a final newline, and "slug\n" once passed, was stored, and broke every page naming it.
    [GeneratedRegex(@"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\z")]
    private static partial Regex SlugPattern();

    /// <summary>Null when the slug is not a lower-case DNS-label-like name (it appears in URLs and metric labels).</summary>
    public static string? SlugProblem(string? slug) =>
        slug is not null && SlugPattern().IsMatch(slug) ? null : "A slug is 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'.";

    /// <summary>Creates a tenant; null when the slug is taken.</summary>
    public async Task<Tenant?> CreateTenantAsync(string slug, string name, CancellationToken ct)
    {
        if (await db.Tenants.AnyAsync(t => t.Slug == slug, ct))
        {
            return null;
        }
        var tenant = new Tenant { Slug = slug, Name = name.Trim(), CreatedAt = time.GetUtcNow() };
        db.Tenants.Add(tenant);
        audit.Add("tenant.created", tenant.Id, detail: $"slug={slug}");
        await db.SaveChangesAsync(ct);
        return tenant;
    }

    public async Task<string> CreateApiKeyAsync(Guid tenantId, string? label, TenantKeyScope scope, CancellationToken ct)
    {
        var key = SecretToken.NewApiKey();
        audit.Add("api_key.created", tenantId, detail: $"prefix={key[..10]}; scope={scope.Name()}{(label is null ? "" : $"; label={label}")}");
        return await AddApiKeyAsync(tenantId, label, ct, key, scope);
    }

    public async Task<bool> RevokeApiKeyAsync(Guid tenantId, Guid keyId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var revoked = await db.TenantApiKeys.Where(k => k.Id == keyId && k.TenantId == tenantId && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct);
        if (revoked > 0)
        {
            audit.Add("api_key.revoked", tenantId, detail: $"key={keyId}");
            await db.SaveChangesAsync(ct);
        }
        return revoked > 0;
    }

    /// <summary>
    /// Invites by email. Binds at once only to a person who already signed in with that email *verified* by the provider:
    /// anyone may claim any email at a provider that does not verify, and an unverified claim must never join a tenant,
    /// whether it came before the invitation or after. An email already in the tenant is a conflict: a role changes through
    /// <see cref="ChangeRoleAsync"/> only (a second invitation once quietly turned an admin into a member).
    /// </summary>
    public async Task<Membership> InviteMemberAsync(Guid tenantId, string email, TenantRole role, CancellationToken ct)
    {
        email = email.Trim().ToLowerInvariant();
        if (await db.Memberships.AsNoTracking().SingleOrDefaultAsync(m => m.TenantId == tenantId && m.Email == email, ct) is { } existing)
        {
            throw new MembershipConflictException($"{email} is already a member ({existing.Role.Name()}). To change the role, use the role control beside "
                + $"their name on the tenant page (in the API: PUT …/members/{existing.Id}).");
        }
        var personId = await db.People.Where(p => p.Email == email && p.EmailVerified)
            .OrderByDescending(p => p.LastSignInAt).Select(p => (Guid?)p.Id).FirstOrDefaultAsync(ct);
        var entry = audit.Add("membership.invited", tenantId, detail: $"email={email}; role={role.Name()}");
        var membership = new Membership { TenantId = tenantId, Email = email, PersonId = personId, Role = role, CreatedAt = time.GetUtcNow(), CreatedBy = entry.Actor };
        db.Memberships.Add(membership);
        await db.SaveChangesAsync(ct);
        return membership;
    }

    /// <summary>A member's new role; null when there is no such member. The tenant keeps at least one admin.</summary>
    public async Task<Membership?> ChangeRoleAsync(Guid tenantId, Guid membershipId, TenantRole role, CancellationToken ct)
    {
        var membership = await db.Memberships.SingleOrDefaultAsync(m => m.Id == membershipId && m.TenantId == tenantId, ct);
        if (membership is null || membership.Role == role)
        {
            return membership;
        }
        await RefuseLosingTheLastAdminAsync(membership, ct);
        audit.Add("membership.role_changed", tenantId, detail: $"email={membership.Email}; role={membership.Role.Name()} -> {role.Name()}");
        membership.Role = role;
        await db.SaveChangesAsync(ct);
        return membership;
    }

    /// <summary>Removes a member (and ends their console sessions); false when there is no such member. The tenant keeps at least one admin.</summary>
    public async Task<bool> RemoveMemberAsync(Guid tenantId, Guid membershipId, CancellationToken ct)
    {
        var membership = await db.Memberships.SingleOrDefaultAsync(m => m.Id == membershipId && m.TenantId == tenantId, ct);
        if (membership is null)
        {
            return false;
        }
        await RefuseLosingTheLastAdminAsync(membership, ct);
        db.Memberships.Remove(membership);
        audit.Add("membership.removed", tenantId, detail: $"email={membership.Email}");
        await db.SaveChangesAsync(ct);
        // Access is read per request anyway; ending the sessions also stops a page left open from acting on what it shows.
        if (membership.PersonId is { } personId)
        {
            await ConsoleSessionStore.EndForPersonAsync(db, personId, ct);
        }
        return true;
    }

    /// <summary>An admin who is the tenant's only one can neither leave nor become a member: someone must be able to manage it.</summary>
    private async Task RefuseLosingTheLastAdminAsync(Membership membership, CancellationToken ct)
    {
        if (membership.Role == TenantRole.Admin
            && !await db.Memberships.AnyAsync(m => m.TenantId == membership.TenantId && m.Role == TenantRole.Admin && m.Id != membership.Id, ct))
        {
            throw new MembershipConflictException($"{membership.Email} is this tenant's only admin. Make someone else an admin first (invite them as admin, "
                + "or change a member's role to admin), then try again.");
        }
    }

    public async Task<Tenant> EnsureTenantAsync(string slug, string name, CancellationToken ct)
    {
        var tenant = await db.Tenants.SingleOrDefaultAsync(t => t.Slug == slug, ct);
        if (tenant is null)
        {
            tenant = new Tenant { Slug = slug, Name = name, CreatedAt = time.GetUtcNow() };
            db.Tenants.Add(tenant);
            await db.SaveChangesAsync(ct);
        }
        return tenant;
    }

    /// <summary>Stores the hash of <paramref name="apiKey"/> (made fresh when null) and returns the key.</summary>
    public async Task<string> AddApiKeyAsync(Guid tenantId, string? label, CancellationToken ct, string? apiKey = null, TenantKeyScope scope = TenantKeyScope.Admin)
    {
        apiKey ??= SecretToken.NewApiKey();
        var hash = SecretToken.Hash(apiKey);
        if (!await db.TenantApiKeys.AnyAsync(k => k.KeyHash == hash, ct))
        {
            db.TenantApiKeys.Add(new TenantApiKey
            {
                TenantId = tenantId, KeyHash = hash, Prefix = apiKey[..Math.Min(10, apiKey.Length)],
                Label = label, Scope = scope, CreatedAt = time.GetUtcNow(),
            });
            await db.SaveChangesAsync(ct);
        }
        return apiKey;
    }

    /// <summary>Stores the hash of a connect-link token (made fresh when null) and returns the link and its token.</summary>
    public async Task<(ConnectLink Link, string Token)> AddConnectLinkAsync(
        Guid tenantId, string? label, CancellationToken ct, string? token = null, Guid? accountId = null, DateTimeOffset? expiresAt = null, string? createdBy = null,
        string? region = null)
    {
        token ??= SecretToken.New();
        var hash = SecretToken.Hash(token);
        var link = await db.ConnectLinks.SingleOrDefaultAsync(l => l.TokenHash == hash, ct);
        if (link is null)
        {
            link = new ConnectLink
            {
                TenantId = tenantId, TokenHash = hash, Label = label, CreatedAt = time.GetUtcNow(),
                AccountId = accountId, ExpiresAt = expiresAt, CreatedBy = createdBy, Region = region,
            };
            db.ConnectLinks.Add(link);
            await db.SaveChangesAsync(ct);
        }
        return (link, token);
    }
}
