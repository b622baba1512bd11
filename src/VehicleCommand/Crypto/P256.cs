using System.Numerics;
using System.Security.Cryptography;

namespace VehicleCommand.Crypto;

/// <summary>
/// The uncompressed point encoding of NIST P-256 that the protocol uses for every public key (protocol.md's
/// ENCODE_PUBLIC: <c>0x04 || BIG_ENDIAN(x, 32) || BIG_ENDIAN(y, 32)</c>), and the curve check a received key must pass
/// before it meets the partner's private key. The check is explicit rather than left to the platform's import, whose
/// validation differs between crypto back ends.
/// </summary>
public static class P256
{
    public const string Oid = "1.2.840.10045.3.1.7";

    private static readonly BigInteger Prime = Unsigned("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    private static readonly BigInteger B = Unsigned("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");

    /// <summary>ENCODE_PUBLIC of a point as .NET exports it (coordinates already 32 bytes for a named P-256 key).</summary>
    public static byte[] Encode(ECPoint point)
    {
        var encoded = new byte[SessionKey.PublicKeyLength];
        encoded[0] = 0x04;
        point.X!.CopyTo(encoded.AsSpan(1 + 32 - point.X!.Length));
        point.Y!.CopyTo(encoded.AsSpan(33 + 32 - point.Y!.Length));
        return encoded;
    }

    /// <summary>
    /// Whether <paramref name="encoded"/> is 65 bytes, starts with 0x04 and names an affine point of P-256:
    /// coordinates below the prime and <c>y² = x³ − 3x + b (mod p)</c>. The point at infinity has no such encoding
    /// (all zeros fails the equation), so it is refused too.
    /// </summary>
    public static bool IsOnCurve(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length != SessionKey.PublicKeyLength || encoded[0] != 0x04)
        {
            return false;
        }
        var x = new BigInteger(encoded[1..33], isUnsigned: true, isBigEndian: true);
        var y = new BigInteger(encoded[33..], isUnsigned: true, isBigEndian: true);
        if (x >= Prime || y >= Prime)
        {
            return false;
        }
        var left = BigInteger.ModPow(y, 2, Prime);
        var right = BigInteger.Remainder(BigInteger.ModPow(x, 3, Prime) - 3 * x + B, Prime);
        if (right.Sign < 0)
        {
            right += Prime;
        }
        return left == right;
    }

    private static BigInteger Unsigned(string hex) => new(Convert.FromHexString(hex), isUnsigned: true, isBigEndian: true);
}
