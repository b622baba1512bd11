namespace Broker.Accounts;

public enum AccountStatus
{
    Active,
    /// <summary>Tesla refused the refresh token (login_required / invalid_grant): the user must connect again.</summary>
    NeedsReconnect,
    Revoked,
}

/// <summary>
/// A Tesla account linked to a tenant. The same Tesla user (OIDC <c>sub</c>) connected twice under
/// one tenant is one row: re-connecting replaces its tokens and keeps its devices.
/// </summary>
public sealed class TeslaAccount
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid TenantId { get; set; }
    public required string Subject { get; set; }
    public string? Email { get; set; }
    public required string Region { get; set; }
    public required string FleetApiBaseUrl { get; set; }
    public string[] GrantedScopes { get; set; } = [];
    public AccountStatus Status { get; set; }
    public DateTimeOffset ConnectedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public Guid? ConnectLinkId { get; set; }
    /// <summary>When and by whom the account was revoked; its tokens are gone from then on.</summary>
    public DateTimeOffset? RevokedAt { get; set; }
    public string? RevokedBy { get; set; }
    /// <summary>When the devices were last read from <c>/api/1/products</c>: at connect, then at most daily (cars come and go).</summary>
    public DateTimeOffset? ProductsCheckedAt { get; set; }
    /// <summary>
    /// Tesla refuses this account's access token although a refresh succeeds (a 401 after the refresh, e.g. "unknown
    /// user": the owner has never opened the Tesla app). Polls wait until <see cref="TokenRetryAt"/> and do not refresh
    /// again for it; the first accepted call clears it. Null while Tesla accepts the token.
    /// </summary>
    public DateTimeOffset? TokenRejectedSince { get; set; }
    public string? TokenRejectedError { get; set; }
    public DateTimeOffset? TokenRetryAt { get; set; }
    public List<Vehicle> Vehicles { get; set; } = [];
    public List<EnergySite> EnergySites { get; set; } = [];
}

public sealed class Vehicle
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid AccountId { get; set; }
    public Guid TenantId { get; set; }
    public required string Vin { get; set; }
    public long TeslaId { get; set; }
    public long VehicleId { get; set; }
    public string? DisplayName { get; set; }
    public string? State { get; set; }
    public DateTimeOffset DiscoveredAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
    /// <summary>Whether the operator's virtual key is on the car (from <c>fleet_status</c>); null until checked.</summary>
    public bool? KeyPaired { get; set; }
    public DateTimeOffset? KeyCheckedAt { get; set; }
    /// <summary>
    /// fleet_status's <c>vehicle_command_protocol_required</c>: true sends commands signed, false as plain REST; null (not
    /// asked yet) tries signed first, as Tesla's own proxy does, and learns from the answer.
    /// </summary>
    public bool? CommandProtocolRequired { get; set; }
    /// <summary>Gone from the account's products at Tesla: no longer polled or exported; cleared if it comes back.</summary>
    public DateTimeOffset? RetiredAt { get; set; }
}

public sealed class EnergySite
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid AccountId { get; set; }
    public Guid TenantId { get; set; }
    public long EnergySiteId { get; set; }
    public string? SiteName { get; set; }
    public string? ResourceType { get; set; }
    public bool HasBattery { get; set; }
    public bool HasSolar { get; set; }
    public DateTimeOffset DiscoveredAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
    /// <summary>Gone from the account's products at Tesla: no longer polled or exported; cleared if it comes back.</summary>
    public DateTimeOffset? RetiredAt { get; set; }
}
