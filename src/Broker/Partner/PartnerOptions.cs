using System.ComponentModel.DataAnnotations;

namespace Broker.Partner;

/// <summary>The operator's Fleet API partner account: the domain Tesla knows the app by, and pairing links.</summary>
public sealed class PartnerOptions : IValidatableObject
{
    public const string SectionName = "Partner";

    /// <summary>
    /// The app's domain as registered with Tesla (the root of its allowed origins on developer.tesla.com): a bare,
    /// lowercase host name. Tesla downloads the public key from <c>https://&lt;Domain&gt;/.well-known/…</c>.
    /// Empty: registration is refused and no pairing links are shown.
    /// </summary>
    public string? Domain { get; set; }

    /// <summary>Where owners pair the virtual key (<c>&lt;base&gt;/_ak/&lt;domain&gt;</c>); the demo points it at the simulator.</summary>
    [Required, Url] public string PairingBaseUrl { get; set; } = "https://tesla.com";

    /// <summary>Scopes asked for on the partner token (TESLA.md §1.6).</summary>
    public string[] Scopes { get; set; } =
        ["openid", "vehicle_device_data", "vehicle_cmds", "vehicle_charging_cmds", "energy_device_data", "energy_cmds"];

    /// <summary>How often each account's cars are asked whether they hold the virtual key (fleet_status).</summary>
    [Range(1, 24 * 30)] public int KeyCheckIntervalHours { get; set; } = 24;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Domain is { Length: > 0 } d && !IsHostName(d))
        {
            yield return new ValidationResult(
                $"Partner:Domain must be a bare lowercase host name such as broker.example.com (no https://, port or path), not '{d}'.", [nameof(Domain)]);
        }
    }

    /// <summary>Tesla accepts only a lowercase DNS name: no scheme, port, path or IP address.</summary>
    public static bool IsHostName(string domain) =>
        domain == domain.ToLowerInvariant() && domain.Length <= 253 && Uri.CheckHostName(domain) == UriHostNameType.Dns;

    /// <summary>The owner's pairing page for the domain, for one car when <paramref name="vin"/> is given; null without a domain.</summary>
    public string? PairingUrl(string? vin = null) => Domain is { Length: > 0 } domain
        ? $"{PairingBaseUrl.TrimEnd('/')}/_ak/{domain}" + (vin is null ? "" : $"?vin={Uri.EscapeDataString(vin)}")
        : null;

    public string? PublicKeyUrl => Domain is { Length: > 0 } domain ? PublicKeyUrlOf(domain) : null;

    /// <summary>Where Tesla downloads the domain's public key (TESLA.md §4.1).</summary>
    public static string PublicKeyUrlOf(string domain) => $"https://{domain}{PartnerEndpoints.PublicKeyPath}";
}
