using System.Net;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

public sealed class AuthFlowTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DiscoveryAndJwksValidateAMintedAccessToken()
    {
        await using var app = new SimulatorApp();
        var client = app.Client();
        var discovery = JsonNode.Parse(await client.GetStringAsync("/oauth2/v3/thirdparty/.well-known/openid-configuration", Ct))!;
        Assert.Equal($"{AuthBase}/oauth2/v3/nts", (string?)discovery["issuer"]);
        Assert.Equal($"{AuthBase}/oauth2/v3/token", (string?)discovery["token_endpoint"]);
        var jwks = new JsonWebKeySet(await client.GetStringAsync(new Uri((string)discovery["jwks_uri"]!).PathAndQuery, Ct));

        var tokens = await app.TokensAsync(Alice, ct: Ct);
        var result = await new JsonWebTokenHandler().ValidateTokenAsync((string)tokens["access_token"]!, new TokenValidationParameters
        {
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidIssuer = (string)discovery["issuer"]!,
            ValidAudience = Na,
            ValidateLifetime = false, // simulated time is not wall-clock time
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        var claims = Claims((string)tokens["access_token"]!);
        Assert.Equal("NA", (string?)claims["ou_code"]);
        Assert.Equal(ClientId, (string?)claims["azp"]);
        Assert.Equal(28800, (long)claims["exp"]! - (long)claims["iat"]!);
        Assert.Contains(Eu, claims["aud"]!.AsArray().Select(a => (string?)a));
        Assert.Equal(28800, (int)tokens["expires_in"]!);
        Assert.Equal("Bearer", (string?)tokens["token_type"]);
        Assert.StartsWith("NA_", (string?)tokens["refresh_token"]);
        Assert.Equal("n-456", (string?)Claims((string)tokens["id_token"]!)["nonce"]);
    }

    [Fact]
    public async Task FullAuthorizeFlowWithPkceRedirectsWithRegionCodeStateAndIssuer()
    {
        await using var app = new SimulatorApp();
        var (verifier, challenge) = Pkce();
        var redirect = await app.AuthorizeAsync(Bob, "bob-demo", "openid offline_access vehicle_device_data", challenge, ct: Ct);

        Assert.StartsWith(RedirectUri + "?", redirect.ToString());
        Assert.StartsWith("EU_", Query(redirect, "code"));
        Assert.Equal("st-123", Query(redirect, "state"));
        Assert.Equal("en-US", Query(redirect, "locale"));
        Assert.Equal($"{AuthBase}/oauth2/v3", Query(redirect, "issuer"));

        var response = await app.ExchangeAsync(Query(redirect, "code"), verifier, Eu, Ct);
        var body = await Json(response, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("EU", (string?)Claims((string)body["access_token"]!)["ou_code"]);
    }

    [Fact]
    public async Task MissingAudienceIsInvalidAudience()
    {
        await using var app = new SimulatorApp();
        var (verifier, challenge) = Pkce();
        var redirect = await app.AuthorizeAsync(Alice, "alice-demo", "openid vehicle_device_data", challenge, ct: Ct);
        var response = await app.ExchangeAsync(Query(redirect, "code"), verifier, audience: null, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await Json(response, Ct);
        Assert.Equal("invalid_audience", (string?)body["error"]);
        Assert.Equal("The 'audience' parameter is invalid. Include valid audience in the request.", (string?)body["error_description"]);
    }

    [Fact]
    public async Task WrongCodeVerifierIsRejected()
    {
        await using var app = new SimulatorApp();
        var (_, challenge) = Pkce();
        var redirect = await app.AuthorizeAsync(Alice, "alice-demo", "openid vehicle_device_data", challenge, ct: Ct);
        var response = await app.ExchangeAsync(Query(redirect, "code"), "not-the-verifier", Na, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await Json(response, Ct);
        Assert.Equal("invalid_request", (string?)body["error"]);
        Assert.Equal("Invalid code_verifier", (string?)body["error_description"]);
    }

    [Fact]
    public async Task CodeReplayIsRejected()
    {
        await using var app = new SimulatorApp();
        var (verifier, challenge) = Pkce();
        var redirect = await app.AuthorizeAsync(Alice, "alice-demo", "openid vehicle_device_data", challenge, ct: Ct);
        Assert.Equal(HttpStatusCode.OK, (await app.ExchangeAsync(Query(redirect, "code"), verifier, Na, Ct)).StatusCode);
        var replay = await app.ExchangeAsync(Query(redirect, "code"), verifier, Na, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Equal("invalid_auth_code", (string?)(await Json(replay, Ct))["error"]);
    }

    [Fact]
    public async Task CodeExpiresAfterTenMinutes()
    {
        await using var app = new SimulatorApp();
        var redirect = await app.AuthorizeAsync(Alice, "alice-demo", "openid vehicle_device_data", ct: Ct);
        app.Time.Advance(TimeSpan.FromMinutes(11));
        var response = await app.ExchangeAsync(Query(redirect, "code"), null, Na, Ct);
        Assert.Equal("invalid_auth_code", (string?)(await Json(response, Ct))["error"]);
    }

    [Fact]
    public async Task UnregisteredRedirectUriGetsAnErrorPageNotARedirect()
    {
        await using var app = new SimulatorApp();
        var response = await app.Client().GetAsync(AuthorizeUrl("openid").Replace(Uri.EscapeDataString(RedirectUri), Uri.EscapeDataString("http://evil.example/cb")), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task WrongPasswordRerendersAndCancelRedirectsWithLoginCancelled()
    {
        await using var app = new SimulatorApp();
        var client = app.Client();
        var login = await client.GetStringAsync(AuthorizeUrl("openid"), Ct);
        var wrong = await PostFormAsync(client, "/oauth2/v3/authorize", Ct, ("transaction_id", Hidden(login)), ("identity", Alice), ("credential", "nope"), ("action", "login"));
        var page = await wrong.Content.ReadAsStringAsync(Ct);
        Assert.Contains("incorrect", page);
        var cancel = await PostFormAsync(client, "/oauth2/v3/authorize", Ct, ("transaction_id", Hidden(page)), ("action", "cancel"));
        Assert.Equal(HttpStatusCode.Redirect, cancel.StatusCode);
        Assert.Equal("login_cancelled", Query(cancel.Headers.Location!, "error"));
        Assert.Equal("User cancelled login", Query(cancel.Headers.Location!, "error_description"));
        Assert.Equal("st-123", Query(cancel.Headers.Location!, "state"));
    }

    [Fact]
    public async Task PartialScopesAreReflectedInScpAndMissingScopeGets403()
    {
        await using var app = new SimulatorApp();
        var redirect = await app.AuthorizeAsync(Alice, "alice-demo", "openid offline_access vehicle_device_data energy_device_data",
            tick: ["offline_access", "vehicle_device_data"], ct: Ct);
        var tokens = await Json(await app.ExchangeAsync(Query(redirect, "code"), null, Na, Ct), Ct);
        var scp = Claims((string)tokens["access_token"]!)["scp"]!.AsArray().Select(s => (string)s!).Order().ToArray();
        Assert.Equal(["offline_access", "openid", "vehicle_device_data"], scp);

        var fleet = app.Fleet((string)tokens["access_token"]!);
        var site = await fleet.GetAsync($"/api/1/energy_sites/{AliceSite}/live_status", Ct);
        Assert.Equal(HttpStatusCode.Forbidden, site.StatusCode);
        Assert.Equal("Unauthorized missing scopes", (string?)(await Json(site, Ct))["error"]);
    }

    [Fact]
    public async Task PromptMissingScopesOffersOnlyMissingOnesAndGrantsTheUnion()
    {
        await using var app = new SimulatorApp();
        await app.AuthorizeAsync(Alice, "alice-demo", "openid offline_access vehicle_device_data", ct: Ct);
        var client = app.Client();
        var login = await client.GetStringAsync(AuthorizeUrl("openid offline_access vehicle_device_data energy_device_data", extra: "&prompt_missing_scopes=true"), Ct);
        var consent = await (await PostFormAsync(client, "/oauth2/v3/authorize", Ct, ("transaction_id", Hidden(login)), ("identity", Alice), ("credential", "alice-demo"), ("action", "login"))).Content.ReadAsStringAsync(Ct);
        Assert.Contains("already granted", consent);
        Assert.DoesNotContain("name=\"scope\" value=\"vehicle_device_data\"", consent);
        Assert.Contains("name=\"scope\" value=\"energy_device_data\"", consent);
        var done = await PostFormAsync(client, "/oauth2/v3/authorize/consent", Ct, ("transaction_id", Hidden(consent)), ("scope", "energy_device_data"), ("action", "allow"));
        var tokens = await Json(await app.ExchangeAsync(Query(done.Headers.Location!, "code"), null, Na, Ct), Ct);
        var scp = Claims((string)tokens["access_token"]!)["scp"]!.AsArray().Select(s => (string)s!).ToHashSet();
        Assert.Superset(new HashSet<string> { "vehicle_device_data", "energy_device_data", "offline_access" }, scp);
    }

    [Fact]
    public async Task RequireRequestedScopesRerendersWhenAScopeIsUnticked()
    {
        await using var app = new SimulatorApp();
        var client = app.Client();
        var login = await client.GetStringAsync(AuthorizeUrl("openid vehicle_device_data vehicle_cmds", extra: "&require_requested_scopes=true"), Ct);
        var consent = await (await PostFormAsync(client, "/oauth2/v3/authorize", Ct, ("transaction_id", Hidden(login)), ("identity", Alice), ("credential", "alice-demo"), ("action", "login"))).Content.ReadAsStringAsync(Ct);
        var partial = await PostFormAsync(client, "/oauth2/v3/authorize/consent", Ct, ("transaction_id", Hidden(consent)), ("scope", "vehicle_device_data"), ("action", "allow"));
        Assert.Equal(HttpStatusCode.OK, partial.StatusCode);
        Assert.Contains("requires all", await partial.Content.ReadAsStringAsync(Ct));
        var deny = await PostFormAsync(client, "/oauth2/v3/authorize/consent", Ct, ("transaction_id", Hidden(consent)), ("action", "deny"));
        Assert.Equal("access_denied", Query(deny.Headers.Location!, "error"));
    }

    [Fact]
    public async Task ClientCredentialsNeedAudienceAndGiveNoRefreshToken()
    {
        await using var app = new SimulatorApp();
        var client = app.Client();
        var missing = await PostFormAsync(client, "/oauth2/v3/token", Ct, ("grant_type", "client_credentials"), ("client_id", ClientId), ("client_secret", ClientSecret));
        Assert.Equal("invalid_audience", (string?)(await Json(missing, Ct))["error"]);
        var ok = await Json(await PostFormAsync(client, "/oauth2/v3/token", Ct, ("grant_type", "client_credentials"), ("client_id", ClientId), ("client_secret", ClientSecret), ("audience", Na)), Ct);
        Assert.NotNull(ok["access_token"]);
        Assert.Null(ok["refresh_token"]);
        var bad = await PostFormAsync(client, "/oauth2/v3/token", Ct, ("grant_type", "client_credentials"), ("client_id", ClientId), ("client_secret", "wrong"), ("audience", Na));
        // D-CONV lists unauthorized_client among the 400s, and auth.tesla.cn answered it so (tesla-confirmed §2).
        Assert.Equal((HttpStatusCode.BadRequest, "unauthorized_client"), (bad.StatusCode, (string?)(await Json(bad, Ct))["error"]));
        var grant = await PostFormAsync(client, "/oauth2/v3/token", Ct, ("grant_type", "password"));
        Assert.Equal("unsupported_grant_type", (string?)(await Json(grant, Ct))["error"]);
    }
}
