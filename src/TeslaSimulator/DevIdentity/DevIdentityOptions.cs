using System.ComponentModel.DataAnnotations;

namespace TeslaSimulator.DevIdentity;

/// <summary>
/// The development identity provider at <c>&lt;auth base&gt;/dev-idp</c>: people and clients come from <see cref="SeedFile"/>,
/// and entries here replace seed entries with the same email / ClientId (e.g. the demo passes its broker's URLs in).
/// </summary>
internal sealed class DevIdentityOptions
{
    public const string SectionName = "Simulator:DevIdentity";

    [Required] public string SeedFile { get; set; } = "Seed/demo-people.json";
    public List<DevPerson> People { get; set; } = [];
    public List<DevClient> Clients { get; set; } = [];

    /// <summary>Codes are for an immediate back-channel exchange; a minute is plenty.</summary>
    [Range(5, 600)] public int CodeLifetimeSeconds { get; set; } = 60;
    [Range(60, 86_400)] public int TokenLifetimeSeconds { get; set; } = 3600;
}

internal sealed class DevPerson
{
    public string Sub { get; set; } = "";
    public string Email { get; set; } = "";
    public string Password { get; set; } = "";
    public string Name { get; set; } = "";
    public List<string> Groups { get; set; } = [];
}

/// <summary>A confidential client: it authenticates at the token endpoint with its secret (basic or post).</summary>
internal sealed class DevClient
{
    public string ClientId { get; set; } = "";
    public string ClientSecret { get; set; } = "";
    public List<string> RedirectUris { get; set; } = [];
    public List<string> PostLogoutRedirectUris { get; set; } = [];
}

/// <summary>The seed file's shape (Seed/demo-people.json).</summary>
internal sealed record DevIdentitySeed(List<DevPerson>? People, List<DevClient>? Clients);
