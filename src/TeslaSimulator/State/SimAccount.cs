namespace TeslaSimulator.State;

internal sealed class SimAccount(SeedAccount seed)
{
    public string Email { get; } = seed.Email;
    public string Password { get; set; } = seed.Password;
    public string Sub { get; } = seed.Sub;
    public string Region { get; } = seed.Region.ToLowerInvariant();
    public long UserId { get; } = seed.UserId;
    public string FullName { get; } = seed.FullName;
    public string Locale { get; } = seed.Locale;

    /// <summary>Bumped by a password reset; refresh tokens minted under an older epoch are dead.</summary>
    public int PasswordEpoch { get; set; }

    /// <summary>
    /// Every Fleet API call answers 401 "unknown user" while refreshes still work: what Tesla does for an owner who has
    /// never signed in to the Tesla app (vehicle-command#187; Tesla's FAQ). Set through the control API.
    /// </summary>
    public bool UnknownUser { get; set; }

    public List<SimVehicle> Vehicles { get; } = [];
    public List<SimEnergySite> EnergySites { get; } = [];

    /// <summary>NA / EU / CN, the ou_code claim; NA and EU are also the prefix of codes and refresh tokens.</summary>
    public string OuCode => Region.ToUpperInvariant();
}

/// <summary>An app registered at one auth server (<see cref="Auth.SimRealm.Name"/>): China's apps live on developer.tesla.cn.</summary>
internal sealed record SimClient(string ClientId, string? ClientSecret, string Name, IReadOnlyList<string> RedirectUris, string Realm);

/// <summary>What an account granted a client. Revocation bumps the epoch so older tokens die.</summary>
internal sealed class Consent
{
    public HashSet<string> Scopes { get; } = new(StringComparer.Ordinal);
    public int Epoch { get; set; }
    public bool Revoked { get; set; }
}
