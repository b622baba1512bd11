using Broker.Tesla;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Broker.Connect;

/// <summary>
/// The Tesla leg of "Connect Tesla" as an authentication scheme of its own: the OpenID Connect
/// handler does state, nonce, PKCE (S256) and the correlation cookie. It never signs anybody into
/// the broker: <see cref="ConnectEvents"/> stores the tokens under the link's tenant and ends the
/// request before any sign-in (or the handler's id_token validation) would happen. The realm chosen at
/// start (global or China) travels in the protected state and picks the authorize host and client id.
/// </summary>
public static class TeslaConnect
{
    public const string Scheme = "Tesla";
    public const string CallbackPath = "/connect/callback";

    // AuthenticationProperties items; they travel inside the protected `state`.
    internal const string LinkItem = "broker.link";
    internal const string LinkTokenItem = "broker.link_token";
    internal const string MissingScopesItem = "broker.prompt_missing_scopes";
    internal const string IssuedItem = "broker.issued";
    internal const string RealmItem = "broker.realm";
    internal const string NonceItem = "broker.nonce";

    public static WebApplicationBuilder AddTeslaConnect(this WebApplicationBuilder builder)
    {
        builder.Services.AddDataProtection()
            .SetApplicationName("Broker")
            .PersistKeysToDbContext<Data.BrokerDbContext>();
        builder.Services.AddScoped<ConnectEvents>();
        builder.Services.AddScoped<ConnectService>();
        builder.Services.AddSingleton<TeslaIdentities>();
        builder.Services.AddSingleton<ConnectResultProtector>();
        builder.Services.AddAuthentication().AddOpenIdConnect(Scheme, _ => { });
        builder.Services.AddOptions<OpenIdConnectOptions>(Scheme)
            .Configure<IOptions<TeslaOptions>, IHttpClientFactory>(Configure);
        return builder;
    }

    private static void Configure(OpenIdConnectOptions o, IOptions<TeslaOptions> teslaOptions, IHttpClientFactory httpClients)
    {
        var tesla = teslaOptions.Value;
        var global = tesla.Realm(TeslaRealm.Global);
        o.ClientId = global.ClientId;
        o.ClientSecret = global.ClientSecret;
        // A fixed configuration: the handler never fetches discovery, so a connect does not depend on it. Every challenge
        // names its realm's authorize endpoint anyway, and the code is redeemed by ConnectEvents at the realm's token host.
        o.Configuration = new OpenIdConnectConfiguration { AuthorizationEndpoint = global.AuthorizeEndpoint, TokenEndpoint = global.TokenEndpoint };
        o.Backchannel = httpClients.CreateClient(TeslaAuthClient.HttpClientName);
        o.ResponseType = OpenIdConnectResponseType.Code;
        o.ResponseMode = OpenIdConnectResponseMode.Query;
        o.UsePkce = true;
        o.CallbackPath = CallbackPath;
        // The default; each challenge names its tenant's own (ScopeCatalog.RequestedBy).
        o.Scope.Clear();
        foreach (var scope in tesla.Scopes)
        {
            o.Scope.Add(scope);
        }
        o.MapInboundClaims = false;
        o.SaveTokens = false; // tokens go to the vault, never into a cookie
        o.GetClaimsFromUserInfoEndpoint = false;
        o.RemoteAuthenticationTimeout = TimeSpan.FromMinutes(tesla.ConnectStateLifetimeMinutes);
        // Tesla redirects back with a top-level GET, which SameSite=Lax cookies survive.
        foreach (var cookie in new[] { o.CorrelationCookie, o.NonceCookie })
        {
            cookie.HttpOnly = true;
            cookie.SameSite = SameSiteMode.Lax;
            cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        }
        o.EventsType = typeof(ConnectEvents);
    }
}

/// <summary>
/// Seals "which account did this browser just link" into the result URL for 30 minutes, so the result page survives a
/// refresh without exposing account ids to anyone holding the link. The URL is bound to the browser that connected: it
/// names a random value that only that browser holds in an HttpOnly cookie, so a copied or logged URL shows nothing
/// (the page lists the owner's email, cars and VINs).
/// </summary>
public sealed class ConnectResultProtector(IDataProtectionProvider provider, TimeProvider time)
{
    private const string CookieName = "broker.connect.result";
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(30);

    private readonly ITimeLimitedDataProtector _protector =
        provider.CreateProtector("Broker.Connect.Result.v3").ToTimeLimitedDataProtector();

    /// <summary>Seals the account, the link and what the account shared before (null: a new account) for the result page.</summary>
    public string Protect(HttpResponse response, Guid accountId, string linkToken, string[]? previousScopes)
    {
        var browser = Tenants.SecretToken.New();
        response.Cookies.Append(CookieName, browser, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Lax, Secure = response.HttpContext.Request.IsHttps, Path = "/connect/result", MaxAge = Lifetime,
        });
        var previous = previousScopes is null ? "new" : string.Join(' ', previousScopes);
        return _protector.Protect($"{accountId:N}|{browser}|{linkToken}|{previous}", time.GetUtcNow() + Lifetime);
    }

    /// <summary>The account, link and earlier scopes, when the value is genuine, not expired, and this browser is the one that connected.</summary>
    public ConnectResult? Unprotect(HttpRequest request, string value)
    {
        try
        {
            var parts = _protector.Unprotect(value, out var expiration).Split('|', 4);
            return expiration < time.GetUtcNow() || parts.Length != 4 || request.Cookies[CookieName] is not { } browser
                || !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(browser), System.Text.Encoding.UTF8.GetBytes(parts[1]))
                ? null
                : new ConnectResult(Guid.ParseExact(parts[0], "N"), parts[2], parts[3] == "new" ? null : parts[3].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }
}

/// <summary>What <c>/connect/result</c> shows: the account, the link it came through, and what it shared before (null: new).</summary>
public sealed record ConnectResult(Guid AccountId, string LinkToken, string[]? PreviousScopes);
