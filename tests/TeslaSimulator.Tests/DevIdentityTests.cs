using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

/// <summary>The development OpenID provider at /dev-idp, driven through its HTML form like a browser without script.</summary>
public sealed class DevIdentityTests
{
    private const string Issuer = $"{AuthBase}/dev-idp";
    private const string ConsoleId = "broker-console";
    private const string ConsoleSecret = "broker-console-demo-secret";
    private const string Callback = "http://127.0.0.1:5080/signin-oidc";
    private const string SignedOut = "http://127.0.0.1:5080/signout-callback-oidc";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OperatorSignsInWithCodeAndPkceAndTheIdTokenValidatesAgainstTheJwks()
    {
        await using var app = new SimulatorApp();
        var client = app.Client();
        var discovery = JsonNode.Parse(await client.GetStringAsync("/dev-idp/.well-known/openid-configuration", Ct))!;
        Assert.Equal(Issuer, (string?)discovery["issuer"]);
        Assert.Equal($"{Issuer}/token", (string?)discovery["token_endpoint"]);

        var (verifier, challenge) = Pkce();
        var page = await client.GetStringAsync(Authorize(challenge), Ct);
        Assert.Contains("Development identity provider", page);
        Assert.Contains("operator@example.com", page);
        var wrong = await SubmitAsync(client, page, "operator@example.com", "not-the-password");
        Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        Assert.Contains("Unknown email or wrong password.", await wrong.Content.ReadAsStringAsync(Ct));

        var redirect = (await SubmitAsync(client, await wrong.Content.ReadAsStringAsync(Ct), "operator@example.com", "operator-demo")).Headers.Location!;
        Assert.StartsWith(Callback + "?", redirect.ToString());
        Assert.Equal("st-1", Query(redirect, "state"));
        Assert.Equal(Issuer, Query(redirect, "iss"));

        var basic = new HttpRequestMessage(HttpMethod.Post, "/dev-idp/token") { Content = Form(("grant_type", "authorization_code"),
            ("code", Query(redirect, "code")), ("redirect_uri", Callback), ("code_verifier", verifier)) };
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ConsoleId}:{ConsoleSecret}")));
        var tokens = await Json(await client.SendAsync(basic, Ct), Ct);

