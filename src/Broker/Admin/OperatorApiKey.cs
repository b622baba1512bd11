namespace Broker.Admin;

/// <summary>
/// A named operator credential for the HTTP API (every tenant). Stored as a SHA-256 hash like
/// tenant keys; recognisable by its <c>brko_</c> prefix so it is never mistaken for a tenant key.
/// </summary>
public sealed class OperatorApiKey
{
    public const string Prefix = "brko_";

    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required byte[] KeyHash { get; set; }
    public required string DisplayPrefix { get; set; }
    public string? Label { get; set; }
    /// <summary>Operator (every route, the default) or Metrics (reads every tenant's /metrics, nothing else: Prometheus' key).</summary>
    public Tenants.OperatorKeyScope Scope { get; set; }
    public required string CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}
