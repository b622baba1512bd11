using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TeslaSimulator.Telemetry;

internal enum JwsFailure { None, Malformed, UnsupportedAlgorithm, WrongAudience, BadSignature, UnknownIssuer }

/// <summary>The claims of a verified token, or why it was refused (an unknown issuer's sound token keeps its claims).</summary>
internal sealed record JwsResult(JsonObject? Claims, JwsFailure Failure, string? Reason)
{
    public bool Valid => Failure == JwsFailure.None;
}

/// <summary>
/// Checks a <c>Tesla.SS256</c> JWS the way vehicle-command's <c>tesla-jws verify</c> and a car do
/// (teslamotors/vehicle-command cmd/tesla-jws/main.go, internal/authentication/jwt.go): header alg <c>Tesla.SS256</c>;
/// the issuer (<c>iss</c>) is the signer's public key in standard base64; the Schnorr signature over
/// "header.claims" must verify with that key; the audience must be the one expected; and, as the tool's help says,
/// "the client must verify that the issuer is trusted": here, that it is the key registered for the app.
/// A forged or damaged token is <see cref="JwsFailure.BadSignature"/>; a sound token from any other key is
/// <see cref="JwsFailure.UnknownIssuer"/>, the words cars report for it (teslamotors/fleet-telemetry#303).
/// </summary>
internal static class TelemetryJwsVerifier
{
    public const string Algorithm = "Tesla.SS256";
    public const string FleetTelemetryAudience = "com.tesla.fleet.TelemetryClient";

    /// <param name="trustedKeyHex">The issuer trusted: an uncompressed P-256 point in hex, as partner registrations store it.</param>
    public static JwsResult Verify(string token, string trustedKeyHex, string audience = FleetTelemetryAudience)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || Json(parts[0]) is not JsonObject header || Json(parts[1]) is not JsonObject claims
            || Bytes(parts[2]) is not { } signature)
        {
            return Fail(JwsFailure.Malformed, "token is not a compact JWS with JSON header and claims");
        }
        if (header["alg"] is not JsonValue alg || !alg.TryGetValue<string>(out var algName) || algName != Algorithm)
        {
            return Fail(JwsFailure.UnsupportedAlgorithm, "unsupported signature type");
        }
        if (claims["iss"] is not JsonValue iss || !iss.TryGetValue<string>(out var issuer) || Base64(issuer) is not { } issuerKey
            || !SchnorrP256.IsPublicKey(issuerKey))
        {
            return Fail(JwsFailure.Malformed, "issuer is not a base64-encoded P-256 public key");
        }
        if (!SchnorrP256.Verify(issuerKey, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature))
        {
            return Fail(JwsFailure.BadSignature, "invalid signature");
        }
        if (claims["aud"] is not JsonValue aud || !aud.TryGetValue<string>(out var audienceClaim) || audienceClaim != audience)
        {
            return Fail(JwsFailure.WrongAudience, $"audience must be {audience}");
        }
        if (!Convert.ToHexStringLower(issuerKey).Equals(trustedKeyHex, StringComparison.OrdinalIgnoreCase))
        {
            return new JwsResult(claims, JwsFailure.UnknownIssuer, "unknown issuer"); // sound, so its claims are still readable
        }
        return new JwsResult(claims, JwsFailure.None, null);
    }

    private static JwsResult Fail(JwsFailure failure, string reason) => new(null, failure, reason);

    private static JsonNode? Json(string segment)
    {
        if (Bytes(segment) is not { } bytes) return null;
        try { return JsonNode.Parse(bytes); }
        catch (JsonException) { return null; }
    }

    private static byte[]? Bytes(string segment)
    {
        try { return Base64Url.DecodeFromChars(segment); }
        catch (FormatException) { return null; }
    }

    private static byte[]? Base64(string value)
    {
        try { return Convert.FromBase64String(value); }
        catch (FormatException) { return null; }
    }
}
