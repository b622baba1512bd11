using System.Buffers.Binary;
using System.Buffers.Text;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Broker.Telemetry;

/// <summary>
/// Signs a Fleet Telemetry configuration for <c>POST /api/1/vehicles/fleet_telemetry_config_jws</c> exactly as Tesla's
/// own tools do (<c>tesla-jws -fleet sign TelemetryClient</c>, and <c>tesla-http-proxy</c> for <c>fleet_telemetry_config</c>).
/// Written from teslamotors/vehicle-command: cmd/tesla-jws/{README.md,main.go}, pkg/proxy/proxy.go,
/// internal/authentication/jwt.go, internal/schnorr/{schnorr.go,sign.go} and their tests. The rules, in the order the code follows them:
/// <list type="number">
/// <item>Claims are the config; <c>iss</c> is overwritten with the standard base64 (padded) of the partner's 65-byte
/// uncompressed public key, <c>aud</c> with <c>com.tesla.fleet.TelemetryClient</c> ("com.tesla.fleet." + app).</item>
/// <item>Header <c>{"alg":"Tesla.SS256","typ":"JWT"}</c>; header and claims are JSON as Go writes maps (keys sorted,
/// no spaces), each base64url without padding, joined by a dot: the signing input.</item>
/// <item>Schnorr over P-256 with SHA-256 (RFC 8235): nonce k from RFC 6979 (HMAC-SHA256) of the private scalar and
/// SHA-256(input); V = kG; c = SHA-256(LV(G) | LV(V) | LV(A) | LV(input)) with LV = 4-byte big-endian length then the
/// bytes and points uncompressed (0x04|x|y); r = k − a·c mod n.</item>
/// <item>Signature V.x | V.y | r, 32 bytes each, base64url without padding.</item>
/// </list>
/// Signing is deterministic: the same key and config always give the same token.
/// </summary>
public static class TelemetryJws
{
    public const string Algorithm = "Tesla.SS256";
    public const string Audience = "com.tesla.fleet.TelemetryClient";
    private const string P256Oid = "1.2.840.10045.3.1.7";

    private static readonly byte[] Header = """{"alg":"Tesla.SS256","typ":"JWT"}"""u8.ToArray();
    private static readonly ECParameters Curve = ExplicitP256();
    private static readonly BigInteger N = Unsigned(Curve.Curve.Order);

    /// <summary>The compact JWS of <paramref name="config"/> signed with the partner's private key (P-256).</summary>
    public static string Sign(ECDsa partnerKey, JsonObject config)
    {
        var key = partnerKey.ExportParameters(includePrivateParameters: true);
        try
        {
            if (!key.Curve.IsNamed || key.Curve.Oid.Value != P256Oid || key.D is null)
            {
                throw new ArgumentException("Fleet Telemetry configs are signed with the partner's P-256 private key.", nameof(partnerKey));
            }
            var claims = (JsonObject)config.DeepClone();
            claims["iss"] = Convert.ToBase64String(Uncompressed(key.Q));
            claims["aud"] = Audience;
            var input = Base64Url.EncodeToString(Header) + "." + Base64Url.EncodeToString(GoJson(claims));
            return input + "." + Base64Url.EncodeToString(SchnorrSign(Scalar(key.D), Encoding.ASCII.GetBytes(input)));
        }
        finally
        {
            if (key.D is not null)
            {
                CryptographicOperations.ZeroMemory(key.D);
            }
        }
    }

