using System.ComponentModel.DataAnnotations;

namespace Broker.Tesla;

/// <summary>
/// A region's own sign-in settings (<c>Tesla:Auth:&lt;region&gt;</c>). Unset values fall back to the global
/// <c>Tesla:*</c> ones, except in China, which always has a realm of its own (see <see cref="TeslaOptions.ChinaRegion"/>).
/// </summary>
public sealed class TeslaAuthOptions
{
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    [Url] public string? AuthBaseUrl { get; set; }
    [Url] public string? TokenEndpoint { get; set; }
    [Url] public string? MetadataAddress { get; set; }
}

/// <summary>
/// One Tesla sign-in world: an authorize host, a token host and the app registered there, serving the Fleet API
/// regions in <see cref="Regions"/>. Tokens never cross realms: a China account's tokens go only to China's hosts,
/// and its refreshes only to China's token endpoint with China's client id (tesla-confirmed §2).
/// </summary>
public sealed record TeslaRealm(
    string Name, string ClientId, string? ClientSecret, string AuthBaseUrl, string TokenEndpoint, string MetadataAddress,
    IReadOnlyList<string> Regions)
{
    public const string Global = "global";

    /// <summary>China is offered and used only once its own app is configured: no client id, no China.</summary>
    public bool IsConfigured => ClientId.Length > 0;

    public string AuthorizeEndpoint => $"{AuthBaseUrl}/oauth2/v3/authorize";

    /// <summary>Where an operator sets this realm's values, for error messages.</summary>
    public string ConfigurationKey => Name == Global ? "Tesla" : $"Tesla:Auth:{Name}";

    /// <summary>
    /// The issuers Tesla is seen using for this realm besides the discovery document's: <c>…/oauth2/v3</c> (the callback's
    /// <c>issuer</c>) and <c>…/oauth2/v3/nts</c> (the access tokens' <c>iss</c>), tesla-confirmed §1.
    /// </summary>
    public IEnumerable<string> KnownIssuers => [$"{AuthBaseUrl}/oauth2/v3", $"{AuthBaseUrl}/oauth2/v3/nts"];

    /// <summary>The region a code exchange names as audience when the code's prefix names none of this realm's.</summary>
    public string DefaultRegion => Regions.Contains("na") ? "na" : Regions[0];

    /// <summary>Where the owner withdraws this app's access (TESLA.md §1.11), at this realm's sign-in host.</summary>
    public string ConsentRevocationUrl(string? backUrl = null) =>
        $"{AuthBaseUrl}/user/revoke/consent?revoke_client_id={Uri.EscapeDataString(ClientId)}"
        + (backUrl is null ? "" : $"&back_url={Uri.EscapeDataString(backUrl)}");
}
