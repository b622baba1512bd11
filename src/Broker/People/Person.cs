using Broker.Tenants;

namespace Broker.People;

/// <summary>
/// Someone who signed in to the console through the configured OpenID provider, known by the
/// provider's issuer and subject. Email and name are refreshed at every sign-in.
/// </summary>
public sealed class Person
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Issuer { get; set; }
    public required string Subject { get; set; }
    public string? Email { get; set; }
    /// <summary>
    /// The provider vouched for <see cref="Email"/> at the last sign-in (<c>email_verified</c>, or
    /// <c>TrustUnverifiedEmail</c>). Only then may an invitation to that email bind to this person.
    /// </summary>
    public bool EmailVerified { get; set; }
    public string? Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastSignInAt { get; set; }
}

public enum TenantRole
{
    /// <summary>Sees the tenant's accounts, hands out connect and reconnect links.</summary>
    Member,
    /// <summary>Also revokes accounts, manages members and API keys, reads the tenant's audit log.</summary>
    Admin,
}

public static class TenantRoles
{
    /// <summary>
    /// "member" or "admin" in any case, nothing else: a number ("5", -1) once bound to a role outside the
    /// enum, which the console showed as "member" and the access check ranked above admin.
    /// </summary>
    public static bool TryParse(string? value, out TenantRole role)
    {
        (var ok, role) = value?.ToLowerInvariant() switch
        {
            "member" => (true, TenantRole.Member),
            "admin" => (true, TenantRole.Admin),
            _ => (false, TenantRole.Member),
        };
        return ok;
    }

    public static string Name(this TenantRole role) => role == TenantRole.Admin ? "admin" : "member";
}

/// <summary>
/// A person's place in a tenant. Invitations are by email: the row waits with no person until
/// someone signs in whose provider vouches for that email (<c>email_verified</c>), then binds to them.
/// </summary>
public sealed class Membership
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid TenantId { get; set; }
    public Tenant Tenant { get; set; } = null!;
    /// <summary>Lower-cased.</summary>
    public required string Email { get; set; }
    public Guid? PersonId { get; set; }
    public TenantRole Role { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public required string CreatedBy { get; set; }
}
