using System.Security.Cryptography;
using System.Text;

namespace VehicleCommand.Crypto;

/// <summary>
/// The 128-bit key <c>K</c> that the partner (the broker's Fleet API key, the protocol's "client") shares with one domain
/// of one car, and the keys derived from it (protocol.md, "Key Agreement", "Response authentication", "HMAC-SHA256
/// authentication"):
/// <list type="bullet">
/// <item><c>K = SHA1(Sx)[:16]</c>, where <c>Sx</c> is the x coordinate of ECDH(partner private key, car public key)
/// as 32 big-endian bytes; SHA-1 only maps a random point to a random string (Tesla keeps it for the cars' sake), and
/// the fixed 32 bytes matter, since an x with leading zeros must not be shortened.</item>
/// <item><c>HMAC-SHA256(K, "session info")</c> keys the car's session info tag;
/// <c>HMAC-SHA256(K, "authenticated command")</c> keys HMAC-personalised commands; <c>K</c> itself is the AES-GCM key
/// of encrypted commands and answers.</item>
/// </list>
/// Each domain (VCSEC, infotainment) has its own key pair, so the broker holds one <see cref="SessionKey"/> per domain.
/// </summary>
public sealed class SessionKey
{
    /// <summary>Length of an uncompressed P-256 point, <c>0x04 || X || Y</c> (protocol.md's ENCODE_PUBLIC).</summary>
    public const int PublicKeyLength = 65;

    /// <summary>AES-GCM nonces are 12 bytes; the car refuses others (MESSAGEFAULT_ERROR_IV_INCORRECT_LENGTH).</summary>
    public const int NonceLength = 12;

    /// <summary>AES-GCM tags are 16 bytes.</summary>
    public const int TagLength = 16;

    private const int SharedKeyLength = 16;
    private static readonly byte[] SessionInfoLabel = "session info"u8.ToArray();
    private static readonly byte[] CommandLabel = "authenticated command"u8.ToArray();

    private readonly byte[] _key;

    private SessionKey(byte[] key, byte[] partnerPublicKey, byte[] carPublicKey)
    {
        _key = key;
        PartnerPublicKey = partnerPublicKey;
        CarPublicKey = carPublicKey;
    }

    /// <summary>ENCODE_PUBLIC of the partner's key: what commands name as their signer.</summary>
    public byte[] PartnerPublicKey { get; }

    /// <summary>ENCODE_PUBLIC of the car domain's key the session was agreed with.</summary>
    public byte[] CarPublicKey { get; }

    /// <summary>
    /// Agrees <c>K</c> between the partner's P-256 private key and a car domain's public key (as the car sends it in
    /// <c>SessionInfo.publicKey</c>). Refuses a key that is not an uncompressed point on P-256, since ECDH with a point
    /// off the curve leaks bits of the private key.
    /// </summary>
    public static SessionKey Derive(ECDsa partnerKey, ReadOnlySpan<byte> carPublicKey)
    {
        var partner = partnerKey.ExportParameters(includePrivateParameters: true);
        try
        {
            if (!partner.Curve.IsNamed || partner.Curve.Oid.Value != P256.Oid || partner.D is null)
            {
                throw new ArgumentException("Commands are signed with the partner's P-256 private key.", nameof(partnerKey));
            }
            using var ours = ECDiffieHellman.Create(partner);
            using var theirs = ImportCarKey(carPublicKey);
            var sharedX = ours.DeriveRawSecretAgreement(theirs.PublicKey);
            try
            {
                return new SessionKey(SHA1.HashData(sharedX)[..SharedKeyLength], P256.Encode(partner.Q), carPublicKey.ToArray());
            }
            finally
            {
                CryptographicOperations.ZeroMemory(sharedX);
            }
        }
        finally
        {
            if (partner.D is not null)
            {
                CryptographicOperations.ZeroMemory(partner.D);
            }
        }
    }

    /// <summary>The raw <c>K</c>; for tests that compare it with published vectors.</summary>
    public ReadOnlySpan<byte> SharedKey => _key;

    /// <summary><c>HMAC-SHA256(K, "session info")</c>.</summary>
    public byte[] SessionInfoKey() => HMACSHA256.HashData(_key, SessionInfoLabel);

    /// <summary><c>HMAC-SHA256(K, "authenticated command")</c>.</summary>
    public byte[] CommandAuthenticationKey() => HMACSHA256.HashData(_key, CommandLabel);

    /// <summary>
    /// The tag the car must have put on <paramref name="encodedSessionInfo"/> for this VIN and handshake request:
    /// HMAC-SHA256 under the session info key of the serialised metadata followed by the session info bytes as sent.
    /// </summary>
    public byte[] SessionInfoTag(string vin, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> encodedSessionInfo) =>
        HMACSHA256.HashData(SessionInfoKey(), Concat(CommandMetadata.ForSessionInfo(vin, challenge).Serialize(), encodedSessionInfo));

    /// <summary>Whether <paramref name="tag"/> is the car's tag on this session info; compared in constant time.</summary>
    public bool IsAuthenticSessionInfo(string vin, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> encodedSessionInfo, ReadOnlySpan<byte> tag) =>
        CryptographicOperations.FixedTimeEquals(SessionInfoTag(vin, challenge, encodedSessionInfo), tag);

    /// <summary>The HMAC-personalised tag: HMAC-SHA256 under the command key of the serialised metadata, then the payload.</summary>
    public byte[] CommandTag(CommandMetadata metadata, ReadOnlySpan<byte> payload) =>
        HMACSHA256.HashData(CommandAuthenticationKey(), Concat(metadata.Serialize(), payload));

    /// <summary>AES-GCM under <c>K</c> with SHA-256 of the metadata as associated data; returns ciphertext and tag.</summary>
    public (byte[] Ciphertext, byte[] Tag) Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, CommandMetadata metadata)
    {
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[TagLength];
        using var aes = new AesGcm(_key, TagLength);
        aes.Encrypt(nonce, plaintext, ciphertext, tag, metadata.Sha256());
        return (ciphertext, tag);
    }

    /// <summary>Opens what <see cref="Encrypt"/> sealed, or throws <see cref="AuthenticationTagMismatchException"/>.</summary>
    public byte[] Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, CommandMetadata metadata)
    {
        var plaintext = new byte[ciphertext.Length];
        using var aes = new AesGcm(_key, TagLength);
        aes.Decrypt(nonce, ciphertext, tag, plaintext, metadata.Sha256());
        return plaintext;
    }

    private static ECDiffieHellman ImportCarKey(ReadOnlySpan<byte> encoded)
    {
        if (!P256.IsOnCurve(encoded))
        {
            throw new CommandProtocolException(CommandProtocolFailure.InvalidPublicKey, "The car's public key is not an uncompressed P-256 point on the curve.");
        }
        try
        {
            return ECDiffieHellman.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = encoded[1..33].ToArray(), Y = encoded[33..].ToArray() },
            });
        }
        catch (CryptographicException e)
        {
            throw new CommandProtocolException(CommandProtocolFailure.InvalidPublicKey, "The car's public key does not import as a P-256 key.", e);
        }
    }

    private static byte[] Concat(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var all = new byte[first.Length + second.Length];
        first.CopyTo(all);
        second.CopyTo(all.AsSpan(first.Length));
        return all;
    }
}
