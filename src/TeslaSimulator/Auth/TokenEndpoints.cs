using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.IdentityModel.Tokens;
using TeslaSimulator.Control;
using TeslaSimulator.Fixtures;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Auth;

/// <summary>POST /oauth2/v3/token: authorization_code (PKCE), refresh_token (rotation with 24 h grace), client_credentials.</summary>
internal static class TokenEndpoints
{
    private static readonly TimeSpan RefreshGrace = TimeSpan.FromHours(24);

    public static IEndpointRouteBuilder MapToken(this IEndpointRouteBuilder app)
    {
        app.MapPost("/oauth2/v3/token", TokenAsync);
        return app;
    }

    internal static async Task<IResult> TokenAsync(HttpContext ctx, SimulatorState state, AuthStore store, TokenIssuer issuer, SimRealms realms)
    {
        var realm = realms.Of(ctx.Request);
        if (!ctx.Request.HasFormContentType)
            return OAuthError(400, "invalid_request", "The request must be application/x-www-form-urlencoded.");
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        string? F(string key) => form.TryGetValue(key, out var v) && v.ToString() != "" ? v.ToString() : null;

        lock (state.Gate)
        {
            return F("grant_type") switch
            {
                "authorization_code" => ExchangeCode(ctx, F, state, store, issuer, realm, realms),
                "refresh_token" => Refresh(ctx, F, state, store, issuer, realm),
                "client_credentials" => ClientCredentials(F, state, issuer, realm, realms),
                _ => OAuthError(400, "unsupported_grant_type", "The grant type is invalid. Use one of: authorization_code, client_credentials, refresh_token."),
            };
        }
    }

    private static IResult ExchangeCode(HttpContext ctx, Func<string, string?> f, SimulatorState state, AuthStore store, TokenIssuer issuer, SimRealm realm, SimRealms realms)
    {
        if (Authenticate(f, state, realm, secretRequired: false) is not { } client) return UnauthorizedClient(state, realm);
        if (AudienceError(f("audience"), realm, realms) is { } audienceError) return audienceError;

        var codeValue = f("code") ?? "";
        if (!store.Codes.TryGetValue(codeValue, out var code) || code.Realm != realm.Name || code.Used || code.ExpiresAt <= state.Now || code.ClientId != client.ClientId)
            return OAuthError(400, "invalid_auth_code", "The authorization code is invalid, expired or was already used.");
        ctx.SetAccount(code.Account.Email);
        if (f("redirect_uri") != code.RedirectUri)
            return OAuthError(400, "invalid_redirect_url", "The authorize redirect URI and token redirect URI must match.");

        code.Used = true; // burned even when the verifier is wrong: a code gets one attempt
        if (code.CodeChallenge is not null && !VerifierMatches(code, f("code_verifier")))
            return WithFreshErrorUri("token_error_invalid_code_verifier", state, realm);

        var consent = state.ConsentFor(code.Account.Sub, client.ClientId);
        if (consent.Revoked) return OAuthError(400, "invalid_auth_code", "The authorization code is no longer valid.");
        return TypedResults.Json(issuer.ForAccount(realm, code.Account, client, code.Scopes, code.Nonce, code.AuthTime, Guid.NewGuid(), code.State));
    }

    private static IResult Refresh(HttpContext ctx, Func<string, string?> f, SimulatorState state, AuthStore store, TokenIssuer issuer, SimRealm realm)
    {
        var now = state.Now;
        // A refresh token is known only to the auth server that minted it.
        if (!store.RefreshTokens.TryGetValue(f("refresh_token") ?? "", out var grant) || grant.Realm != realm.Name || grant.ClientId != f("client_id"))
            return LoginRequired(state);
        ctx.SetAccount(grant.Account.Email);
        var consent = state.ConsentFor(grant.Account.Sub, grant.ClientId);
        var dead = grant.CycledOut
            || now >= grant.IssuedAt.AddMonths(3)
            || (grant.FirstUsedAt is { } used && now >= used + RefreshGrace)
            || consent.Revoked || consent.Epoch != grant.ConsentEpoch
            || grant.Account.PasswordEpoch != grant.PasswordEpoch;
        if (dead || !state.Clients.TryGetValue(grant.ClientId, out var client)) return LoginRequired(state);

        store.MarkUsed(grant, now);
        // Scope changes made on the consent apply to the new access token.
        return TypedResults.Json(issuer.ForAccount(realm, grant.Account, client, consent.Scopes.ToList(), null, grant.AuthTime, grant.Chain, null));
    }

