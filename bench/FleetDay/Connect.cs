using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;

namespace FleetDay;

/// <summary>
/// The OAuth flows the two pollers need: a person pressing "Connect Tesla" on the broker's page, and
/// the naive exporter getting its own tokens (authorization code + PKCE) as a self-hosted script would.
/// Both walk the simulator's sign-in and consent forms.
/// </summary>
public static partial class Connect
{
    /// <summary>The broker's connect page → Tesla sign-in and consent (all scopes) → the broker's callback.</summary>
    public static async Task ThroughBrokerAsync(BrokerWorld broker, SimWorld sim, string linkToken, string email, string password)
    {
        var browser = broker.Browser();
        var page = await browser.GetStringAsync($"/connect/{linkToken}");
        var start = await browser.PostAsync($"/connect/{linkToken}/start", Form(("__RequestVerificationToken", Hidden(page, "__RequestVerificationToken"))));
        Expect(HttpStatusCode.Redirect, start);
        var callback = await SignInAndConsentAsync(sim, start.Headers.Location!, email, password);
        var landed = await browser.GetAsync(callback.PathAndQuery);
        Expect(HttpStatusCode.Redirect, landed);
        Expect(HttpStatusCode.OK, await browser.GetAsync(landed.Headers.Location));
    }

    /// <summary>The exporter's own tokens: (access token, refresh token, expires at).</summary>
    public static async Task<ExporterTokens> ExporterTokensAsync(SimWorld sim, TimeProvider time, string email, string password, string audience)
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        const string redirect = "http://localhost/exporter/callback";
        var authorize = new Uri($"{SimWorld.AuthBase}/oauth2/v3/authorize?response_type=code&client_id={SimWorld.ExporterClient}" +
            $"&redirect_uri={Uri.EscapeDataString(redirect)}&scope={Uri.EscapeDataString("openid offline_access vehicle_device_data vehicle_location vehicle_cmds vehicle_charging_cmds energy_device_data")}" +
            $"&state=bench&code_challenge={challenge}&code_challenge_method=S256");
        var back = await SignInAndConsentAsync(sim, authorize, email, password);
        var code = QueryHelpers.ParseQuery(back.Query)["code"].ToString();
        var response = await sim.Client().PostAsync("/oauth2/v3/token", Form(
            ("grant_type", "authorization_code"), ("client_id", SimWorld.ExporterClient), ("client_secret", SimWorld.Secret),
            ("code", code), ("redirect_uri", redirect), ("audience", audience), ("code_verifier", verifier)));
        return await ExporterTokens.ReadAsync(response, time);
    }

    public static async Task<ExporterTokens> RefreshAsync(SimWorld sim, TimeProvider time, string refreshToken) =>
        await ExporterTokens.ReadAsync(await sim.Client().PostAsync("/oauth2/v3/token", Form(
            ("grant_type", "refresh_token"), ("client_id", SimWorld.ExporterClient), ("refresh_token", refreshToken))), time);

    private static async Task<Uri> SignInAndConsentAsync(SimWorld sim, Uri authorize, string email, string password)
    {
        var tesla = sim.Client();
        var loginPage = await tesla.GetStringAsync(authorize);
        var login = await tesla.PostAsync("/oauth2/v3/authorize", Form(
            ("transaction_id", Hidden(loginPage, "transaction_id")), ("identity", email), ("credential", password), ("action", "login")));
        if (login.StatusCode == HttpStatusCode.Redirect)
        {
            return login.Headers.Location!;
        }
        var consentPage = await login.Content.ReadAsStringAsync();
        var consent = await tesla.PostAsync("/oauth2/v3/authorize/consent", Form(
            ("transaction_id", Hidden(consentPage, "transaction_id")), ("action", "allow"), ("select_all", "true")));
        Expect(HttpStatusCode.Redirect, consent);
        return consent.Headers.Location!;
    }

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    private static string Hidden(string html, string name) =>
        WebUtility.HtmlDecode(Regex.Match(html, $"name=\"{Regex.Escape(name)}\"[^>]*value=\"([^\"]*)\"").Groups[1].Value) is { Length: > 0 } v
            ? v
            : throw new InvalidOperationException($"No hidden field '{name}' in the page.");

    private static void Expect(HttpStatusCode expected, HttpResponseMessage response)
    {
        if (response.StatusCode != expected)
        {
            throw new InvalidOperationException($"Expected {expected} from {response.RequestMessage?.RequestUri}, got {(int)response.StatusCode}.");
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

public sealed record ExporterTokens(string Access, string Refresh, DateTimeOffset ExpiresAt)
{
    public static async Task<ExporterTokens> ReadAsync(HttpResponseMessage response, TimeProvider time)
    {
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Token endpoint answered {(int)response.StatusCode}: {body}");
        }
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        return new ExporterTokens(root.GetProperty("access_token").GetString()!, root.GetProperty("refresh_token").GetString()!,
            time.GetUtcNow().AddSeconds(root.GetProperty("expires_in").GetInt32()));
    }
}
