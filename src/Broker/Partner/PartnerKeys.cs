using System.Security.Cryptography;
using Broker.Data;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;

namespace Broker.Partner;

/// <summary>
/// The operator's prime256v1 key pair (TESLA.md §4.1). The private key is kept only as a vault envelope
/// bound to its row (<c>partner-key:&lt;id&gt;</c>); it is never logged or returned. Making a key current retires
/// the previous one in the same unit of work; the caller saves.
/// </summary>
public sealed class PartnerKeys(BrokerDbContext db, TokenVault vault, TimeProvider time)
{
    private const string P256Oid = "1.2.840.10045.3.1.7";

    /// <summary>The newest key not retired, or null.</summary>
    public Task<PartnerKey?> CurrentAsync(CancellationToken ct) =>
        db.PartnerKeys.AsNoTracking().Where(k => k.RetiredAt == null).OrderByDescending(k => k.CreatedAt).FirstOrDefaultAsync(ct);

    public async Task<PartnerKey> GenerateAsync(CancellationToken ct)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return await MakeCurrentAsync(key, "generated", ct);
    }

    /// <summary>Imports a PEM private key (<c>EC PRIVATE KEY</c> as openssl writes it, or PKCS#8 <c>PRIVATE KEY</c>).</summary>
    public async Task<PartnerKey> ImportAsync(string pem, CancellationToken ct)
    {
        using var key = ReadPrivateKey(pem);
        return await MakeCurrentAsync(key, "imported", ct);
    }

    /// <summary>The current private key, for signing; the caller disposes it.</summary>
    public async Task<ECDsa?> LoadPrivateKeyAsync(CancellationToken ct)
    {
        if (await CurrentAsync(ct) is not { } current)
        {
            return null;
        }
        var key = ECDsa.Create();
        key.ImportFromPem(vault.Decrypt(current.PrivateKeyCipher, Context(current.Id)));
        return key;
    }

    private async Task<PartnerKey> MakeCurrentAsync(ECDsa key, string origin, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var old in await db.PartnerKeys.Where(k => k.RetiredAt == null).ToListAsync(ct))
        {
            old.RetiredAt = now;
        }
        var q = key.ExportParameters(includePrivateParameters: false).Q;
        var row = new PartnerKey
        {
            PublicKeyPem = key.ExportSubjectPublicKeyInfoPem(),
            PublicKeyHex = "04" + Convert.ToHexStringLower(q.X!) + Convert.ToHexStringLower(q.Y!),
            PrivateKeyCipher = [],
            VaultKeyId = vault.CurrentKeyId,
            Origin = origin,
            CreatedAt = now,
        };
        row.PrivateKeyCipher = vault.Encrypt(key.ExportPkcs8PrivateKeyPem(), Context(row.Id));
        db.PartnerKeys.Add(row);
        return row;
    }

    internal static string Context(Guid id) => $"partner-key:{id}";

    private static ECDsa ReadPrivateKey(string pem)
    {
        if (pem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal))
        {
            throw Refused("The key is encrypted with a passphrase. Decrypt it first: openssl ec -in key.pem -out plain.pem");
        }
        if (pem.Contains("RSA PRIVATE KEY", StringComparison.Ordinal))
        {
            throw Refused(NotP256("an RSA key"));
        }
        if (!pem.Contains("-----BEGIN EC PRIVATE KEY-----", StringComparison.Ordinal) && !pem.Contains("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw Refused(pem.Contains("PUBLIC KEY", StringComparison.Ordinal)
                ? "That is a public key. Import the private key (-----BEGIN EC PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----); the public key is derived from it."
                : "Not a PEM private key: expected -----BEGIN EC PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----.");
        }
        var key = ECDsa.Create();
        try
        {
            // Ignores other blocks such as openssl's "EC PARAMETERS".
            key.ImportFromPem(pem);
            var curve = key.ExportParameters(includePrivateParameters: true).Curve;
            if (!curve.IsNamed || curve.Oid.Value != P256Oid)
            {
                throw Refused(NotP256(curve.IsNamed ? $"a key on {curve.Oid.FriendlyName ?? curve.Oid.Value}" : "a key with explicit curve parameters"));
            }
            return key;
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            key.Dispose();
            // PKCS#8 of another algorithm (RSA, Ed25519) or a damaged PEM; the exception text may quote key bytes, so it is not passed on.
            throw Refused(NotP256("not a readable EC private key"));
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static PartnerSetupException Refused(string message) => new("The key was refused", message);

    private static string NotP256(string what) =>
        $"This is {what}. Tesla vehicles only accept prime256v1 (P-256) keys: generate one here, or with "
        + "`openssl ecparam -name prime256v1 -genkey -noout -out private-key.pem`.";
}
