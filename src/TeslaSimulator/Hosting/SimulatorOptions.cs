using System.ComponentModel.DataAnnotations;
using TeslaSimulator.Auth;

namespace TeslaSimulator.Hosting;

internal sealed class SimulatorOptions : IValidatableObject
{
    public const string SectionName = "Simulator";

    [Required, Url] public string AuthBaseUrl { get; set; } = "http://127.0.0.1:7800";

    /// <summary>Region code (na, eu, cn) to regional Fleet API base URL.</summary>
    [Required, MinLength(1)] public Dictionary<string, string> Regions { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Regions whose accounts sign in at an auth server of their own, by region code: China signs in at
    /// auth.tesla.cn with apps registered there (tesla-confirmed §2). Every other region uses <see cref="AuthBaseUrl"/>.
    /// </summary>
    public Dictionary<string, RealmOptions> Auth { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>What the global auth server puts in id_tokens; a test mode, since no Fleet id_token was ever captured.</summary>
    public IdTokenMode IdToken { get; set; }

    [Range(60, 31_536_000)] public int AccessTokenLifetimeSeconds { get; set; } = 28800;
    [Required] public string SeedFile { get; set; } = "Seed/demo-fleet.json";
    [Range(0, 3600)] public int WakeUpSeconds { get; set; } = 15;
    [Range(1, 86_400)] public int IdleSecondsBeforeSleep { get; set; } = 900;

    /// <summary>
    /// The most cars one page of /api/1/vehicles holds, whatever per_page asks (Tesla documents 100). Lower it to play a
    /// Tesla whose short page still names a next one, which a client must follow (pagination.next).
    /// </summary>
    [Range(1, 100)] public int MaxVehiclesPerPage { get; set; } = 100;

    /// <summary>
    /// Since 2026 vehicle_data has no drive_state at all (not even shift_state or speed) for a token without
    /// <c>vehicle_location</c> (teslamotors/fleet-telemetry#460, reported 2026-05, still open). False plays the older Tesla.
    /// </summary>
    public bool DriveStateNeedsLocationScope { get; set; } = true;

    /// <summary>Registered OAuth clients; merged over the seed file's clients by ClientId.</summary>
    public List<ClientOptions> Clients { get; set; } = [];

    /// <summary>
    /// Partner domain to the base URL its public key is downloaded from. Nothing here resolves real domains,
    /// so a demo maps e.g. broker.localhost to http://127.0.0.1:5080. Unlisted domains use https://&lt;domain&gt;.
    /// </summary>
    public Dictionary<string, string> PartnerDomains { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public string Issuer => $"{Trim(AuthBaseUrl)}/oauth2/v3/nts";
    public string AuthBase => Trim(AuthBaseUrl);
    public string UserInfoEndpoint => $"{AuthBase}/oauth2/v3/userinfo";

    public string RegionBase(string region) =>
        Regions.TryGetValue(region, out var url) ? Trim(url) : throw new InvalidOperationException($"Region '{region}' is not configured.");

    public IEnumerable<string> RegionBases => Regions.Values.Select(Trim);

    public string PartnerBase(string domain) =>
        PartnerDomains.TryGetValue(domain, out var url) ? Trim(url) : $"https://{domain}";

    /// <summary>The region whose base URL equals the request's scheme+host+port, or null.</summary>
    public string? RegionOf(HttpRequest request) =>
        Regions.FirstOrDefault(r => SameOrigin(r.Value, $"{request.Scheme}://{request.Host}")).Key;

    public static string Trim(string url) => url.TrimEnd('/');

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        PartnerDomains.Where(d => !Uri.TryCreate(d.Value, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
            .Select(d => new ValidationResult($"PartnerDomains:{d.Key} must be an absolute http(s) URL.", [nameof(PartnerDomains)]))
            .Concat(Auth.Where(a => !Regions.ContainsKey(a.Key) || !Uri.TryCreate(a.Value.AuthBaseUrl, UriKind.Absolute, out _))
                .Select(a => new ValidationResult($"Auth:{a.Key} must name a configured region and have an absolute AuthBaseUrl.", [nameof(Auth)])));

    public static bool SameOrigin(string a, string b) =>
        Uri.TryCreate(a, UriKind.Absolute, out var x) && Uri.TryCreate(b, UriKind.Absolute, out var y)
        && x.Scheme == y.Scheme && x.Port == y.Port && HostKey(x) == HostKey(y);

    // localhost and 127.0.0.1 are the same loopback origin for a demo on one machine.
    private static string HostKey(Uri u) => u.IsLoopback ? "loopback" : u.Host.ToLowerInvariant();
}

/// <summary>An auth server of its own for one region (Simulator:Auth:&lt;region&gt;).</summary>
internal sealed class RealmOptions
{
    public string AuthBaseUrl { get; set; } = "";
    public IdTokenMode IdToken { get; set; }
}

internal sealed class ClientOptions
{
    public string ClientId { get; set; } = "";
    /// <summary>The auth server the app is registered at: empty for the global one, else a region code of <see cref="SimulatorOptions.Auth"/>.</summary>
    public string? Realm { get; set; }
    public string? ClientSecret { get; set; }
    public string? Name { get; set; }
    public List<string> RedirectUris { get; set; } = [];
}
