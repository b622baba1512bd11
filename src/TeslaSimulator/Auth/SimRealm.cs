using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Auth;

/// <summary>
/// What the auth server puts in a token response's id_token. No Fleet id_token was ever captured publicly
/// (tesla-confirmed §1), so a client must cope with each of these; Normal is what OpenID Connect expects.
/// </summary>
internal enum IdTokenMode
{
    /// <summary>Issuer = the discovery issuer, the request's nonce, sub and email, signed with the realm's key.</summary>
    Normal,
    Absent,
    /// <summary>Issuer <c>…/oauth2/v3</c>, the value of the callback's <c>issuer</c> parameter, not the discovery issuer.</summary>
    OtherIssuer,
    NoNonce,
    /// <summary>Names the realm's key id but is signed with another key.</summary>
    BadSignature,
    /// <summary>Validly signed, but names another user than the access token.</summary>
    OtherSubject,
    /// <summary>Validly signed, but carries a nonce the client never sent.</summary>
    OtherNonce,
}

/// <summary>
/// One Tesla sign-in world: an auth origin with its own issuer, signing key and registered apps, serving the accounts
/// of some regions. Global (auth.tesla.com) serves every region but those with an auth server of their own (China).
/// </summary>
internal sealed class SimRealm(string name, string authBase, IReadOnlyList<string> regions, SigningKey key, IdTokenMode idToken)
{
    public const string Global = "global";

    public string Name { get; } = name;
    public string AuthBase { get; } = SimulatorOptions.Trim(authBase);
    public IReadOnlyList<string> Regions { get; } = regions;
    public SigningKey Key { get; } = key;

    /// <summary>Changed at run time through <c>/_sim/realms/{realm}/id-token</c>; an enum write is atomic.</summary>
    public IdTokenMode IdToken { get; set; } = idToken;

    /// <summary>The <c>iss</c> of every token and the discovery document's issuer (tesla-confirmed §1: <c>…/oauth2/v3/nts</c>).</summary>
    public string Issuer => $"{AuthBase}/oauth2/v3/nts";

    /// <summary>The callback's RFC 9207-style <c>issuer</c> parameter, without <c>/nts</c>.</summary>
    public string CallbackIssuer => $"{AuthBase}/oauth2/v3";

    public string UserInfoEndpoint => $"{AuthBase}/oauth2/v3/userinfo";

    public bool Serves(SimAccount account) => Regions.Contains(account.Region);
    public bool Registered(SimClient client) => client.Realm == Name;
}

/// <summary>Every realm, and which one a request reached (by its origin: an auth server or a regional Fleet API host).</summary>
internal sealed class SimRealms : IDisposable
{
    private readonly SimulatorOptions _options;

    public SimRealms(SimulatorOptions options, SigningKey globalKey)
    {
        _options = options;
        var own = options.Auth.ToDictionary(a => a.Key.ToLowerInvariant(), a => a.Value);
        All = [
            new SimRealm(SimRealm.Global, options.AuthBaseUrl, [.. options.Regions.Keys.Select(r => r.ToLowerInvariant()).Where(r => !own.ContainsKey(r))],
                globalKey, options.IdToken),
            .. own.Select(a => new SimRealm(a.Key, a.Value.AuthBaseUrl, [a.Key], new SigningKey(), a.Value.IdToken)),
        ];
    }

    public IReadOnlyList<SimRealm> All { get; }
    public SimRealm GlobalRealm => All[0];

    public SimRealm? Named(string name) => All.FirstOrDefault(r => r.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    public SimRealm OfRegion(string region) => All.FirstOrDefault(r => r.Regions.Contains(region.ToLowerInvariant())) ?? GlobalRealm;

    /// <summary>The realm whose auth origin or Fleet API host the request reached; anything else is the global one.</summary>
    public SimRealm Of(HttpRequest request)
    {
        var origin = $"{request.Scheme}://{request.Host}";
        return All.FirstOrDefault(r => SimulatorOptions.SameOrigin(r.AuthBase, origin))
            ?? (_options.RegionOf(request) is { } region ? OfRegion(region) : GlobalRealm);
    }

    public void Dispose()
    {
        foreach (var realm in All.Skip(1)) realm.Key.Dispose(); // the global key belongs to the container
    }

    public IEnumerable<string> RegionBases(SimRealm realm) => realm.Regions.Where(_options.Regions.ContainsKey).Select(_options.RegionBase);
}
