using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace TeslaSimulator.Telemetry;

/// <summary>
/// Verifies Tesla's Schnorr/P-256/SHA-256 signatures (teslamotors/vehicle-command internal/schnorr/schnorr.go, described
/// there after RFC 8235): a signature is V.x | V.y | r (32 bytes each); with A the signer's key and
/// c = SHA-256(LV(G) | LV(V) | LV(A) | LV(message)), LV being a 4-byte big-endian length and then the bytes, points
/// uncompressed (0x04|x|y), it is valid when cA + rG = V. Only public values are involved, so plain BigInteger
/// arithmetic (Jacobian coordinates, a = −3) is fine here.
/// </summary>
internal static class SchnorrP256
{
    private static readonly ECParameters Explicit = ExplicitP256();
    private static readonly BigInteger P = Unsigned(Explicit.Curve.Prime);
    private static readonly BigInteger B = Unsigned(Explicit.Curve.B);
    private static readonly byte[] Generator = [0x04, .. Explicit.Curve.G.X!, .. Explicit.Curve.G.Y!];
    private static readonly Jacobian G = new(Unsigned(Explicit.Curve.G.X), Unsigned(Explicit.Curve.G.Y), BigInteger.One);

    private readonly record struct Jacobian(BigInteger X, BigInteger Y, BigInteger Z)
    {
        public bool IsInfinity => Z.IsZero;
    }

    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (Point(publicKey) is not { } a || signature.Length != 96)
        {
            return false;
        }
        var c = Unsigned(Challenge([0x04, .. signature[..64]], publicKey, message));
        var sum = Add(Multiply(a, c), Multiply(G, Unsigned(signature[64..])));
        if (sum.IsInfinity)
        {
            return false;
        }
        var (x, y) = Affine(sum);
        return x == Unsigned(signature[..32]) && y == Unsigned(signature[32..64]);
    }

    /// <summary>An uncompressed point on P-256, or null (wrong length or prefix, coordinates out of range, off the curve).</summary>
    public static bool IsPublicKey(ReadOnlySpan<byte> key) => Point(key) is not null;

    private static Jacobian? Point(ReadOnlySpan<byte> key)
    {
        if (key.Length != 65 || key[0] != 0x04)
        {
            return null;
        }
        var (x, y) = (Unsigned(key[1..33]), Unsigned(key[33..]));
        var onCurve = x < P && y < P && Mod(y * y - (x * x * x - 3 * x + B)).IsZero;
        return onCurve ? new Jacobian(x, y, BigInteger.One) : null;
    }

    private static byte[] Challenge(ReadOnlySpan<byte> publicNonce, ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var part in new[] { Generator, publicNonce.ToArray(), publicKey.ToArray(), message.ToArray() })
        {
            BinaryPrimitives.WriteUInt32BigEndian(length, (uint)part.Length);
            sha.AppendData(length);
            sha.AppendData(part);
        }
        return sha.GetHashAndReset();
    }

    private static Jacobian Multiply(Jacobian point, BigInteger scalar)
    {
        var result = new Jacobian(BigInteger.One, BigInteger.One, BigInteger.Zero);
        for (var bit = (int)scalar.GetBitLength() - 1; bit >= 0; bit--)
        {
            result = Double(result);
            if (!(scalar >> bit).IsEven)
            {
                result = Add(result, point);
            }
        }
        return result;
    }

    private static Jacobian Double(Jacobian p)
    {
        if (p.IsInfinity || p.Y.IsZero)
        {
            return new Jacobian(BigInteger.One, BigInteger.One, BigInteger.Zero);
        }
        var delta = Mod(p.Z * p.Z);
        var gamma = Mod(p.Y * p.Y);
        var beta = Mod(p.X * gamma);
        var alpha = Mod(3 * (p.X - delta) * (p.X + delta));
        var x = Mod(alpha * alpha - 8 * beta);
        var z = Mod((p.Y + p.Z) * (p.Y + p.Z) - gamma - delta);
        var y = Mod(alpha * (4 * beta - x) - 8 * gamma * gamma);
        return new Jacobian(x, y, z);
    }

    private static Jacobian Add(Jacobian p, Jacobian q)
    {
        if (p.IsInfinity) return q;
        if (q.IsInfinity) return p;
        var z1z1 = Mod(p.Z * p.Z);
        var z2z2 = Mod(q.Z * q.Z);
        var u1 = Mod(p.X * z2z2);
        var u2 = Mod(q.X * z1z1);
        var s1 = Mod(p.Y * q.Z * z2z2);
        var s2 = Mod(q.Y * p.Z * z1z1);
        if (u1 == u2)
        {
            return s1 == s2 ? Double(p) : new Jacobian(BigInteger.One, BigInteger.One, BigInteger.Zero);
        }
        var h = Mod(u2 - u1);
        var r = Mod(s2 - s1);
        var h2 = Mod(h * h);
        var h3 = Mod(h * h2);
        var u1h2 = Mod(u1 * h2);
        var x = Mod(r * r - h3 - 2 * u1h2);
        var y = Mod(r * (u1h2 - x) - s1 * h3);
        return new Jacobian(x, y, Mod(p.Z * q.Z * h));
    }

    private static (BigInteger X, BigInteger Y) Affine(Jacobian p)
    {
        var zInverse = BigInteger.ModPow(p.Z, P - 2, P);
        var z2 = Mod(zInverse * zInverse);
        return (Mod(p.X * z2), Mod(p.Y * z2 * zInverse));
    }

    private static BigInteger Mod(BigInteger value)
    {
        var m = BigInteger.Remainder(value, P);
        return m.Sign < 0 ? m + P : m;
    }

    private static BigInteger Unsigned(ReadOnlySpan<byte> bigEndian) => new(bigEndian, isUnsigned: true, isBigEndian: true);

    private static ECParameters ExplicitP256()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return key.ExportExplicitParameters(includePrivateParameters: false);
    }
}
