using System.Security.Cryptography;
using System.Text;

namespace Broker.Vault;

/// <summary>
/// AES-256-GCM envelopes for Tesla tokens: <c>[version=1][key id length][key id][nonce 12][tag 16][ciphertext]</c>.
/// The key id and a caller-supplied context (account id and token kind) are authenticated as
/// associated data, so an envelope copied to another row or relabelled with another key id fails
/// to decrypt instead of yielding someone else's token.
/// </summary>
public sealed class TokenVault
{
    private const byte Version = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly Dictionary<string, byte[]> _keys;

    public TokenVault(IReadOnlyList<(string Id, byte[] Key)> keys)
    {
        if (keys.Count == 0)
        {
            throw new InvalidOperationException("The token vault has no key. " + VaultOptions.HowToCreateAKey);
        }
        _keys = keys.ToDictionary(k => k.Id, k => k.Key, StringComparer.Ordinal);
        CurrentKeyId = keys[^1].Id;
    }

    /// <summary>The newest key: every new envelope is sealed with it.</summary>
    public string CurrentKeyId { get; }

    public byte[] Encrypt(string plaintext, string context)
    {
        var keyId = Encoding.ASCII.GetBytes(CurrentKeyId);
        var header = Header(keyId);
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var envelope = new byte[header.Length + NonceSize + TagSize + plain.Length];
        header.CopyTo(envelope, 0);
        var nonce = envelope.AsSpan(header.Length, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        var tag = envelope.AsSpan(header.Length + NonceSize, TagSize);
        var cipher = envelope.AsSpan(header.Length + NonceSize + TagSize);
        using var aes = new AesGcm(_keys[CurrentKeyId], TagSize);
        aes.Encrypt(nonce, plain, cipher, tag, AssociatedData(header, context));
        CryptographicOperations.ZeroMemory(plain);
        return envelope;
    }

    /// <summary>The same secret sealed again under the current key (what <c>vault rekey</c> does to every envelope).</summary>
    public byte[] Reseal(byte[] envelope, string context) => Encrypt(Decrypt(envelope, context), context);

    public string Decrypt(byte[] envelope, string context)
    {
        var keyId = KeyIdOf(envelope);
        if (!_keys.TryGetValue(keyId, out var key))
        {
            throw new CryptographicException($"Token was encrypted with key '{keyId}', which is not configured.");
        }
        var headerLength = 2 + envelope[1];
        var header = envelope.AsSpan(0, headerLength);
        var nonce = envelope.AsSpan(headerLength, NonceSize);
        var tag = envelope.AsSpan(headerLength + NonceSize, TagSize);
        var cipher = envelope.AsSpan(headerLength + NonceSize + TagSize);
        var plain = new byte[cipher.Length];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(nonce, cipher, tag, plain, AssociatedData(header, context));
        return Encoding.UTF8.GetString(plain);
    }

    public static string KeyIdOf(byte[] envelope)
    {
        if (envelope.Length < 2 + NonceSize + TagSize || envelope[0] != Version || envelope.Length < 2 + envelope[1] + NonceSize + TagSize)
        {
            throw new CryptographicException("Not a token vault envelope.");
        }
        return Encoding.ASCII.GetString(envelope, 2, envelope[1]);
    }

    private static byte[] Header(byte[] keyId) => [Version, (byte)keyId.Length, .. keyId];

    private static byte[] AssociatedData(ReadOnlySpan<byte> header, string context) =>
        [.. header, .. Encoding.UTF8.GetBytes(context)];
}
