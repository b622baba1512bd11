using System.ComponentModel.DataAnnotations;

namespace Broker.Tesla;

/// <summary>
/// How the broker reaches Tesla. Defaults are Tesla's production hosts (TESLA.md §1, §3); the demo
/// and the tests point every URL at the simulator instead.
/// </summary>
public sealed class TeslaOptions
{
    public const string SectionName = "Tesla";

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

    /// <summary>Scopes asked for. Only what the broker uses: it reads data, it sends no commands.</summary>
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
        [AuthBaseUrl, TokenEndpoint, ResolvedMetadataAddress, .. Regions.Values];

    internal string ResolvedMetadataAddress => MetadataAddress is { Length: > 0 } m
        ? m
        : new Uri(new Uri(TokenEndpoint), "/oauth2/v3/thirdparty/.well-known/openid-configuration").ToString();

    internal string ConsentRevocationUrl(string? backUrl = null) =>
        $"{AuthBaseUrl.TrimEnd('/')}/user/revoke/consent?revoke_client_id={Uri.EscapeDataString(ClientId)}"
        + (backUrl is null ? "" : $"&back_url={Uri.EscapeDataString(backUrl)}");

    /// <summary>The Fleet API base for a region code, or null when the region is not configured.</summary>
    internal string? RegionBaseUrl(string region) =>
        Regions.TryGetValue(region, out var url) && url.Length > 0 ? url.TrimEnd('/') : null;

    /// <summary>The configured region whose base URL is <paramref name="baseUrl"/>, if any.</summary>
    internal string? RegionOf(string baseUrl) =>
        Regions.FirstOrDefault(r => string.Equals(r.Value.TrimEnd('/'), baseUrl.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)).Key;
}
