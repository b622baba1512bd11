using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace TeslaSimulator.Auth;

/// <summary>The RSA-2048 key that signs every JWT; generated at start, so tokens never outlive the process.</summary>
internal sealed class SigningKey : IDisposable
{
    private readonly RSA _rsa = RSA.Create(2048);

    public SigningKey()
    {
        Key = new RsaSecurityKey(_rsa) { KeyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) };
        Credentials = new SigningCredentials(Key, SecurityAlgorithms.RsaSha256);
    }

    public RsaSecurityKey Key { get; }
    public SigningCredentials Credentials { get; }

    public object Jwks()
    {
        var p = _rsa.ExportParameters(false);
        return new
        {
            keys = new[]
            {
                new
                {
                    kty = "RSA", use = "sig", alg = "RS256", kid = Key.KeyId,
                    n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent),
                },
            },
        };
    }

    public void Dispose() => _rsa.Dispose();
}
