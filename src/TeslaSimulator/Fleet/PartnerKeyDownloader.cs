using System.Security.Cryptography;
using TeslaSimulator.Hosting;

namespace TeslaSimulator.Fleet;

/// <summary>Either the key as a 65-byte uncompressed P-256 point in hex ("04…"), or Tesla's 424 error text.</summary>
internal readonly record struct DownloadedKey(string? PublicKey, string? Error);

/// <summary>
/// Fetches a partner's public key the way Tesla does on registration and pairing:
/// <c>GET https://&lt;domain&gt;/.well-known/appspecific/com.tesla.3p.public-key.pem</c>. The base URL per domain comes
/// from <see cref="SimulatorOptions.PartnerDomains"/>; the transport is the named HttpClient <see cref="HttpClientName"/>,
/// which an in-process host replaces with its partner app's TestServer handler.
/// </summary>
internal sealed class PartnerKeyDownloader(IHttpClientFactory factory, SimulatorOptions options)
{
    public const string HttpClientName = SimulatorMarker.PartnerKeyDownloadClient;
    public const string WellKnownPath = "/.well-known/appspecific/com.tesla.3p.public-key.pem";

    // A P-256 public key PEM is 178 bytes. Tesla answers "error: too large" for certificates and RSA keys
    // published by mistake; the exact limit is not documented, so 1 KiB is an assumption.
    private const int MaxBytes = 1024;
    private const string P256Oid = "1.2.840.10045.3.1.7";

    public async Task<DownloadedKey> DownloadAsync(string domain, CancellationToken ct)
    {
        var url = options.PartnerBase(domain) + WellKnownPath;
        string? reason;
        try
        {
            using var response = await factory.CreateClient(HttpClientName).GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode) reason = $"status {(int)response.StatusCode}";
            else
            {
                var body = await ReadCappedAsync(await response.Content.ReadAsStreamAsync(ct), ct);
                if (body is null) reason = "too large";
                else if (ReadP256(System.Text.Encoding.ASCII.GetString(body)) is { } key) return new(key, null);
                else reason = "not a prime256v1 public key";
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            reason = e is TaskCanceledException ? "timeout" : e.Message;
        }
        return new(null, $"Public key download failed for {url}, error: {reason}");
    }

    /// <summary>The uncompressed point of a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) on prime256v1, or null.</summary>
    public static string? ReadP256(string pem)
    {
        // Only a public key: a private key published at the well-known URL is not accepted as one.
        if (!PemEncoding.TryFind(pem, out var fields) || !pem.AsSpan()[fields.Label].SequenceEqual("PUBLIC KEY")) return null;
        var der = new byte[fields.DecodedDataLength];
        if (!Convert.TryFromBase64Chars(pem.AsSpan()[fields.Base64Data], der, out _)) return null;
        using var ec = ECDsa.Create();
        try { ec.ImportSubjectPublicKeyInfo(der, out _); }
        catch (CryptographicException) { return null; }
        var p = ec.ExportParameters(includePrivateParameters: false);
        if (!p.Curve.IsNamed || p.Curve.Oid.Value != P256Oid) return null;
        return "04" + Convert.ToHexStringLower(p.Q.X!) + Convert.ToHexStringLower(p.Q.Y!);
    }

    private static async Task<byte[]?> ReadCappedAsync(Stream stream, CancellationToken ct)
    {
        await using var _ = stream;
        var buffer = new byte[MaxBytes + 1];
        int read = 0, n;
        while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), ct)) > 0) read += n;
        return read > MaxBytes ? null : buffer[..read];
    }
}
