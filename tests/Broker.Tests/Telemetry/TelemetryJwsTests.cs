extern alias simulator;

using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Broker.Telemetry;
using JwsFailure = simulator::TeslaSimulator.Telemetry.JwsFailure;
using SchnorrP256 = simulator::TeslaSimulator.Telemetry.SchnorrP256;
using TelemetryJwsVerifier = simulator::TeslaSimulator.Telemetry.TelemetryJwsVerifier;

namespace Broker.Tests.Telemetry;

/// <summary>
/// The broker's signer and the simulator's verifier against the test vectors published in teslamotors/vehicle-command:
/// internal/schnorr/sign_test.go and schnorr_test.go (signing is deterministic, so the signature is checked byte for
/// byte) and internal/authentication/jwt_test.go (a signed token, for verifying only: its private key is not published).
/// </summary>
public sealed class TelemetryJwsTests
{
    [Fact]
    public void SchnorrSignatureMatchesVehicleCommandsVector()
    {
        // schnorr_test.go testKey(): the scalar 0x03 followed by 31 zero bytes; goodSig() signs "hello world".
        var scalar = new byte[32];
        scalar[0] = 3;
        var message = "hello world"u8.ToArray();
        var expected = Convert.FromHexString(
            "7cfdbeb5baa730540401550bdefa20976453e8539ae4b2f26ce33125801a08f90ed20c3d846497ff82cc9772e3db4703982f47bd0b0b89dfb9a49cd2e524054602b1e05fbf95f5686faea7a5809eb92f5ecc22eae74ceccc5e2a65dd67ff20fc");

        var signature = TelemetryJws.SchnorrSign(scalar, message);

        Assert.Equal(Convert.ToHexStringLower(expected), Convert.ToHexStringLower(signature));
        Assert.True(SchnorrP256.Verify(PublicKeyOf(scalar), message, signature));
        Assert.False(SchnorrP256.Verify(PublicKeyOf(scalar), "hello worle"u8, signature));
        signature[^1] ^= 1;
        Assert.False(SchnorrP256.Verify(PublicKeyOf(scalar), message, signature));
    }

    [Fact]
    public void NonceFollowsRfc6979()
    {
        // sign_test.go TestDeterministicNonce: RFC 6979 appendix A.2.5, P-256 with SHA-256, message "sample".
        var rfcScalar = Convert.FromHexString("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
        Assert.Equal("a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60",
            Convert.ToHexStringLower(TelemetryJws.DeterministicNonce(rfcScalar, SHA256.HashData("sample"u8))));

        // sign_test.go TestRejectionSampling: a digest whose first candidate exceeds the group order.
        var scalar = new byte[32];
        scalar[0] = 3;
        var digest = Convert.FromHexString("0080c36864c5f2f460e3767983c65677b65cef901bcedcb223f9b365c68f52f6");
        Assert.Equal("264fc6592fbea24fd0954e0b86b886e8743161758ddad2f7e9fed75a0019e005",
            Convert.ToHexStringLower(TelemetryJws.DeterministicNonce(scalar, digest)));
    }

    [Fact]
    public void VehicleCommandsSignedTokenVerifies()
    {
        // jwt_test.go TestVerify: signed for one car (audience com.tesla.vehicle.<VIN>), claims {"foo":"bar"}.
        const string publicKey = "04775e2ef570d292df424c09f70e7d95678d5ce78124acb3f9375b198a4da9f9e9f0cc6d880e2e606e9b01b0fa62c6150e371aa5d8f7f09cc9e1bd3a1b449893ec";
        const string token = "eyJhbGciOiJUZXNsYS5TUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJjb20udGVzbGEudmVoaWNsZS5NM1RFUkFTSElNQUJVQ0swMSIsImZvbyI6ImJhciIsImlzcyI6IkJIZGVMdlZ3MHBMZlFrd0o5dzU5bFdlTlhPZUJKS3l6K1RkYkdZcE5xZm5wOE14dGlBNHVZRzZiQWJENllzWVZEamNhcGRqMzhKeko0YjA2RzBTWWsrdz0ifQ.4Xq2tsynDYOhLBWpnqLJfsAzdOqTOwHkVowI47A-yzVXIQHaawObJvAYRoRs61oVwWiEQ7XYXG8WE_Vz_49eVirAV9NGKymj3HBTTjN5DmViWmFzfaIOXRWKJlE--vzU";

        var result = TelemetryJwsVerifier.Verify(token, publicKey, "com.tesla.vehicle.M3TERASHIMABUCK01");

        Assert.True(result.Valid, result.Reason);
        Assert.Equal("bar", (string?)result.Claims!["foo"]);
        Assert.Equal(JwsFailure.WrongAudience, TelemetryJwsVerifier.Verify(token, publicKey).Failure);
    }

    [Fact]
    public void SignedConfigCarriesTheIssuerAndAudienceAndVerifiesWithThePartnersKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = PublicKeyOf(key);

        var token = TelemetryJws.Sign(key, Config());

        var parts = token.Split('.');
        Assert.Equal("""{"alg":"Tesla.SS256","typ":"JWT"}""", Decode(parts[0]));
        // As Go writes a map: keys sorted, no spaces, '<' escaped; iss is the key in standard base64, aud the fleet audience.
        var iss = Convert.ToBase64String(Convert.FromHexString(publicKey));
        Assert.Equal($$$"""{"aud":"com.tesla.fleet.TelemetryClient","ca":"\u003cpem\u003e","exp":1767225600,"fields":{"Location":{"interval_seconds":10,"minimum_delta":0.5},"Soc":{"interval_seconds":60}},"hostname":"telemetry.broker.test","iss":"{{{iss}}}","port":443}""",
            Decode(parts[1]));
        Assert.Equal(128, parts[2].Length); // 96 bytes, unpadded base64url
        Assert.Equal(token, TelemetryJws.Sign(key, Config())); // deterministic nonce
        var result = TelemetryJwsVerifier.Verify(token, publicKey);
        Assert.True(result.Valid, result.Reason);
        Assert.Equal("telemetry.broker.test", (string?)result.Claims!["hostname"]);
    }

