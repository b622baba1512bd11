using Broker.Admin;
using Broker.Data;
using Broker.Tesla;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Partner;

/// <summary>A set-up step cannot be done as asked; <see cref="Exception.Message"/> tells the operator why and what to do.</summary>
public sealed class PartnerSetupException(string title, string message, int status = StatusCodes.Status400BadRequest) : Exception(message)
{
    public string Title { get; } = title;
    public int Status { get; } = status;
}

public sealed record PartnerKeyResponse(Guid Id, string PublicKeyPem, string PublicKeyHex, string Origin, DateTimeOffset CreatedAt);

public sealed record PartnerRegistrationResponse(
    string Region, string Domain, string Status, string? PublicKeyHex, bool MatchesCurrentKey, string? Error, DateTimeOffset AttemptedAt, DateTimeOffset? RegisteredAt);

/// <summary>Everything the operator needs to see: the key, where Tesla fetches it, each region's registration, the pairing link.</summary>
public sealed record PartnerStatusResponse(
    string? Domain, string? PublicKeyUrl, string? PairingUrl, PartnerKeyResponse? Key,
    IReadOnlyList<string> Regions, IReadOnlyList<PartnerRegistrationResponse> Registrations);

/// <summary>
/// The operator's partner set-up acts, shared by the HTTP API and the console. Each act is audited and
/// saved with its audit event; Tesla is called before anything is written.
/// </summary>
public sealed class PartnerSetup(
    BrokerDbContext db, PartnerKeys keys, PartnerRegistrar registrar, AuditLog audit, IOptions<PartnerOptions> options, IOptions<TeslaOptions> tesla)
{
    private readonly PartnerOptions _options = options.Value;

    public async Task<PartnerStatusResponse> GetStatusAsync(CancellationToken ct)
    {
        var key = await keys.CurrentAsync(ct);
        var registrations = await db.PartnerRegistrations.AsNoTracking().OrderBy(r => r.Region).ToListAsync(ct);
        return new PartnerStatusResponse(
            _options.Domain is { Length: > 0 } ? _options.Domain : null, _options.PublicKeyUrl, _options.PairingUrl(), key?.ToResponse(),
            RegistrableRegions(), [.. registrations.Select(r => r.ToResponse(key))]);
    }

    /// <summary>A new key pair; over a key in use only with <paramref name="replace"/> (it un-pairs every car paired with that key).</summary>
    public async Task<PartnerKeyResponse> GenerateKeyAsync(bool replace, CancellationToken ct)
    {
        await RefuseSilentReplacementAsync(replace, ct);
        var key = await keys.GenerateAsync(ct);
        return await SaveKeyAsync(key, "partner.key_generated", ct);
    }

    /// <summary>Throws <see cref="PartnerSetupException"/> for anything but a prime256v1 private key, or over a key in use without <paramref name="replace"/>.</summary>
    public async Task<PartnerKeyResponse> ImportKeyAsync(string privateKeyPem, bool replace, CancellationToken ct)
    {
        await RefuseSilentReplacementAsync(replace, ct);
        var key = await keys.ImportAsync(privateKeyPem, ct);
        return await SaveKeyAsync(key, "partner.key_imported", ct);
    }

    private async Task RefuseSilentReplacementAsync(bool replace, CancellationToken ct)
    {
        if (!replace && await keys.CurrentAsync(ct) is { } current)
        {
            throw new PartnerSetupException("A partner key is in use", $"Key {current.PublicKeyHex[..18]}… is the current partner key: cars pair with it "
                + "and Tesla registers it. A new one un-pairs every car paired with it until its owner pairs again, and needs registering in every "
                + "region. To go ahead, tick \"Replace the key cars are paired with\" (in the API: replace: true).", StatusCodes.Status409Conflict);
        }
    }

    /// <summary>
    /// Registers in <paramref name="region"/>, or in every region whose realm has its app when null (China only once
    /// Tesla:Auth:cn is set). Tesla's refusals are outcomes (a failed row with the reason); a missing domain, key,
    /// region or China app is a <see cref="PartnerSetupException"/>.
    /// </summary>
    public async Task<IReadOnlyList<PartnerRegistrationResponse>> RegisterAsync(string? region, CancellationToken ct)
    {
        if (_options.Domain is not { Length: > 0 } domain)
        {
            throw new PartnerSetupException("No partner domain", "Set Partner:Domain to the app's domain on developer.tesla.com "
                + "(a bare host name such as broker.example.com) and restart the broker.", StatusCodes.Status409Conflict);
        }
        var key = await keys.CurrentAsync(ct)
            ?? throw new PartnerSetupException("No partner key", "Generate or import a key first: Tesla downloads it during registration.", StatusCodes.Status409Conflict);
        var regions = RegistrableRegions().ToList();
        if (region is not null)
        {
            var named = tesla.Value.Regions.Keys.FirstOrDefault(r => r.Equals(region.Trim(), StringComparison.OrdinalIgnoreCase))
                ?? throw new PartnerSetupException("Unknown region", $"Region '{region}' is not configured; configured: {string.Join(", ", tesla.Value.Regions.Keys)}.");
            if (tesla.Value.RealmOfRegion(named) is { IsConfigured: false } realm)
            {
                throw new PartnerSetupException("Region not set up", $"Region '{named}' signs in at its own Tesla app (developer.tesla.cn for China): "
                    + $"set {realm.ConfigurationKey}:ClientId and {realm.ConfigurationKey}:ClientSecret and restart the broker (docs/china.md).", StatusCodes.Status409Conflict);
            }
            regions = [named.ToLowerInvariant()];
        }

        var rows = new List<PartnerRegistration>();
        foreach (var r in regions)
        {
            var row = await registrar.RegisterAsync(r, domain, key, ct);
            rows.Add(row);
            Audit(row.Status == "registered" ? "partner.registered" : "partner.registration_failed",
                $"region={r}; domain={domain}; key={key.Id}" + (row.Error is null ? "" : $"; error={row.Error}"));
        }
        await db.SaveChangesAsync(ct);
        return [.. rows.Select(r => r.ToResponse(key))];
    }

    /// <summary>The configured regions whose realm has its app; China's appears once Tesla:Auth:cn is set.</summary>
    private IReadOnlyList<string> RegistrableRegions() =>
        [.. tesla.Value.Regions.Keys.Where(r => tesla.Value.RealmOfRegion(r).IsConfigured).Select(r => r.ToLowerInvariant()).Order(StringComparer.Ordinal)];

    private async Task<PartnerKeyResponse> SaveKeyAsync(PartnerKey key, string action, CancellationToken ct)
    {
        Audit(action, $"key={key.Id}; public_key={key.PublicKeyHex[..18]}…");
        await db.SaveChangesAsync(ct);
        return key.ToResponse();
    }

    private void Audit(string action, string detail) => audit.Add(action, detail: detail);
}

internal static class PartnerMappings
{
    public static PartnerKeyResponse ToResponse(this PartnerKey k) => new(k.Id, k.PublicKeyPem, k.PublicKeyHex, k.Origin, k.CreatedAt);

    public static PartnerRegistrationResponse ToResponse(this PartnerRegistration r, PartnerKey? current) => new(
        r.Region, r.Domain, r.Status, r.PublicKeyHex,
        current is not null && string.Equals(r.PublicKeyHex, current.PublicKeyHex, StringComparison.OrdinalIgnoreCase),
        r.Error, r.AttemptedAt, r.RegisteredAt);
}
