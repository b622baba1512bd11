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

/// <summary>Mints Tesla-shaped tokens: RS256 JWT access/id tokens and opaque region-prefixed refresh tokens.</summary>
internal sealed class TokenIssuer(SimulatorOptions options, SigningKey key, AuthStore store, SimulatorState state)
{
    // iat/exp come from the injected TimeProvider, never from the handler's own clock.
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Caller holds the state gate.</summary>
    public TokenResponse ForAccount(SimAccount account, SimClient client, IReadOnlyCollection<string> scopes,
        string? nonce, DateTimeOffset authTime, Guid chain, string? responseState)
    {
        var now = state.Now;
        var consent = state.ConsentFor(account.Sub, client.ClientId);
        var access = Mint(now, new Dictionary<string, object>
        {
            ["azp"] = client.ClientId,
            ["sub"] = account.Sub,
            ["aud"] = Audiences(),
            ["scp"] = scopes.ToArray(),
            ["amr"] = new[] { "pwd", "mfa", "otp" },
            ["ou_code"] = account.OuCode,
            ["locale"] = account.Locale,
            ["auth_time"] = authTime.ToUnixTimeSeconds(),
        }, options.AccessTokenLifetimeSeconds);
        store.AccessTokens[AuthStore.Hash(access)] = new IssuedAccessToken(account.Sub, client.ClientId, consent.Epoch);

        string? refresh = null;
        if (scopes.Contains("offline_access"))
        {
            refresh = $"{account.OuCode}_{AuthStore.RandomId(32)}";
            store.RefreshTokens[refresh] = new RefreshGrant(client.ClientId, account, chain, now, consent.Epoch, authTime);
        }

        var id = scopes.Contains("openid")
            ? Mint(now, new Dictionary<string, object>
            {
                ["aud"] = client.ClientId,
                ["sub"] = account.Sub,
                ["auth_time"] = authTime.ToUnixTimeSeconds(),
                ["email"] = account.Email,
                ["nonce"] = nonce ?? "",
            }, options.AccessTokenLifetimeSeconds)
            : null;
        store.Record("access_token", access, now);
        store.Record("refresh_token", refresh, now);
        store.Record("id_token", id, now);
        return new TokenResponse(access, refresh, id, options.AccessTokenLifetimeSeconds, responseState);
    }

    /// <summary>A partner (client_credentials) token: no user, no refresh token.</summary>
    public TokenResponse ForPartner(SimClient client, IReadOnlyCollection<string> scopes)
    {
        var access = Mint(state.Now, new Dictionary<string, object>
        {
            ["azp"] = client.ClientId,
            ["sub"] = client.ClientId,
            ["aud"] = Audiences(),
            ["scp"] = scopes.ToArray(),
        }, options.AccessTokenLifetimeSeconds);
        store.AccessTokens[AuthStore.Hash(access)] = new IssuedAccessToken(null, client.ClientId, 0);
        store.Record("access_token", access, state.Now);
        return new TokenResponse(access, null, null, options.AccessTokenLifetimeSeconds, null);
    }

    private string[] Audiences() => [.. options.RegionBases, options.UserInfoEndpoint];

    private string Mint(DateTimeOffset now, Dictionary<string, object> claims, int lifetimeSeconds)
    {
        if (claims.TryGetValue("nonce", out var n) && n is "") claims.Remove("nonce");
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Issuer,
            IssuedAt = now.UtcDateTime,
            Expires = now.AddSeconds(lifetimeSeconds).UtcDateTime,
            Claims = claims,
            SigningCredentials = key.Credentials,
        });
    }
}
