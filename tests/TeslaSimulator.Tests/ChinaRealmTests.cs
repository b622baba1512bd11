using System.Net;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

/// <summary>China as Tesla runs it (tesla-confirmed §2): its own auth server, app registrations, issuer, keys and Fleet API host.</summary>
public sealed class ChinaRealmTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ChinaSignsInAtItsOwnAuthServerWithItsOwnIssuerAndKeys()
    {
        await using var app = new SimulatorApp();
        var discovery = JsonNode.Parse(await app.Client(CnAuthBase).GetStringAsync("/oauth2/v3/thirdparty/.well-known/openid-configuration", Ct))!;
        Assert.Equal($"{CnAuthBase}/oauth2/v3/nts", (string?)discovery["issuer"]);
        Assert.Equal($"{CnAuthBase}/oauth2/v3/authorize", (string?)discovery["authorization_endpoint"]);
        var cnKeys = new JsonWebKeySet(await app.Client(CnAuthBase).GetStringAsync("/oauth2/v3/discovery/thirdparty/keys", Ct));
        var globalKeys = new JsonWebKeySet(await app.Client().GetStringAsync("/oauth2/v3/discovery/thirdparty/keys", Ct));
        Assert.NotEqual(globalKeys.Keys.Single().Kid, cnKeys.Keys.Single().Kid);

        var (verifier, challenge) = Pkce();
        var redirect = await app.AuthorizeAsync(Chen, "chen-demo", "openid offline_access vehicle_device_data", challenge, ct: Ct, realm: China);
        Assert.Equal($"{CnAuthBase}/oauth2/v3", Query(redirect, "issuer"));
        Assert.DoesNotContain("_", Query(redirect, "code")); // no CN_ prefix was ever seen publicly
        var tokens = await Json(await app.ExchangeAsync(Query(redirect, "code"), verifier, Cn, Ct, China), Ct);

        var access = (string)tokens["access_token"]!;
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(access, new TokenValidationParameters
        {
            IssuerSigningKeys = cnKeys.GetSigningKeys(), ValidIssuer = $"{CnAuthBase}/oauth2/v3/nts", ValidAudience = Cn, ValidateLifetime = false,
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal([Cn, $"{CnAuthBase}/oauth2/v3/userinfo"], Claims(access)["aud"]!.AsArray().Select(a => (string?)a));
        Assert.Equal("CN", (string?)Claims(access)["ou_code"]);
        Assert.DoesNotContain("_", (string?)tokens["refresh_token"]);
    }

    [Fact]
    public async Task TheGlobalAppIsUnknownAtChinasAuthServer()
    {
        await using var app = new SimulatorApp();
        var response = await PostFormAsync(app.Client(CnAuthBase), "/oauth2/v3/token", Ct, ("grant_type", "client_credentials"),
            ("client_id", ClientId), ("client_secret", ClientSecret), ("audience", Cn));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await Json(response, Ct);
        Assert.Equal("unauthorized_client", (string?)body["error"]);
        Assert.Equal("We don't recognize this client_id and client_secret combination", (string?)body["error_description"]);
        Assert.StartsWith($"{CnAuthBase}/error/reference/", (string?)body["error_uri"]);
        var authorize = await app.Client(CnAuthBase).GetAsync(AuthorizeUrl("openid vehicle_device_data"), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, authorize.StatusCode); // an error page, never a redirect
    }

    [Fact]
    public async Task ChinasFleetHostAtTheGlobalAuthServerIsAnInvalidResource()
    {
        await using var app = new SimulatorApp();
        var response = await PostFormAsync(app.Client(), "/oauth2/v3/token", Ct, ("grant_type", "client_credentials"),
            ("client_id", ClientId), ("client_secret", ClientSecret), ("audience", Cn));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await Json(response, Ct);
        Assert.Equal(("invalid_request", "Invalid resource"), ((string?)body["error"], (string?)body["error_description"]));
    }

    [Fact]
    public async Task AccountsSignInOnlyAtTheirOwnAuthServer()
    {
        await using var app = new SimulatorApp();
        var atChina = await app.Client(CnAuthBase).GetStringAsync(AuthorizeUrl("openid", clientId: CnClientId), Ct);
        Assert.Contains(Chen, atChina);
        Assert.DoesNotContain(Alice, atChina);

        var alice = await PostFormAsync(app.Client(CnAuthBase), "/oauth2/v3/authorize", Ct,
            ("transaction_id", Hidden(atChina)), ("identity", Alice), ("credential", "alice-demo"), ("action", "login"));
        Assert.Contains("incorrect", await alice.Content.ReadAsStringAsync(Ct));
        var atGlobal = await app.Client().GetStringAsync(AuthorizeUrl("openid"), Ct);
        var chen = await PostFormAsync(app.Client(), "/oauth2/v3/authorize", Ct,
            ("transaction_id", Hidden(atGlobal)), ("identity", Chen), ("credential", "chen-demo"), ("action", "login"));
        Assert.Contains("incorrect", await chen.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ChinaTokensWorkOnlyAtChinasFleetHostAndGlobalOnesNeverThere()
    {
        await using var app = new SimulatorApp();
        var chen = (string)(await app.TokensAsync(Chen, ct: Ct))["access_token"]!;
        var alice = (string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!;

        Assert.Equal(HttpStatusCode.OK, (await app.Fleet(chen, Cn).GetAsync($"/api/1/vehicles/{ChenCar}", Ct)).StatusCode);
        var region = await Json(await app.Fleet(chen, Cn).GetAsync("/api/1/users/region", Ct), Ct);
        Assert.Equal(("cn", Cn), ((string?)region["response"]!["region"], (string?)region["response"]!["fleet_api_base_url"]));
        // Whether Tesla answers 401 or 421 across realms was never captured; the simulator says invalid token.
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Fleet(chen, Na).GetAsync("/api/1/users/region", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Fleet(alice, Cn).GetAsync("/api/1/users/region", Ct)).StatusCode);
    }

    [Fact]
    public async Task ChinaRefreshTokensRotateOnlyAtChinasTokenEndpoint()
    {
        await using var app = new SimulatorApp();
        var refresh = (string)(await app.TokensAsync(Chen, ct: Ct))["refresh_token"]!;

        Assert.Equal(HttpStatusCode.Unauthorized, (await app.RefreshAsync(refresh, Ct, Global with { ClientId = CnClientId })).StatusCode);
        var rotated = await app.RefreshAsync(refresh, Ct, China);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.Equal($"{CnAuthBase}/oauth2/v3/nts", (string?)Claims((string)(await Json(rotated, Ct))["access_token"]!)["iss"]);
    }

    [Fact]
    public async Task PartnerRegistersInChinaWithTheChinaApp()
    {
        await using var app = new SimulatorApp();
        var published = app.PublishKey("broker.example.cn");
        var partner = await app.PartnerAsync(Cn, Ct, China);

        var registered = await Json(await RegisterAsync(partner, "broker.example.cn", Ct), Ct);

        Assert.Equal((CnClientId, published), ((string?)registered["response"]!["client_id"], (string?)registered["response"]!["public_key"]));
        var state = JsonNode.Parse(await app.Client().GetStringAsync("/_sim/state", Ct))!;
        var row = Assert.Single(state["partnerRegistrations"]!.AsArray());
        Assert.Equal((CnClientId, "cn"), ((string?)row!["clientId"], (string?)row["region"]));
    }
}
