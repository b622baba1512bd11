namespace Broker.Vault;

/// <summary>
/// The OAuth tokens of one Tesla account, each an AES-256-GCM envelope from <see cref="TokenVault"/>
/// bound to the account id. Never holds plaintext. Deleting the row is how revocation forgets them.
/// </summary>
public sealed class TeslaToken
{
    public Guid AccountId { get; set; }
    public required byte[] AccessTokenCipher { get; set; }
    /// <summary>Absent when the user did not grant <c>offline_access</c>.</summary>
    public byte[]? RefreshTokenCipher { get; set; }
    public DateTimeOffset AccessTokenExpiresAt { get; set; }
    public DateTimeOffset? RefreshTokenIssuedAt { get; set; }
    /// <summary>Key that encrypted both envelopes; lets <c>vault rekey</c> find what is left to re-encrypt.</summary>
    public required string KeyId { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