        var jwks = new JsonWebKeySet(await client.GetStringAsync(new Uri((string)discovery["jwks_uri"]!).PathAndQuery, Ct));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync((string)tokens["id_token"]!, new TokenValidationParameters
        {
            ValidIssuer = Issuer, ValidAudience = ConsoleId, IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidateLifetime = false, // simulated time: checked below against the simulator's clock instead
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        var id = (JsonWebToken)result.SecurityToken;
        Assert.Equal((app.Time.GetUtcNow().UtcDateTime, TimeSpan.FromHours(1)), (id.IssuedAt, id.ValidTo - id.IssuedAt));
        Assert.Equal(("operator@example.com", "Olivia Operator", "n-1"), (id.GetClaim("email").Value, id.GetClaim("name").Value, id.GetClaim("nonce").Value));
        Assert.Equal(["broker-operators"], id.Claims.Where(c => c.Type == "groups").Select(c => c.Value));

        var userinfo = new HttpRequestMessage(HttpMethod.Get, "/dev-idp/userinfo");
        userinfo.Headers.Authorization = new AuthenticationHeaderValue("Bearer", (string)tokens["access_token"]!);
        var claims = await Json(await client.SendAsync(userinfo, Ct), Ct);
        Assert.Equal(id.Subject, (string?)claims["sub"]);
        Assert.Equal("broker-operators", (string?)claims["groups"]![0]);
    }

    [Fact]
    public async Task WrongCodeVerifierIsRefusedAndBurnsTheCode()
    {
        await using var app = new SimulatorApp();
        var (verifier, code) = await CodeAsync(app, "alice-admin@example.com", "alice-admin-demo");
        var wrong = await ExchangeAsync(app, code, Pkce().Verifier);
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_grant"), (wrong.StatusCode, (string?)(await Json(wrong, Ct))["error"]));
        Assert.Equal(HttpStatusCode.BadRequest, (await ExchangeAsync(app, code, verifier)).StatusCode);
    }

    [Fact]
    public async Task CodeReplayIsRefusedAndKillsTheTokenTheCodeBought()
    {
        await using var app = new SimulatorApp();
        var (verifier, code) = await CodeAsync(app, "bob-admin@example.com", "bob-admin-demo");
        var first = await Json(await ExchangeAsync(app, code, verifier), Ct);
        Assert.Empty(Claims((string)first["id_token"]!)["groups"]!.AsArray());

        var replay = await ExchangeAsync(app, code, verifier);
        Assert.Equal("invalid_grant", (string?)(await Json(replay, Ct))["error"]);
        var userinfo = new HttpRequestMessage(HttpMethod.Get, "/dev-idp/userinfo");
        userinfo.Headers.Authorization = new AuthenticationHeaderValue("Bearer", (string)first["access_token"]!);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Client().SendAsync(userinfo, Ct)).StatusCode);
    }

    [Fact]
    public async Task CodeExpiresAfterAMinute()
    {
        await using var app = new SimulatorApp();
        var (verifier, code) = await CodeAsync(app, "operator@example.com", "operator-demo");
        app.Time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal("invalid_grant", (string?)(await Json(await ExchangeAsync(app, code, verifier), Ct))["error"]);
    }

    [Fact]
    public async Task WrongClientSecretIsInvalidClient()
    {
        await using var app = new SimulatorApp();
        var (verifier, code) = await CodeAsync(app, "operator@example.com", "operator-demo");
        var response = await ExchangeAsync(app, code, verifier, secret: "guess");
        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_client"), (response.StatusCode, (string?)(await Json(response, Ct))["error"]));
    }

    [Fact]
    public async Task UnknownRedirectUriGetsAnErrorPageNotARedirect()
    {
        await using var app = new SimulatorApp();
        var response = await app.Client().GetAsync(Authorize(Pkce().Challenge).Replace(Uri.EscapeDataString(Callback), Uri.EscapeDataString("http://evil.example/cb")), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task AuthorizeWithoutPkceIsRefused()
    {
        await using var app = new SimulatorApp();
        var response = await app.Client().GetAsync(Authorize(Pkce().Challenge).Replace("&code_challenge_method=S256", ""), Ct);
        Assert.Equal("invalid_request", Query(response.Headers.Location!, "error"));
        Assert.Equal("st-1", Query(response.Headers.Location!, "state"));
    }

    [Fact]
    public async Task FormPostResponseModeAnswersWithAFormForTheClient()
    {
        await using var app = new SimulatorApp();
        var client = app.Client();
        var page = await client.GetStringAsync(Authorize(Pkce().Challenge) + "&response_mode=form_post", Ct);
        var html = await (await SubmitAsync(client, page, "operator@example.com", "operator-demo")).Content.ReadAsStringAsync(Ct);
        Assert.Contains($"<form method=\"post\" action=\"{Callback}\">", html);
        Assert.Contains("<input type=\"hidden\" name=\"state\" value=\"st-1\">", html);
        Assert.Matches("<input type=\"hidden\" name=\"code\" value=\"[0-9a-f]{64}\">", html);
    }

    [Fact]
    public async Task EndSessionReturnsOnlyToRegisteredUrisWithState()
    {
        await using var app = new SimulatorApp();
        var (verifier, code) = await CodeAsync(app, "operator@example.com", "operator-demo");
        var idToken = (string)(await Json(await ExchangeAsync(app, code, verifier), Ct))["id_token"]!;
        var client = app.Client();

        var back = await client.GetAsync($"/dev-idp/end_session?id_token_hint={idToken}&post_logout_redirect_uri={Uri.EscapeDataString(SignedOut)}&state=bye", Ct);
        Assert.Equal(new Uri($"{SignedOut}?state=bye"), back.Headers.Location);
        var elsewhere = await client.GetAsync($"/dev-idp/end_session?id_token_hint={idToken}&post_logout_redirect_uri={Uri.EscapeDataString("http://evil.example/")}", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, elsewhere.StatusCode);
        Assert.Null(elsewhere.Headers.Location);
        var anonymous = await client.GetAsync($"/dev-idp/end_session?post_logout_redirect_uri={Uri.EscapeDataString(SignedOut)}", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, anonymous.StatusCode);
    }

    [Fact]
    public async Task ConfiguredClientReplacesTheSeedOne()
    {
        await using var app = new SimulatorApp { Settings = new()
        {
            ["Simulator:DevIdentity:Clients:0:ClientId"] = ConsoleId,
            ["Simulator:DevIdentity:Clients:0:ClientSecret"] = "from-config",
            ["Simulator:DevIdentity:Clients:0:RedirectUris:0"] = "http://127.0.0.1:6123/signin-oidc",
        } };
        var seeded = await app.Client().GetAsync(Authorize(Pkce().Challenge), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, seeded.StatusCode);
        var configured = await app.Client().GetAsync(Authorize(Pkce().Challenge).Replace(Uri.EscapeDataString(Callback), Uri.EscapeDataString("http://127.0.0.1:6123/signin-oidc")), Ct);
        Assert.Equal(HttpStatusCode.OK, configured.StatusCode);
    }

    private static string Authorize(string challenge) =>
        $"/dev-idp/authorize?response_type=code&client_id={ConsoleId}&redirect_uri={Uri.EscapeDataString(Callback)}" +
        $"&scope=openid%20profile%20email&state=st-1&nonce=n-1&code_challenge={challenge}&code_challenge_method=S256";

    private static async Task<HttpResponseMessage> SubmitAsync(HttpClient client, string page, string email, string password) =>
        await PostFormAsync(client, "/dev-idp/authorize", Ct, ("transaction_id", Hidden(page)), ("email", email), ("password", password), ("action", "sign_in"));

    private static async Task<(string Verifier, string Code)> CodeAsync(SimulatorApp app, string email, string password)
    {
        var (verifier, challenge) = Pkce();
        var client = app.Client();
        var redirect = (await SubmitAsync(client, await client.GetStringAsync(Authorize(challenge), Ct), email, password)).Headers.Location!;
        return (verifier, Query(redirect, "code"));
    }

    private static async Task<HttpResponseMessage> ExchangeAsync(SimulatorApp app, string code, string verifier, string secret = ConsoleSecret) =>
        await PostFormAsync(app.Client(), "/dev-idp/token", Ct, ("grant_type", "authorization_code"), ("code", code),
            ("redirect_uri", Callback), ("code_verifier", verifier), ("client_id", ConsoleId), ("client_secret", secret));

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));
}
