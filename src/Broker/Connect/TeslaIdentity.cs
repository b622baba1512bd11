using System.Collections.Concurrent;
using Broker.Tesla;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Connect;

/// <summary>Who signed in at Tesla, and where the broker learned it (<c>id_token</c> or <c>access_token</c>).</summary>
public sealed record TeslaIdentity(string Subject, string? Email, string Source);

/// <summary>
/// Names the Tesla user behind a code exchange without depending on the id_token. Nobody has published a Fleet
/// id_token (tesla-confirmed §1): it may be absent, carry another issuer than discovery, or no nonce. The rules:
/// <list type="bullet">
/// <item>The subject is the access token's <c>sub</c>. That token came straight from the realm's token endpoint over
/// TLS in exchange for this browser's code and PKCE verifier, which OpenID Connect Core §3.1.3.7 accepts in place of
/// a signature check; every decoded Tesla access token carries <c>sub</c>.</item>
/// <item>An id_token, when present, is validated: signature from the realm's JWKS (discovery), issuer the discovery
/// issuer or one of <see cref="TeslaRealm.KnownIssuers"/>, audience the realm's client id, lifetime. Only then does its
/// email count. A nonce is compared only when the token carries one: a different nonce (the one sent is kept in the
/// protected state), or a valid id_token naming another user than the access token, refuses the connect.</item>
/// <item>An id_token that does not validate is ignored (and logged), never a reason to fail the connect.</item>
/// </list>
/// Logs say which path was taken and why, never a token.
/// </summary>
public sealed class TeslaIdentities(IHttpClientFactory http, IOptions<TeslaOptions> options, TimeProvider time, ILogger<TeslaIdentities> logger)
{
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, ConfigurationManager<OpenIdConnectConfiguration>> _discovery = new();
    private readonly JsonWebTokenHandler _handler = new();

    public async Task<TeslaIdentity> ResolveAsync(TeslaRealm realm, TeslaTokenResponse tokens, string? nonce, CancellationToken ct)
    {
        var subject = SubjectOf(tokens.AccessToken)
            ?? throw new ConnectException(ConnectFailure.TeslaRefused, "Tesla's access token names no user (no sub claim).");
        if (tokens.IdToken is not { Length: > 0 } idToken)
        {
            logger.LogInformation("Tesla user identified by the access token's subject ({Realm}): no id_token in the answer", realm.Name);
            return new TeslaIdentity(subject, null, "access_token");
        }
        if (await ValidateAsync(realm, idToken, ct) is not { } valid)
        {
            return new TeslaIdentity(subject, null, "access_token");
        }
        // A state sealed before the nonce was kept in it has none to compare with: the handler never compared it either.
        if (nonce is not null && valid.TryGetPayloadValue<string>("nonce", out var echoed) && echoed != nonce)
        {
            throw new ConnectException(ConnectFailure.StateInvalid, "Tesla's id_token carries a nonce this connect attempt never sent.");
        }
        if (valid.Subject != subject)
        {
            throw new ConnectException(ConnectFailure.TeslaRefused, "Tesla's id_token and access token name different users.");
        }
        logger.LogInformation("Tesla user identified by the validated id_token ({Realm})", realm.Name);
        var email = valid.TryGetPayloadValue<string>("email", out var e) ? Hosting.TextInput.Clean(e) : null;
        return new TeslaIdentity(subject, email, "id_token");
    }

    internal static string? SubjectOf(string accessToken)
    {
        try
        {
            return Hosting.TextInput.Clean(new JsonWebToken(accessToken).Subject);
        }
        catch (ArgumentException)
        {
            return null; // not a JWT
        }
    }

    /// <summary>The validated id_token, or null (logged with the reason's type, never the token).</summary>
    private async Task<JsonWebToken?> ValidateAsync(TeslaRealm realm, string idToken, CancellationToken ct)
    {
        var discovery = _discovery.GetOrAdd(realm.Name, _ => new ConfigurationManager<OpenIdConnectConfiguration>(
            realm.MetadataAddress, new OpenIdConnectConfigurationRetriever(),
            new HttpDocumentRetriever(http.CreateClient(TeslaAuthClient.HttpClientName)) { RequireHttps = !options.Value.AllowHttp }));
        OpenIdConnectConfiguration configuration;
        try
        {
            configuration = await discovery.GetConfigurationAsync(ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("Tesla user identified by the access token's subject ({Realm}): discovery failed ({Reason})", realm.Name, ex.GetType().Name);
            return null;
        }
        var now = time.GetUtcNow().UtcDateTime;
        var result = await _handler.ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            IssuerSigningKeys = configuration.SigningKeys,
            ValidIssuers = [.. new[] { configuration.Issuer }.Concat(realm.KnownIssuers).Where(i => i is { Length: > 0 }).Distinct()],
            ValidAudience = realm.ClientId,
            RequireExpirationTime = true,
            // On the broker's clock, which tests move; the handler's own would be the machine's.
            LifetimeValidator = (notBefore, expires, _, _) => expires > now - ClockSkew && (notBefore ?? DateTime.MinValue) < now + ClockSkew,
        });
        if (result.IsValid)
        {
            return (JsonWebToken)result.SecurityToken;
        }
        if (result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            discovery.RequestRefresh(); // Tesla may have rotated its keys: the next connect fetches them again
        }
        logger.LogWarning("Tesla user identified by the access token's subject ({Realm}): the id_token did not validate ({Reason})",
            realm.Name, result.Exception?.GetType().Name ?? "unknown");
        return null;
    }
}
