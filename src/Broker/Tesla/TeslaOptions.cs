using System.ComponentModel.DataAnnotations;

namespace Broker.Tesla;

/// <summary>
/// How the broker reaches Tesla. Defaults are Tesla's production hosts (TESLA.md §1, §3); the demo
/// and the tests point every URL at the simulator instead.
/// </summary>
public sealed class TeslaOptions
{
    public const string SectionName = "Tesla";
    public const string ChinaRegion = "cn";

    /// <summary>China's sign-in and token host (tesla-confirmed §2: PY #24, vc#100, HA docs #37915).</summary>
    public const string ChinaAuthBaseUrl = "https://auth.tesla.cn";
    public const string ChinaTokenEndpoint = "https://auth.tesla.cn/oauth2/v3/token";

    [Required] public string ClientId { get; set; } = "";

    /// <summary>Confidential apps send it on the code exchange; open-source (PKCE-only) apps leave it empty.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>Where the browser is sent to sign in (<c>/oauth2/v3/authorize</c>).</summary>
    [Required, Url] public string AuthBaseUrl { get; set; } = "https://auth.tesla.com";

    /// <summary>Token calls go to fleet-auth, not auth.tesla.com, since Tesla's 2025-07 announcement.</summary>
    [Required, Url] public string TokenEndpoint { get; set; } = "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token";

    /// <summary>OIDC discovery. Empty: the third-party document on the token endpoint's host.</summary>
    public string? MetadataAddress { get; set; }

    /// <summary>Regional Fleet API base URLs by region code (<c>na</c>, <c>eu</c>, <c>cn</c>).</summary>
    public Dictionary<string, string> Regions { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["na"] = "https://fleet-api.prd.na.vn.cloud.tesla.com",
        ["eu"] = "https://fleet-api.prd.eu.vn.cloud.tesla.com",
        ["cn"] = "https://fleet-api.prd.cn.vn.cloud.tesla.cn",
    };

    /// <summary>
    /// Regions that sign in at a Tesla auth server of their own, by region code (<c>Tesla:Auth:cn:ClientId</c>, …).
    /// China always does, at <see cref="ChinaAuthBaseUrl"/>; it is offered only once <c>Tesla:Auth:cn:ClientId</c> is set.
    /// </summary>
    public Dictionary<string, TeslaAuthOptions> Auth { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Scopes asked for. Only what the broker uses: it reads data. A tenant that lets the broker wake its cars asks
    /// for <c>vehicle_cmds</c> too (<see cref="Connect.ScopeCatalog.RequestedBy"/>).
    /// </summary>
    public string[] Scopes { get; set; } =
        ["openid", "offline_access", "vehicle_device_data", "vehicle_location", "energy_device_data"];

    /// <summary>
    /// Allows plain-HTTP Tesla URLs. Only for the simulator (demo, tests): real Tesla is HTTPS-only,
    /// and tokens must never cross the network in clear.
    /// </summary>
    public bool AllowHttp { get; set; }

    [Range(1, 120)] public int TokenRequestTimeoutSeconds { get; set; } = 15;

    [Range(1, 120)] public int FleetRequestTimeoutSeconds { get; set; } = 20;

    /// <summary>How long a started connect may take before its callback is refused.</summary>
    [Range(1, 120)] public int ConnectStateLifetimeMinutes { get; set; } = 15;

    internal IEnumerable<string> AllUrls =>
        [.. Regions.Values, .. Realms.SelectMany(r => new[] { r.AuthBaseUrl, r.TokenEndpoint, r.MetadataAddress })];

    /// <summary>The global realm and every region with a sign-in of its own (China always).</summary>
    internal IReadOnlyList<TeslaRealm> Realms =>
        [Realm(TeslaRealm.Global), .. Regions.Keys.Select(r => r.ToLowerInvariant()).Where(r => RealmNameOf(r) != TeslaRealm.Global).Order(StringComparer.Ordinal).Select(Realm)];

    /// <summary>The realm a region signs in at: its own when it has <c>Tesla:Auth:&lt;region&gt;</c> or is China, else the global one.</summary>
    internal string RealmNameOf(string region) =>
        Auth.ContainsKey(region) || region.Equals(ChinaRegion, StringComparison.OrdinalIgnoreCase) ? region.ToLowerInvariant() : TeslaRealm.Global;

    internal TeslaRealm RealmOfRegion(string region) => Realm(RealmNameOf(region));

    internal TeslaRealm Realm(string name)
    {
        if (name != TeslaRealm.Global && !Regions.ContainsKey(name))
        {
            throw new ArgumentException($"No Tesla realm is named '{name}'.", nameof(name));
        }
        var own = name == TeslaRealm.Global ? null : Auth.GetValueOrDefault(name);
        var china = name == ChinaRegion;
        // China never borrows the global app: Tesla's China auth server does not know it (tesla-confirmed §2).
        var ownTokenEndpoint = Url(own?.TokenEndpoint) ?? (china ? ChinaTokenEndpoint : null);
        return new TeslaRealm(
            name,
            ClientId: own?.ClientId ?? (china ? "" : ClientId),
            ClientSecret: own?.ClientSecret ?? (china ? null : ClientSecret),
            AuthBaseUrl: (Url(own?.AuthBaseUrl) ?? (china ? ChinaAuthBaseUrl : AuthBaseUrl)).TrimEnd('/'),
            TokenEndpoint: ownTokenEndpoint ?? TokenEndpoint,
            MetadataAddress: Url(own?.MetadataAddress) ?? (ownTokenEndpoint is null ? ResolvedMetadataAddress : Discovery(null, ownTokenEndpoint)),
            Regions: [.. Regions.Keys.Select(r => r.ToLowerInvariant()).Where(r => RealmNameOf(r) == name).Order(StringComparer.Ordinal)]);
    }

    /// <summary>OIDC discovery. Empty: the third-party document on the token endpoint's host (TESLA.md §1.9).</summary>
    internal string ResolvedMetadataAddress => Discovery(MetadataAddress, TokenEndpoint);

    // A malformed token endpoint stays as it is, for the start-up validation to name.
    private static string Discovery(string? configured, string tokenEndpoint) =>
        configured is { Length: > 0 } m ? m
        : Uri.TryCreate(tokenEndpoint, UriKind.Absolute, out var token) ? new Uri(token, "/oauth2/v3/thirdparty/.well-known/openid-configuration").ToString()
        : tokenEndpoint;

    private static string? Url(string? value) => value is { Length: > 0 } ? value : null;

    /// <summary>The Fleet API base for a region code, or null when the region is not configured.</summary>
    internal string? RegionBaseUrl(string region) =>
        Regions.TryGetValue(region, out var url) && url.Length > 0 ? url.TrimEnd('/') : null;

    /// <summary>The configured region whose base URL is <paramref name="baseUrl"/>, if any.</summary>
    internal string? RegionOf(string baseUrl) =>
        Regions.FirstOrDefault(r => string.Equals(r.Value.TrimEnd('/'), baseUrl.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)).Key;
}