    [Fact]
    public void TamperedConfigOrAnotherKeyIsRefused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parts = TelemetryJws.Sign(key, Config()).Split('.');
        var claims = Decode(parts[1]).Replace("telemetry.broker.test", "telemetry.attacker.test");

        var tampered = TelemetryJwsVerifier.Verify($"{parts[0]}.{Encode(claims)}.{parts[2]}", PublicKeyOf(key));
        var wrongKey = TelemetryJwsVerifier.Verify(string.Join('.', parts), PublicKeyOf(other));
        var otherAlgorithm = TelemetryJwsVerifier.Verify($"{Encode("""{"alg":"ES256","typ":"JWT"}""")}.{parts[1]}.{parts[2]}", PublicKeyOf(key));

        Assert.Equal(JwsFailure.BadSignature, tampered.Failure);
        Assert.Null(tampered.Claims);
        Assert.Equal(JwsFailure.UnknownIssuer, wrongKey.Failure);
        Assert.Equal(JwsFailure.UnsupportedAlgorithm, otherAlgorithm.Failure);
        Assert.Equal(JwsFailure.Malformed, TelemetryJwsVerifier.Verify("not.a-token", PublicKeyOf(key)).Failure);
    }

    internal static JsonObject Config() => new()
    {
        ["hostname"] = "telemetry.broker.test",
        ["port"] = 443,
        ["ca"] = "<pem>",
        ["exp"] = 1767225600,
        ["fields"] = new JsonObject
        {
            ["Soc"] = new JsonObject { ["interval_seconds"] = 60 },
            ["Location"] = new JsonObject { ["interval_seconds"] = 10, ["minimum_delta"] = 0.5 },
        },
    };

    internal static string PublicKeyOf(ECDsa key)
    {
        var q = key.ExportParameters(includePrivateParameters: false).Q;
        return "04" + Convert.ToHexStringLower(q.X!) + Convert.ToHexStringLower(q.Y!);
    }

    private static byte[] PublicKeyOf(byte[] scalar)
    {
        using var key = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = scalar });
        return Convert.FromHexString(PublicKeyOf(key));
    }

    private static string Decode(string segment) => Encoding.UTF8.GetString(Base64Url.DecodeFromChars(segment));

    private static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
}