    /// <summary>Schnorr signature (V.x | V.y | r) of <paramref name="message"/> by the 32-byte private scalar.</summary>
    internal static byte[] SchnorrSign(byte[] scalar, ReadOnlySpan<byte> message)
    {
        var nonce = DeterministicNonce(scalar, SHA256.HashData(message));
        var publicNonce = PublicPoint(nonce);
        var publicKey = PublicPoint(scalar);
        var c = Unsigned(Challenge(publicNonce, publicKey, message));
        // The nonce and private key meet only in this one multiplication; BigInteger is not constant-time, which is
        // acceptable for a key that signs a handful of configs on the operator's own server (Tesla's Go uses saferith).
        var r = BigInteger.Remainder(Unsigned(nonce) - Unsigned(scalar) * c, N);
        if (r.Sign < 0)
        {
            r += N;
        }
        var signature = new byte[96];
        publicNonce.AsSpan(1).CopyTo(signature);
        r.TryWriteBytes(signature.AsSpan(96 - r.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        CryptographicOperations.ZeroMemory(nonce);
        return signature;
    }

    /// <summary>RFC 6979 §3.2 for P-256/SHA-256, where hlen = qlen and T is simply V.</summary>
    internal static byte[] DeterministicNonce(byte[] scalar, byte[] messageHash)
    {
        var h1 = new byte[32];
        var reduced = BigInteger.Remainder(Unsigned(messageHash), N); // bits2octets
        reduced.TryWriteBytes(h1.AsSpan(32 - reduced.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        var v = Enumerable.Repeat((byte)0x01, 32).ToArray();
        var k = new byte[32];
        k = Mac(k, v, [0x00], scalar, h1);
        v = Mac(k, v);
        k = Mac(k, v, [0x01], scalar, h1);
        v = Mac(k, v);
        while (true)
        {
            v = Mac(k, v);
            var candidate = Unsigned(v);
            if (candidate.Sign > 0 && candidate < N)
            {
                return v;
            }
            k = Mac(k, v, [0x00]);
            v = Mac(k, v);
        }
    }

    private static byte[] Mac(byte[] key, params byte[][] parts) => HMACSHA256.HashData(key, parts.SelectMany(p => p).ToArray());

    /// <summary>SHA-256 over the generator, the public nonce, the signer's key and the message, each length-prefixed.</summary>
    private static byte[] Challenge(byte[] publicNonce, byte[] publicKey, ReadOnlySpan<byte> message)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var part in new[] { Uncompressed(Curve.Curve.G), publicNonce, publicKey, message.ToArray() })
        {
            BinaryPrimitives.WriteUInt32BigEndian(length, (uint)part.Length);
            sha.AppendData(length);
            sha.AppendData(part);
        }
        return sha.GetHashAndReset();
    }

    /// <summary>scalar·G through the platform's constant-time code: import the scalar as a key and read its public point.</summary>
    private static byte[] PublicPoint(byte[] scalar)
    {
        using var key = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = scalar });
        return Uncompressed(key.ExportParameters(includePrivateParameters: false).Q);
    }

    /// <summary>
    /// Claims serialised the way Go's encoding/json writes a map (vehicle-command marshals <c>jwt.MapClaims</c>): object keys
    /// sorted, no whitespace, '+' and non-ASCII left as they are, and &lt; &gt; &amp; U+2028 U+2029 escaped as \uXXXX.
    /// </summary>
    private static byte[] GoJson(JsonNode node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            Write(writer, node);
        }
        // Outside strings JSON has none of these characters, so replacing them in the whole text only touches strings.
        var text = Encoding.UTF8.GetString(buffer.ToArray())
            .Replace("<", "\\u003c").Replace(">", "\\u003e").Replace("&", "\\u0026").Replace("\u2028", "\\u2028").Replace("\u2029", "\\u2029");
        return Encoding.UTF8.GetBytes(text);
    }

    private static void Write(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(name);
                    Write(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    Write(writer, item);
                }
                writer.WriteEndArray();
                break;
            case null:
                writer.WriteNullValue();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }

    private static byte[] Uncompressed(ECPoint q) => [0x04, .. q.X!, .. q.Y!];

    private static byte[] Scalar(byte[] d) => d.Length == 32 ? d : [.. new byte[32 - d.Length], .. d];

    private static BigInteger Unsigned(ReadOnlySpan<byte> bigEndian) => new(bigEndian, isUnsigned: true, isBigEndian: true);

    private static ECParameters ExplicitP256()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return key.ExportExplicitParameters(includePrivateParameters: false);
    }
}
