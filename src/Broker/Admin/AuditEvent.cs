namespace Broker.Admin;

/// <summary>An append-only record of who linked, re-linked or revoked what. Never holds secrets.</summary>
public sealed class AuditEvent
{
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    public Guid? TenantId { get; set; }
    public Guid? AccountId { get; set; }
    public required string Action { get; set; }
    public required string Actor { get; set; }
    public string? Detail { get; set; }
    /// <summary>The client address the request came from (after trusted forwarded headers), if any.</summary>
    public string? Address { get; set; }
}
