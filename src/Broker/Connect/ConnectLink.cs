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
}
