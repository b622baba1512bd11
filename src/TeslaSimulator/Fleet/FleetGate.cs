using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using TeslaSimulator.Auth;
using TeslaSimulator.Control;
using TeslaSimulator.Fixtures;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

internal sealed record FleetCaller(SimAccount? Account, string ClientId, IReadOnlySet<string> Scopes)
{
    public bool Has(string scope) => Scopes.Contains(scope);
}

/// <summary>Either a caller allowed through, or the Tesla-shaped error to return.</summary>
internal readonly record struct FleetAccess(FleetCaller? Caller, IResult? Error);

/// <summary>
/// Bearer validation, region check and scope check for every Fleet API call, in Tesla's order:
/// 401 (invalid, expired, revoked) → 421 (wrong regional host) → 403 (missing scope). A host accepts only tokens of
/// its own realm's auth server: a China token at a global host (or the other way round) is an invalid bearer token.
/// Whether Tesla answers 401 or 421 there was never captured (tesla-confirmed §2); 401 is the simulator's assumption.
/// </summary>
internal sealed class FleetGate(SimulatorOptions options, SimRealms realms, SimulatorState state, AuthStore store)
{
    private const string RegionHelp = "see https://developer.tesla.com/docs/fleet-api#regional-requirements";
    private readonly JsonWebTokenHandler _handler = new();

    public async Task<FleetAccess> CheckAsync(HttpContext ctx, bool checkRegion, bool partner, params string[] anyOfScopes)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return Deny("error_401_invalid_bearer_token", 401);
        var token = header["Bearer ".Length..].Trim();

        var realm = realms.Of(ctx.Request);
        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKey = realm.Key.Key,
            ValidIssuer = realm.Issuer,
            ValidAudiences = realms.RegionBases(realm),
            ValidateLifetime = false, // checked below against the simulator's TimeProvider
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt) return Deny("error_401_invalid_bearer_token", 401);

        lock (state.Gate)
        {
            if (jwt.ValidTo <= state.Now.UtcDateTime) return Deny("error_401_token_expired", 401);
            if (!store.AccessTokens.TryGetValue(AuthStore.Hash(token), out var issued)) return Deny("error_401_invalid_bearer_token", 401);

            var account = issued.Sub is null ? null : state.AccountBySub(issued.Sub);
            if (partner != (account is null)) return Deny("error_401_invalid_bearer_token", 401);
            if (state.AppRefusal is { } refusal) return new FleetAccess(null, AppDisabled(refusal));
            if (account is { UnknownUser: true }) return new FleetAccess(null, Envelope(401, "unknown user"));
            if (account is not null)
            {
                // Revoking consent kills every access token minted under the old epoch.
                var consent = state.ConsentFor(account.Sub, issued.ClientId);
                if (consent.Revoked || consent.Epoch != issued.ConsentEpoch) return Deny("error_401_invalid_bearer_token", 401);
                ctx.SetAccount(account.Email);
            }

            if (checkRegion && account is not null)
            {
                var correct = options.RegionBase(account.Region);
                if (!SimulatorOptions.SameOrigin(correct, $"{ctx.Request.Scheme}://{ctx.Request.Host}"))
                    return new FleetAccess(null, OutOfRegion(correct));
            }

            var scopes = jwt.GetPayloadValue<string[]>("scp")?.ToHashSet() ?? [];
            if (anyOfScopes.Length > 0 && !anyOfScopes.Any(scopes.Contains)) return Deny("error_403_missing_scopes", 403);
            return new FleetAccess(new FleetCaller(account, issued.ClientId, scopes), null);
        }
    }

    private static FleetAccess Deny(string fixture, int status) => new(null, Fixture.Result(fixture, status));

    /// <summary>
    /// The app over its billing limit: the real body is <c>{"error": "account disabled: EXCEEDED_LIMIT"}</c> alone, with
    /// no Retry-After (teslamotors/vehicle-command#403). No 402 body has been published: Tesla documents the status as
    /// "You need to make a payment in order to use the API", so that text is used in the usual envelope [assumed].
    /// </summary>
    private static IResult AppDisabled(int status) => status == 402
        ? TypedResults.Json(new JsonObject { ["response"] = null, ["error"] = "payment required", ["error_description"] = "You need to make a payment in order to use the API" }, statusCode: 402)
        : TypedResults.Json(new JsonObject { ["error"] = "account disabled: EXCEEDED_LIMIT" }, statusCode: 403);

    private static IResult OutOfRegion(string correctBase)
    {
        var body = Fixture.Object("error_421_user_out_of_region");
        body["error"] = $"user out of region, use base URL: {correctBase}, {RegionHelp}";
        body["txid"] = TxId();
        return TypedResults.Json<JsonNode>(body, statusCode: 421);
    }

    public static IResult Envelope(int status, string error, bool txid = false)
    {
        var body = new JsonObject { ["response"] = null, ["error"] = error, ["error_description"] = "" };
        if (txid) body["txid"] = TxId();
        return TypedResults.Json(body, statusCode: status);
    }

    private static string TxId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
