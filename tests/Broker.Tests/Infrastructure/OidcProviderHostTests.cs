using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Tests.Infrastructure;

public sealed class OidcProviderHostTests
{
    private const string RedirectUri = "http://localhost/signin-oidc";
    private const string SignedOutUri = "http://localhost/signout-callback-oidc";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProviderServesDiscoveryAndJwksOnItsIssuer()
    {
        await using var provider = new OidcProviderHost();
        await provider.StartAsync(Ct);
        using var http = new HttpClient();

        var discovery = (await http.GetFromJsonAsync<JsonObject>($"{provider.Issuer}/.well-known/openid-configuration", Ct))!;
        Assert.Equal(provider.Issuer, (string?)discovery["issuer"]);
        Assert.Contains("S256", discovery["code_challenge_methods_supported"]!.AsArray().Select(m => (string?)m));
        Assert.NotNull(discovery["end_session_endpoint"]);
        var jwks = new JsonWebKeySet(await http.GetStringAsync((string)discovery["jwks_uri"]!, Ct));
        Assert.Contains(jwks.Keys, k => k.Kty == "RSA" && k.Alg == "RS256");
    }

    [Fact]
    public async Task OperatorSignsInWithCodeAndPkceThenSignsOut()
    {
        await using var provider = new OidcProviderHost();
        await provider.StartAsync(Ct);
        using var http = new HttpClient();
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var authorize = QueryHelpers.AddQueryString($"{provider.Issuer}/auth", new Dictionary<string, string?>
        {
            ["client_id"] = OidcProviderHost.ClientId, ["response_type"] = "code", ["scope"] = "openid profile email",
            ["redirect_uri"] = RedirectUri, ["state"] = "st-1", ["nonce"] = "n-1",
            ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
        });

        using var callback = await provider.SignInAsync(new Uri(authorize), "operator@example.com", "operator-demo", Ct);
        Assert.StartsWith(RedirectUri + "?", callback.RequestUri!.ToString());
        var query = QueryHelpers.ParseQuery(callback.RequestUri.Query);
        Assert.Equal("st-1", query["state"]);

        using var token = await http.PostAsync($"{provider.Issuer}/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = query["code"]!, ["redirect_uri"] = RedirectUri, ["code_verifier"] = verifier,
            ["client_id"] = OidcProviderHost.ClientId, ["client_secret"] = OidcProviderHost.ClientSecret,
        }), Ct);
        Assert.True(token.IsSuccessStatusCode, await token.Content.ReadAsStringAsync(Ct));
        var idToken = (string)(await token.Content.ReadFromJsonAsync<JsonObject>(Ct))!["id_token"]!;

        var jwks = new JsonWebKeySet(await http.GetStringAsync($"{provider.Issuer}/jwks", Ct));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = provider.Issuer, ValidAudience = OidcProviderHost.ClientId, IssuerSigningKeys = jwks.GetSigningKeys(),
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        var jwt = (JsonWebToken)result.SecurityToken;
        Assert.Equal("operator@example.com", jwt.GetClaim("email").Value);
        Assert.Equal("n-1", jwt.GetClaim("nonce").Value);
        Assert.Equal([OidcProviderHost.OperatorsGroup], jwt.Claims.Where(c => c.Type == "groups").Select(c => c.Value));

        var endSession = QueryHelpers.AddQueryString($"{provider.Issuer}/session/end", new Dictionary<string, string?>
        {
            ["id_token_hint"] = idToken, ["post_logout_redirect_uri"] = SignedOutUri, ["state"] = "bye",
        });
        Assert.Equal(new Uri($"{SignedOutUri}?state=bye"), await provider.SignOutAsync(new Uri(endSession), Ct));
    }

    [Fact]
    public async Task WrongPasswordShowsTheLoginFormAgain()
    {
        await using var provider = new OidcProviderHost();
        await provider.StartAsync(Ct);
        var authorize = $"{provider.Issuer}/auth?client_id={OidcProviderHost.ClientId}&response_type=code&scope=openid" +
            $"&redirect_uri={Uri.EscapeDataString(RedirectUri)}&code_challenge={new string('a', 43)}&code_challenge_method=S256";

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            provider.SignInAsync(new Uri(authorize), "bob-admin@example.com", "not-bobs-password", Ct));
        Assert.Contains("Unknown login or wrong password", refused.Message);
    }
}
