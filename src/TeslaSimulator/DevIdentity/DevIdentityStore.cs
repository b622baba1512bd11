using System.Text.Json;
using TeslaSimulator.Hosting;

namespace TeslaSimulator.DevIdentity;

/// <summary>A sign-in in progress; its id travels in a hidden form field (the provider sets no cookies).</summary>
internal sealed record DevSignIn(
    string Id, DevClient Client, string RedirectUri, string ResponseMode, IReadOnlyList<string> Scopes,
    string? State, string? Nonce, string CodeChallenge, DateTimeOffset ExpiresAt);

internal sealed record DevCode(
    DevClient Client, string RedirectUri, DevPerson Person, IReadOnlyList<string> Scopes, string? Nonce,
    string CodeChallenge, DateTimeOffset AuthTime, DateTimeOffset ExpiresAt)
{
    public bool Used { get; set; }
    public string? AccessTokenHash { get; set; }
}

internal sealed record DevAccessToken(DevPerson Person, string ClientId, IReadOnlyList<string> Scopes, DateTimeOffset ExpiresAt);

/// <summary>People, clients and the short-lived artefacts of the dev provider, all in memory behind <see cref="Gate"/>.</summary>
internal sealed class DevIdentityStore
{
    public DevIdentityStore(DevIdentityOptions options, SimulatorOptions simulator, TimeProvider time, IHostEnvironment env)
    {
        Options = options;
        Time = time;
        Issuer = $"{simulator.AuthBase}/dev-idp";
        var seed = JsonSerializer.Deserialize<DevIdentitySeed>(File.ReadAllText(Resolve(options.SeedFile, env)),
            new JsonSerializerOptions(JsonSerializerDefaults.Web)) ?? new DevIdentitySeed([], []);

        var people = (seed.People ?? []).ToDictionary(p => p.Email, StringComparer.OrdinalIgnoreCase);
        foreach (var p in options.People.Where(p => p.Email != "")) people[p.Email] = p;
        People = [.. people.Values];
        var clients = (seed.Clients ?? []).ToDictionary(c => c.ClientId, StringComparer.Ordinal);
        foreach (var c in options.Clients.Where(c => c.ClientId != "")) clients[c.ClientId] = c;
        Clients = clients;

        // Fail at start rather than at the first sign-in.
        if (People.FirstOrDefault(p => p.Sub == "" || p.Password == "") is { } person)
            throw new InvalidOperationException($"Dev identity person '{person.Email}' needs a sub and a password.");
        if (Clients.Values.FirstOrDefault(c => c.ClientSecret == "" || !c.RedirectUris.All(IsAbsolute) || !c.PostLogoutRedirectUris.All(IsAbsolute)) is { } client)
            throw new InvalidOperationException($"Dev identity client '{client.ClientId}' needs a secret and absolute redirect URIs.");
    }

    public object Gate { get; } = new();
    public DevIdentityOptions Options { get; }
    public TimeProvider Time { get; }
    public string Issuer { get; }
    public IReadOnlyList<DevPerson> People { get; }
    public IReadOnlyDictionary<string, DevClient> Clients { get; }
    public Dictionary<string, DevSignIn> SignIns { get; } = [];
    public Dictionary<string, DevCode> Codes { get; } = [];
    public Dictionary<string, DevAccessToken> AccessTokens { get; } = [];

    public DateTimeOffset Now => Time.GetUtcNow();

    public DevPerson? PersonByEmail(string? email) =>
        People.FirstOrDefault(p => string.Equals(p.Email, email?.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>Drops what has expired, so a demo left running for days does not grow. Caller holds <see cref="Gate"/>.</summary>
    public void Sweep()
    {
        var now = Now;
        foreach (var (id, _) in SignIns.Where(s => s.Value.ExpiresAt <= now).ToList()) SignIns.Remove(id);
        foreach (var (code, _) in Codes.Where(c => c.Value.ExpiresAt <= now).ToList()) Codes.Remove(code);
        foreach (var (hash, _) in AccessTokens.Where(t => t.Value.ExpiresAt <= now).ToList()) AccessTokens.Remove(hash);
    }

    /// <summary>The claims a scope set releases, the same in the id_token and at userinfo (and as in tests/OidcProvider).</summary>
    public static Dictionary<string, object> Claims(DevPerson person, IReadOnlyCollection<string> scopes)
    {
        var claims = new Dictionary<string, object> { ["sub"] = person.Sub };
        if (scopes.Contains("email"))
        {
            claims["email"] = person.Email;
            claims["email_verified"] = true;
        }
        if (scopes.Contains("profile")) claims["name"] = person.Name;
        // The console asks for "openid profile email" and names operators by group, so profile carries groups too.
        if (scopes.Contains("profile") || scopes.Contains("groups")) claims["groups"] = person.Groups.ToArray();
        return claims;
    }

    private static bool IsAbsolute(string uri) => Uri.TryCreate(uri, UriKind.Absolute, out var u) && u.Scheme is "http" or "https";

    private static string Resolve(string path, IHostEnvironment env)
    {
        if (Path.IsPathRooted(path)) return path;
        var nextToDll = Path.Combine(AppContext.BaseDirectory, path);
        return File.Exists(nextToDll) ? nextToDll : Path.Combine(env.ContentRootPath, path);
    }
}
