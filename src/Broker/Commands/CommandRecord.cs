namespace Broker.Commands;

/// <summary>
/// One command a tenant asked for (table <c>vehicle_commands</c>): the idempotency record, the per-car rate window and
/// the history in one row. Written <c>pending</c> before anything goes to Tesla, so a crash mid-send leaves a row that
/// says the car may have acted, and a retry with the same <c>Idempotency-Key</c> is never sent twice.
/// </summary>
public sealed class CommandRecord
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid TenantId { get; set; }
    public Guid AccountId { get; set; }
    public Guid VehicleId { get; set; }
    public required string Vin { get; set; }
    public required string Name { get; set; }
    /// <summary>The checked parameters as canonical JSON (<see cref="CommandArguments.ToJson"/>).</summary>
    public required string Parameters { get; set; }
    /// <summary>The client's <c>Idempotency-Key</c>; set to null once older than a day, so the key may be used again.</summary>
    public string? IdempotencyKey { get; set; }
    /// <summary>Who asked: the API key or person, as the audit log names them.</summary>
    public required string Actor { get; set; }
    public DateTimeOffset RequestedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    /// <summary><see cref="CommandOutcome"/>: pending, ok, rejected (the car said no), timeout (no answer: it may have acted), failed.</summary>
    public string Outcome { get; set; } = CommandOutcome.Pending;
    public string? Reason { get; set; }
    /// <summary>rest or signed: how it reached the car.</summary>
    public string? Channel { get; set; }
    /// <summary>Calls to Tesla's command endpoints (handshakes included): Tesla's 30 per minute per car counts each.</summary>
    public int FleetCalls { get; set; }
}

/// <summary>How a sent command ended; the API's <c>outcome</c>.</summary>
public static class CommandOutcome
{
    public const string Pending = "pending", Ok = "ok", Rejected = "rejected", Timeout = "timeout", Failed = "failed";
}

/// <summary>
/// A Vehicle Command Protocol session with one domain of one car (table <c>command_sessions</c>), shared by every replica:
/// the car's public key and clock from its last authenticated session info, and the last counter used. No secret is
/// stored: the session key is agreed again from the partner's private key and <see cref="CarPublicKey"/> when needed.
/// </summary>
public sealed class CommandSession
{
    public Guid VehicleId { get; set; }
    /// <summary>The protocol's domain number (2 vehicle security, 3 infotainment).</summary>
    public int Domain { get; set; }
    /// <summary>The partner key the session was agreed with: a new key means a new handshake.</summary>
    public Guid PartnerKeyId { get; set; }
    public required byte[] CarPublicKey { get; set; }
    public required byte[] Epoch { get; set; }
    /// <summary>The highest counter the broker has used (or the car reported); the next command takes one above it.</summary>
    public long Counter { get; set; }
    /// <summary>The car's clock (seconds into the epoch) when it sent the session info, and the broker's time then.</summary>
    public long ClockTime { get; set; }
    public DateTimeOffset ClockAt { get; set; }
}
