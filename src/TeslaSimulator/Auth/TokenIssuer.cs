using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Auth;

internal sealed record TokenResponse(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("refresh_token"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RefreshToken,
    [property: JsonPropertyName("id_token"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IdToken,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("state"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? State,
    [property: JsonPropertyName("token_type")] string TokenType = "Bearer");

/// <summary>
/// Mints Tesla-shaped tokens for one realm: RS256 JWT access/id tokens with the realm's issuer and key, and opaque
/// refresh tokens (region-prefixed at the global auth server). The id_token follows the realm's <see cref="IdTokenMode"/>.
/// </summary>
internal sealed class TokenIssuer(SimulatorOptions options, SimRealms realms, AuthStore store, SimulatorState state)
{
    // iat/exp come from the injected TimeProvider, never from the handler's own clock.
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>A key that is not the realm's, per realm: it signs the BadSignature mode's id_tokens under the realm's key id.</summary>
    private readonly ConcurrentDictionary<string, RsaSecurityKey> _impostors = new();

    /// <summary>Caller holds the state gate.</summary>
    public TokenResponse ForAccount(SimRealm realm, SimAccount account, SimClient client, IReadOnlyCollection<string> scopes,
        string? nonce, DateTimeOffset authTime, Guid chain, string? responseState)
    {
        var now = state.Now;
        var consent = state.ConsentFor(account.Sub, client.ClientId);
        var access = Mint(realm, now, new Dictionary<string, object>
        {
            ["azp"] = client.ClientId,
            ["sub"] = account.Sub,
            ["aud"] = Audiences(realm),
            ["scp"] = scopes.ToArray(),
            ["amr"] = new[] { "pwd", "mfa", "otp" },
            ["ou_code"] = account.OuCode,
            ["locale"] = account.Locale,
            ["auth_time"] = authTime.ToUnixTimeSeconds(),
        });
        store.AccessTokens[AuthStore.Hash(access)] = new IssuedAccessToken(account.Sub, client.ClientId, consent.Epoch);

        string? refresh = null;
        if (scopes.Contains("offline_access"))
        {
            refresh = AuthorizeEndpoints.CodePrefix(realm, account) + AuthStore.RandomId(32);
            store.RefreshTokens[refresh] = new RefreshGrant(realm.Name, client.ClientId, account, chain, now, consent.Epoch, authTime);
        }

        var id = scopes.Contains("openid") ? IdToken(realm, account, client, nonce, authTime, now) : null;
        store.Record("access_token", access, now);
        store.Record("refresh_token", refresh, now);
        store.Record("id_token", id, now);
        return new TokenResponse(access, refresh, id, options.AccessTokenLifetimeSeconds, responseState);
    }

    /// <summary>A partner (client_credentials) token: no user, no refresh token.</summary>
    public TokenResponse ForPartner(SimRealm realm, SimClient client, IReadOnlyCollection<string> scopes)
    {
        var access = Mint(realm, state.Now, new Dictionary<string, object>
        {
            ["azp"] = client.ClientId,
            ["sub"] = client.ClientId,
            ["aud"] = Audiences(realm),
            ["scp"] = scopes.ToArray(),
        });
        store.AccessTokens[AuthStore.Hash(access)] = new IssuedAccessToken(null, client.ClientId, 0);
        store.Record("access_token", access, state.Now);
        return new TokenResponse(access, null, null, options.AccessTokenLifetimeSeconds, null);
    }

    private string? IdToken(SimRealm realm, SimAccount account, SimClient client, string? nonce, DateTimeOffset authTime, DateTimeOffset now)
    {
        var mode = realm.IdToken;
        if (mode == IdTokenMode.Absent) return null;
        var claims = new Dictionary<string, object>
        {
            ["aud"] = client.ClientId,
            ["sub"] = mode == IdTokenMode.OtherSubject ? "00000000-0000-4000-8000-0000000000aa" : account.Sub,
            ["auth_time"] = authTime.ToUnixTimeSeconds(),
            ["email"] = account.Email,
        };
        if (mode == IdTokenMode.OtherNonce) claims["nonce"] = "a-nonce-this-client-never-sent";
        else if (nonce is { Length: > 0 } && mode != IdTokenMode.NoNonce) claims["nonce"] = nonce;
        var issuer = mode == IdTokenMode.OtherIssuer ? realm.CallbackIssuer : realm.Issuer;
        var signing = mode == IdTokenMode.BadSignature
            ? new SigningCredentials(_impostors.GetOrAdd(realm.Name, _ => new RsaSecurityKey(RSA.Create(2048)) { KeyId = realm.Key.Key.KeyId }), SecurityAlgorithms.RsaSha256)
            : realm.Key.Credentials;
        return Mint(realm, now, claims, issuer, signing);
    }

    private string[] Audiences(SimRealm realm) => [.. realms.RegionBases(realm), realm.UserInfoEndpoint];

    private string Mint(SimRealm realm, DateTimeOffset now, Dictionary<string, object> claims, string? issuer = null, SigningCredentials? signing = null) =>
        _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? realm.Issuer,
            IssuedAt = now.UtcDateTime,
            Expires = now.AddSeconds(options.AccessTokenLifetimeSeconds).UtcDateTime,
            Claims = claims,
            SigningCredentials = signing ?? realm.Key.Credentials,
        });
}