    private static IResult ClientCredentials(Func<string, string?> f, SimulatorState state, TokenIssuer issuer, SimRealm realm, SimRealms realms)
    {
        if (Authenticate(f, state, realm, secretRequired: true) is not { } client) return UnauthorizedClient(state, realm);
        if (AudienceError(f("audience"), realm, realms) is { } audienceError) return audienceError;
        var scopes = Scopes.Parse(f("scope"));
        return TypedResults.Json(issuer.ForPartner(realm, client, scopes.Count == 0 ? [Scopes.OpenId] : scopes));
    }

    /// <summary>An app registered at the other auth server is as unknown here as a wrong secret (tesla-confirmed §2, vc#100).</summary>
    private static SimClient? Authenticate(Func<string, string?> f, SimulatorState state, SimRealm realm, bool secretRequired)
    {
        if (!state.Clients.TryGetValue(f("client_id") ?? "", out var client) || !realm.Registered(client)) return null;
        if (client.ClientSecret is null) return secretRequired ? null : client;
        var given = Encoding.UTF8.GetBytes(f("client_secret") ?? "");
        return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(client.ClientSecret)) ? client : null;
    }

    /// <summary>
    /// The audience must be a Fleet API host of this auth server. China's host at the global server answered
    /// <c>invalid_request</c> "Invalid resource" (tesla-confirmed §2, vc#100); anything else is <c>invalid_audience</c>.
    /// </summary>
    private static IResult? AudienceError(string? audience, SimRealm realm, SimRealms realms)
    {
        var trimmed = audience is null ? null : SimulatorOptions.Trim(audience);
        if (trimmed is not null && realms.RegionBases(realm).Contains(trimmed)) return null;
        if (trimmed is not null && realms.All.Any(r => realms.RegionBases(r).Contains(trimmed)))
            return TypedResults.Json(new Dictionary<string, string>
            {
                ["error"] = "invalid_request", ["error_description"] = "Invalid resource",
                ["error_uri"] = $"{realm.AuthBase}/error/reference/{Guid.NewGuid()}",
            }, statusCode: 400);
        return Fixture.Result("token_error_invalid_audience", 400);
    }

    private static bool VerifierMatches(AuthCode code, string? verifier)
    {
        if (string.IsNullOrEmpty(verifier)) return false;
        var expected = code.ChallengeMethod == "S256"
            ? Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)))
            : verifier;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(code.CodeChallenge!));
    }

    /// <summary>Tesla's body for an unknown app (tesla-confirmed §2, vc#100; a 400 as in D-CONV's list), with this server's error_uri.</summary>
    private static IResult UnauthorizedClient(SimulatorState state, SimRealm realm) =>
        WithFreshErrorUri("token_error_unauthorized_client", state, realm);

    private static IResult LoginRequired(SimulatorState state) => TypedResults.Json(new Dictionary<string, string>
    {
        ["error"] = "login_required",
        ["error_description"] = "Login required",
        ["referenceID"] = ReferenceId(state),
    }, statusCode: 401);

    private static IResult WithFreshErrorUri(string fixture, SimulatorState state, SimRealm realm)
    {
        var body = Fixture.Object(fixture);
        body["error_uri"] = $"{realm.AuthBase}/error/reference/{ReferenceId(state)}";
        return TypedResults.Json(body, statusCode: 400);
    }

    private static string ReferenceId(SimulatorState state) => $"{Guid.NewGuid()}-{state.Now.ToUnixTimeMilliseconds()}";

    internal static JsonHttpResult<Dictionary<string, string>> OAuthError(int status, string error, string description) =>
        TypedResults.Json(new Dictionary<string, string> { ["error"] = error, ["error_description"] = description }, statusCode: status);
}
