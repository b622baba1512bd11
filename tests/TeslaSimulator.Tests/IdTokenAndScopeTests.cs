using System.Net;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

/// <summary>
/// The id_token shapes a client must survive (no Fleet id_token was ever captured publicly: tesla-confirmed §1), and the
/// scopes behind users/me and wake_up (tesla-confirmed §1, §3).
/// </summary>
public sealed class IdTokenAndScopeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("normal", true, "/nts", "n-456")]
    [InlineData("other-issuer", true, "", "n-456")]
    [InlineData("no-nonce", true, "/nts", null)]
    [InlineData("other-nonce", true, "/nts", "a-nonce-this-client-never-sent")]
    [InlineData("bad-signature", false, "/nts", "n-456")]
    public async Task EachIdTokenModeShapesTheIdTokenOfACodeExchange(string mode, bool validSignature, string issuerSuffix, string? nonce)
    {
        await using var app = new SimulatorApp();
        Assert.Equal(HttpStatusCode.OK, (await app.Client().PutAsync($"/_sim/realms/global/id-token?mode={mode}", null, Ct)).StatusCode);

        var idToken = (string)(await app.TokensAsync(Alice, ct: Ct))["id_token"]!;

        var claims = Claims(idToken);
        Assert.Equal($"{AuthBase}/oauth2/v3{issuerSuffix}", (string?)claims["iss"]);
        Assert.Equal(nonce, (string?)claims["nonce"]);
        Assert.Equal((ClientId, Alice), ((string?)claims["aud"], (string?)claims["email"]));
        var keys = new JsonWebKeySet(await app.Client().GetStringAsync("/oauth2/v3/discovery/thirdparty/keys", Ct));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            IssuerSigningKeys = keys.GetSigningKeys(), ValidateIssuer = false, ValidAudience = ClientId, ValidateLifetime = false,
        });
        Assert.Equal(validSignature, result.IsValid);
    }

    [Fact]
    public async Task AbsentModeLeavesTheIdTokenOutAndOtherSubjectNamesSomeoneElse()
    {
        await using var app = new SimulatorApp();
        await app.Client().PutAsync("/_sim/realms/global/id-token?mode=absent", null, Ct);
        var tokens = await app.TokensAsync(Alice, ct: Ct);
        Assert.Null(tokens["id_token"]);
        Assert.NotNull(tokens["access_token"]);

        await app.Client().PutAsync("/_sim/realms/global/id-token?mode=OtherSubject", null, Ct);
        var other = await app.TokensAsync(Alice, ct: Ct);
        Assert.NotEqual((string?)Claims((string)other["access_token"]!)["sub"], (string?)Claims((string)other["id_token"]!)["sub"]);
    }

    [Fact]
    public async Task IdTokenModeIsPerRealmAndUnknownModesOrRealmsAreRefused()
    {
        await using var app = new SimulatorApp();
        await app.Client().PutAsync("/_sim/realms/cn/id-token?mode=absent", null, Ct);
        Assert.Null((await app.TokensAsync(Chen, ct: Ct))["id_token"]);
        Assert.NotNull((await app.TokensAsync(Alice, ct: Ct))["id_token"]);

        var realms = JsonNode.Parse(await app.Client().GetStringAsync("/_sim/realms", Ct))!.AsArray();
        Assert.Equal(["global normal", "cn absent"], realms.Select(r => $"{r!["name"]} {r["idToken"]}"));
        Assert.Equal(HttpStatusCode.BadRequest, (await app.Client().PutAsync("/_sim/realms/cn/id-token?mode=sometimes", null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client().PutAsync("/_sim/realms/mars/id-token?mode=absent", null, Ct)).StatusCode);
    }

    [Fact]
    public async Task UsersMeNeedsUserData()
    {
        await using var app = new SimulatorApp();
        var without = await app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!).GetAsync("/api/1/users/me", Ct);
        Assert.Equal(HttpStatusCode.Forbidden, without.StatusCode);
        Assert.Equal("""{"response":null,"error":"Unauthorized missing scopes","error_description":""}""", await without.Content.ReadAsStringAsync(Ct));

        var with = await app.TokensAsync(Alice, "openid user_data", Ct);
        var me = await Json(await app.Fleet((string)with["access_token"]!).GetAsync("/api/1/users/me", Ct), Ct);
        Assert.Equal((Alice, "Alice Example"), ((string?)me["response"]!["email"], (string?)me["response"]!["full_name"]));
        Assert.NotNull(me["response"]!["profile_image_url"]);
    }

    [Fact]
    public async Task WakeUpNeedsVehicleCmdsAsTheScopeTableSays()
    {
        await using var app = new SimulatorApp();
        var dataOnly = app.Fleet((string)(await app.TokensAsync(Bob, "openid vehicle_device_data", Ct))["access_token"]!, Eu);
        var refused = await dataOnly.PostAsync($"/api/1/vehicles/{BobAsleep}/wake_up", null, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("""{"response":null,"error":"Unauthorized missing scopes","error_description":""}""", await refused.Content.ReadAsStringAsync(Ct));

        var commands = app.Fleet((string)(await app.TokensAsync(Bob, "openid vehicle_device_data vehicle_cmds", Ct))["access_token"]!, Eu);
        Assert.Equal(HttpStatusCode.OK, (await commands.PostAsync($"/api/1/vehicles/{BobAsleep}/wake_up", null, Ct)).StatusCode);
    }
}
