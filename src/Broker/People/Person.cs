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
