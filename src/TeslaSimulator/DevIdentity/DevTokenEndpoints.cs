using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using TeslaSimulator.Auth;
using static TeslaSimulator.Auth.TokenEndpoints;

namespace TeslaSimulator.DevIdentity;

/// <summary>The back channel of /dev-idp (token, userinfo) and RP-initiated logout.</summary>
internal static class DevTokenEndpoints
{
    // iat/exp come from the injected TimeProvider, never from the handler's own clock.
    private static readonly JsonWebTokenHandler Jwt = new() { SetDefaultTimesOnTokenCreation = false };

    internal static async Task<IResult> TokenAsync(HttpContext ctx, DevIdentityStore store, SigningKey key)
    {
        ctx.Response.Headers.CacheControl = "no-store";
        if (!ctx.Request.HasFormContentType) return OAuthError(400, "invalid_request", "The request must be application/x-www-form-urlencoded.");
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        string? F(string name) => form.TryGetValue(name, out var v) && v.ToString() != "" ? v.ToString() : null;

        var (clientId, secret, basic) = ClientCredentials(ctx.Request, F);
        if (basic && F("client_secret") is not null) return OAuthError(400, "invalid_request", "Use one client authentication method, not two.");
        lock (store.Gate)
        {
            if (!store.Clients.TryGetValue(clientId ?? "", out var client) || !SecretMatches(secret, client.ClientSecret))
            {
                if (basic) ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"dev-idp\"";
                return OAuthError(401, "invalid_client", "Unknown client or wrong client secret.");
            }
            if (F("grant_type") != "authorization_code") return OAuthError(400, "unsupported_grant_type", "Only authorization_code is supported.");

            store.Sweep();
            if (!store.Codes.TryGetValue(F("code") ?? "", out var code) || code.Client != client)
                return OAuthError(400, "invalid_grant", "The authorization code is invalid or expired.");
            if (code.Used)
            {
                // A replayed code may be stolen: the token it bought dies too (RFC 6749 §4.1.2).
                if (code.AccessTokenHash is { } hash) store.AccessTokens.Remove(hash);
                return OAuthError(400, "invalid_grant", "The authorization code was already used.");
            }
            code.Used = true; // one attempt, right or wrong
            if (F("redirect_uri") != code.RedirectUri)
                return OAuthError(400, "invalid_grant", "redirect_uri does not match the one the code was issued for.");
            if (!VerifierMatches(F("code_verifier"), code.CodeChallenge))
                return OAuthError(400, "invalid_grant", "code_verifier does not match the code_challenge.");

            var now = store.Now;
            var lifetime = store.Options.TokenLifetimeSeconds;
            var accessToken = AuthStore.RandomId(32);
            code.AccessTokenHash = AuthStore.Hash(accessToken);
            store.AccessTokens[code.AccessTokenHash] = new DevAccessToken(code.Person, client.ClientId, code.Scopes, now.AddSeconds(lifetime));

            var claims = DevIdentityStore.Claims(code.Person, code.Scopes);
            claims["aud"] = client.ClientId;
            claims["auth_time"] = code.AuthTime.ToUnixTimeSeconds();
            if (code.Nonce is not null) claims["nonce"] = code.Nonce;
            var idToken = Jwt.CreateToken(new SecurityTokenDescriptor
            {
                Issuer = store.Issuer, IssuedAt = now.UtcDateTime, Expires = now.AddSeconds(lifetime).UtcDateTime,
                Claims = claims, SigningCredentials = key.Credentials,
            });
            return TypedResults.Json(new Dictionary<string, object>
            {
                ["access_token"] = accessToken, ["token_type"] = "Bearer", ["expires_in"] = lifetime,
                ["id_token"] = idToken, ["scope"] = string.Join(' ', code.Scopes),
            });
        }
    }

    internal static IResult UserInfo(HttpContext ctx, DevIdentityStore store)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : "";
        lock (store.Gate)
        {
            if (store.AccessTokens.TryGetValue(AuthStore.Hash(token), out var grant) && grant.ExpiresAt > store.Now)
                return TypedResults.Json(DevIdentityStore.Claims(grant.Person, grant.Scopes));
        }
        ctx.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        return TypedResults.Unauthorized();
    }

    /// <summary>
    /// RP-initiated logout. There is no session to end, so this only decides where the browser goes: back to a
    /// post_logout_redirect_uri registered for the client named by id_token_hint (or client_id), with state; else a page.
    /// </summary>
    internal static async Task<IResult> EndSessionAsync(HttpContext ctx, DevIdentityStore store, SigningKey key)
    {
        var values = ctx.Request.HasFormContentType ? (await ctx.Request.ReadFormAsync(ctx.RequestAborted)).ToDictionary() : ctx.Request.Query.ToDictionary();
        string? P(string name) => values.TryGetValue(name, out var v) && v.ToString() != "" ? v.ToString() : null;

        var clientId = P("client_id");
        if (P("id_token_hint") is { } hint)
        {
            // Expired hints are fine (the spec expects them); the signature and issuer are not negotiable.
            var result = await Jwt.ValidateTokenAsync(hint, new TokenValidationParameters
            {
                ValidIssuer = store.Issuer, IssuerSigningKey = key.Key, ValidateAudience = false, ValidateLifetime = false,
            });
            if (!result.IsValid) return DevIdentityPages.Error("The id_token_hint was not issued by this provider.");
            var audience = ((JsonWebToken)result.SecurityToken).Audiences.FirstOrDefault();
            if (clientId is not null && clientId != audience) return DevIdentityPages.Error("client_id does not match the id_token_hint.");
            clientId = audience;
        }
        if (P("post_logout_redirect_uri") is not { } back) return DevIdentityPages.SignedOut();
        if (clientId is null || !store.Clients.TryGetValue(clientId, out var client))
            return DevIdentityPages.Error("post_logout_redirect_uri needs an id_token_hint or client_id naming a registered application.");
        if (!client.PostLogoutRedirectUris.Contains(back, StringComparer.Ordinal))
            return DevIdentityPages.Error("The post_logout_redirect_uri is not registered for this application.");
        return TypedResults.Redirect(P("state") is { } state ? $"{back}{(back.Contains('?') ? '&' : '?')}state={Uri.EscapeDataString(state)}" : back);
    }

    /// <summary>client_secret_basic (form-urlencoded id and secret, RFC 6749 §2.3.1) or client_secret_post.</summary>
    private static (string? Id, string? Secret, bool Basic) ClientCredentials(HttpRequest request, Func<string, string?> form)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return (form("client_id"), form("client_secret"), false);
        try
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim())).Split(':', 2);
            return pair.Length == 2 ? (Decode(pair[0]), Decode(pair[1]), true) : (null, null, true);
        }
        catch (FormatException) { return (null, null, true); }
    }

    private static string Decode(string s) => Uri.UnescapeDataString(s.Replace('+', ' '));

    private static bool SecretMatches(string? given, string expected) =>
        given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));

    private static bool VerifierMatches(string? verifier, string challenge) =>
        verifier is { Length: >= 43 and <= 128 }
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)))),
            Encoding.ASCII.GetBytes(challenge));
}
