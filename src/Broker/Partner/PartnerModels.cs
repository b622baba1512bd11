namespace Broker.Partner;

/// <summary>
/// The operator's prime256v1 key pair, which Tesla checks at
/// <c>/.well-known/appspecific/com.tesla.3p.public-key.pem</c> and vehicles trust once paired.
/// The private key is a vault envelope (AES-256-GCM, keys from configuration), like the Tesla tokens.
/// Only one key is current; older rows stay so an operator can see what was replaced.
/// </summary>
public sealed class PartnerKey
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string PublicKeyPem { get; set; }
    /// <summary>Uncompressed P-256 point as hex ("04…"), the form Tesla's API reports.</summary>
    public required string PublicKeyHex { get; set; }
    public required byte[] PrivateKeyCipher { get; set; }
    public required string VaultKeyId { get; set; }
    /// <summary>"generated" or "imported".</summary>
    public required string Origin { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RetiredAt { get; set; }
}

/// <summary>The outcome of registering the partner account in one Fleet API region.</summary>
public sealed class PartnerRegistration
{
    public required string Region { get; set; }
    public required string Domain { get; set; }
    /// <summary>"registered" or "failed".</summary>
    public required string Status { get; set; }
    /// <summary>The public key Tesla holds for the domain, as it reported it.</summary>
    public string? PublicKeyHex { get; set; }
    public string? Error { get; set; }
    public DateTimeOffset AttemptedAt { get; set; }
    public DateTimeOffset? RegisteredAt { get; set; }
}
