using System.ComponentModel.DataAnnotations;

namespace Broker.People;

/// <summary>
/// Console sign-in: any standard OpenID provider (Keycloak, Authentik, Entra ID, Google…) by
/// authority, client id and secret; operators named by subject, email or group.
/// </summary>
public sealed class ConsoleOptions
{
    public const string SectionName = "Console";

    public ConsoleOidcOptions Oidc { get; set; } = new();
    public OperatorNames Operators { get; set; } = new();

    /// <summary>A console session ends this long after sign-in, whatever the activity.</summary>
    [Range(1, 168)] public int SessionHours { get; set; } = 8;

    /// <summary>Sign-in starts allowed per client address and minute.</summary>
    [Range(1, 10000)] public int SignInPerMinute { get; set; } = 10;

    /// <summary>Connect starts (the button that goes to Tesla) allowed per client address and minute.</summary>
    [Range(1, 10000)] public int ConnectPerMinute { get; set; } = 30;

    /// <summary>How long a reconnect link stays usable.</summary>
    [Range(1, 90)] public int ReconnectLinkDays { get; set; } = 7;
}

public sealed class ConsoleOidcOptions
{
    /// <summary>The provider's issuer URL; its discovery document is read from <c>/.well-known/openid-configuration</c>.</summary>
    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    /// <summary>Asked for besides <c>openid profile email</c>, e.g. <c>groups</c> where the provider needs it.</summary>
    public string[] ExtraScopes { get; set; } = [];
    /// <summary>Only the demo's and tests' loopback providers may be plain HTTP.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;
    /// <summary>
    /// Invitations bind by email only when the provider says <c>email_verified</c>. Entra ID never sends
    /// it; set this for a provider whose emails are all verified by policy.
    /// </summary>
    public bool TrustUnverifiedEmail { get; set; }

    public bool IsConfigured => Authority is { Length: > 0 } && ClientId is { Length: > 0 };
}

public sealed class OperatorNames
{
    public string[] Subjects { get; set; } = [];
    public string[] Emails { get; set; } = [];
    public string[] Groups { get; set; } = [];
    /// <summary>The id_token claim that lists the person's groups (<c>groups</c> for Keycloak, Authentik, Entra ID).</summary>
    public string GroupClaim { get; set; } = "groups";
}
