using System.Net;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

public sealed class RefreshTokenTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RefreshRotatesTokensAndOmitsState()
    {
        await using var app = new SimulatorApp();
        var first = await app.TokensAsync(Alice, ct: Ct);
        var response = await app.RefreshAsync((string)first["refresh_token"]!, Ct);
        var second = await Json(response, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual((string?)first["refresh_token"], (string?)second["refresh_token"]);
        Assert.StartsWith("NA_", (string?)second["refresh_token"]);
        Assert.Null(second["state"]);
    }

    [Fact]
    public async Task RefreshTokenRemainsUsableFor24HoursAfterFirstUse()
    {
        await using var app = new SimulatorApp();
        var original = (string)(await app.TokensAsync(Alice, ct: Ct))["refresh_token"]!;
        Assert.Equal(HttpStatusCode.OK, (await app.RefreshAsync(original, Ct)).StatusCode);

        app.Time.Advance(TimeSpan.FromHours(23));
        var retry = await app.RefreshAsync(original, Ct); // a client that lost the first answer retries
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);

        app.Time.Advance(TimeSpan.FromHours(2));
        var late = await app.RefreshAsync(original, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, late.StatusCode);
        var body = await Json(late, Ct);
        Assert.Equal("login_required", (string?)body["error"]);
        Assert.Equal("Login required", (string?)body["error_description"]);
        Assert.NotNull(body["referenceID"]);
    }

    [Fact]
    public async Task UsingTheNewRefreshTokenCyclesOutThePreviousOne()
    {
        await using var app = new SimulatorApp();
        var original = (string)(await app.TokensAsync(Alice, ct: Ct))["refresh_token"]!;
        var next = (string)(await Json(await app.RefreshAsync(original, Ct), Ct))["refresh_token"]!;
        Assert.Equal(HttpStatusCode.OK, (await app.RefreshAsync(next, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.RefreshAsync(original, Ct)).StatusCode);
    }

    [Fact]
    public async Task RefreshTokenExpiresAfterThreeMonths()
    {
        await using var app = new SimulatorApp();
        var token = (string)(await app.TokensAsync(Alice, ct: Ct))["refresh_token"]!;
        app.Time.Advance(TimeSpan.FromDays(93));
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.RefreshAsync(token, Ct)).StatusCode);
    }

    [Fact]
    public async Task UnknownRefreshTokenIsLoginRequired()
    {
        await using var app = new SimulatorApp();
        var response = await app.RefreshAsync("NA_" + new string('0', 64), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("login_required", (string?)(await Json(response, Ct))["error"]);
    }

    [Fact]
    public async Task RevokedConsentKillsRefreshAndAccessTokens()
    {
        await using var app = new SimulatorApp();
        var tokens = await app.TokensAsync(Alice, ct: Ct);
        var fleet = app.Fleet((string)tokens["access_token"]!);
        Assert.Equal(HttpStatusCode.OK, (await fleet.GetAsync("/api/1/vehicles", Ct)).StatusCode);

        var client = app.Client();
        var page = await client.GetStringAsync($"/user/revoke/consent?revoke_client_id={ClientId}&back_url=http://127.0.0.1:5080/", Ct);
        Assert.Contains("Revoke access", page);
        var revoke = await PostFormAsync(client, "/user/revoke/consent", Ct, ("revoke_client_id", ClientId), ("back_url", "http://127.0.0.1:5080/"), ("identity", Alice), ("credential", "alice-demo"));
        Assert.Equal(HttpStatusCode.Redirect, revoke.StatusCode);

        var refresh = await app.RefreshAsync((string)tokens["refresh_token"]!, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        Assert.Equal("login_required", (string?)(await Json(refresh, Ct))["error"]);
        var data = await fleet.GetAsync("/api/1/vehicles", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, data.StatusCode);
        Assert.Equal("invalid bearer token", (string?)(await Json(data, Ct))["error"]);
    }

    [Fact]
    public async Task PasswordResetKillsRefreshTokens()
    {
        await using var app = new SimulatorApp();
        var token = (string)(await app.TokensAsync(Bob, ct: Ct))["refresh_token"]!;
        Assert.Equal(HttpStatusCode.NoContent, (await app.SimPostAsync($"/_sim/accounts/{Bob}/reset-password", null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.RefreshAsync(token, Ct)).StatusCode);
    }

    [Fact]
    public async Task ExpiredAccessTokenGetsTokenExpired()
    {
        await using var app = new SimulatorApp();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        app.Time.Advance(TimeSpan.FromHours(8) + TimeSpan.FromSeconds(1));
        var response = await fleet.GetAsync("/api/1/vehicles", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("token expired (401)", (string?)(await Json(response, Ct))["error"]);
        var garbage = await app.Fleet("not-a-jwt").GetAsync("/api/1/vehicles", Ct);
        Assert.Equal("invalid bearer token", (string?)(await Json(garbage, Ct))["error"]);
    }
}
