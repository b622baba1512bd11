using System.Security.Cryptography;
using System.Text;

namespace Broker.Tenants;

/// <summary>Random bearer secrets (API keys, connect-link tokens) and the hashes stored for them.</summary>
public static class SecretToken
{
    public const string ApiKeyPrefix = "brk_";

    /// <summary>32 random bytes, base64url: unguessable, safe in a URL path.</summary>
    public static string New() => Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string NewApiKey() => ApiKeyPrefix + New();

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>
    /// The token of an <c>Authorization: Bearer &lt;token&gt;</c> header (RFC 6750: spaces around it, then printable
    /// characters only), or null. Whitespace such as a vertical tab is not trimmed away into an empty token.
    /// </summary>
    public static string? Bearer(string header) =>
        header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header["Bearer ".Length..].Trim(' ') is { Length: > 0 } token
        && token.All(c => c > ' ' && c < 0x7F) ? token : null;

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
