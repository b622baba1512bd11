using Broker.Tenants;

namespace Broker.Connect;

/// <summary>
/// A per-tenant "Connect Tesla" link. The URL carries a random token; only its hash is stored,
/// so a database leak does not hand out working links. Revoking a link stops new connects
/// through it; accounts already linked through it stay linked.
/// </summary>
public sealed class ConnectLink
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid TenantId { get; set; }
    public Tenant Tenant { get; set; } = null!;
    public required byte[] TokenHash { get; set; }
    public string? Label { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    /// <summary>
    /// Set on a reconnect link: it may only re-link this account (the same Tesla user), and is
    /// spent by its first successful use.
    /// </summary>
    public Guid? AccountId { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    /// <summary>
    /// When set, connects through this link sign in at that region's Tesla realm (<c>cn</c>: Tesla China) and the
    /// page offers no choice. Null: the person chooses (China is offered once it is configured).
    /// </summary>
    public string? Region { get; set; }
    public string? CreatedBy { get; set; }
}
