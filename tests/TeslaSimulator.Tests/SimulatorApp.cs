using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;

namespace TeslaSimulator.Tests;

/// <summary>The simulator in-process, on simulated time. Each test class gets a fresh world.</summary>
public sealed partial class SimulatorApp : WebApplicationFactory<SimulatorMarker>
{
    public const string AuthBase = "http://127.0.0.1:7800";
    public const string Na = "http://127.0.0.1:7801";
    public const string Eu = "http://127.0.0.1:7802";
    public const string ClientId = "broker-demo";
    public const string ClientSecret = "demo-client-secret";
    public const string RedirectUri = "http://127.0.0.1:5080/connect/callback";
    public const string Alice = "alice@example.com";
    public const string Bob = "bob@example.com";
    public const string AliceDriving = "5YJ3E1EA7PF381204";
    public const string AliceCharging = "7SAYGDEE5PA114587";
    public const string BobAsleep = "XP7YGCEK1PB209361";
    public const long AliceSite = 2252179001;
    // China: its own auth server, Fleet API host, app and demo account (tesla-confirmed §2).
    public const string CnAuthBase = "http://127.0.0.1:7803";
    public const string Cn = "http://127.0.0.1:7804";
    public const string CnClientId = "broker-demo-cn";
    public const string CnClientSecret = "demo-cn-client-secret";
    public const string Chen = "chen@example.cn";
    public const string ChenCar = "LRWYGCEK3PC517246";

    /// <summary>An auth server and the app registered there.</summary>
    public sealed record Realm(string AuthBase, string ClientId, string ClientSecret);
    public static readonly Realm Global = new(AuthBase, ClientId, ClientSecret);
    public static readonly Realm China = new(CnAuthBase, CnClientId, CnClientSecret);

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 6, 1, 19, 0, 0, TimeSpan.Zero));

    /// <summary>Extra configuration, e.g. <c>Simulator:PartnerDomains:&lt;domain&gt;</c>.</summary>
    public Dictionary<string, string> Settings { get; init; } = [];

    /// <summary>The partners' web: absolute URL to file body. The simulator's key downloads see only these (others 404).</summary>
    public Dictionary<string, string> Web { get; } = [];

    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        builder.UseSetting("Simulator:WakeUpSeconds", "15");
        builder.UseSetting("Simulator:IdleSecondsBeforeSleep", "900");
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
        builder.ConfigureTestServices(s =>
        {
            s.AddSingleton<TimeProvider>(Time);
            s.AddHttpClient(SimulatorMarker.PartnerKeyDownloadClient).ConfigurePrimaryHttpMessageHandler(() => new WebHandler(Web));
        });
    }

    /// <summary>Publishes a fresh P-256 public key for the domain at base (default https://domain); returns its 04… hex.</summary>
    public string PublishKey(string domain, string? baseUrl = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Web[KeyUrl(domain, baseUrl)] = key.ExportSubjectPublicKeyInfoPem();
        var q = key.ExportParameters(false).Q;
        return "04" + Convert.ToHexStringLower(q.X!) + Convert.ToHexStringLower(q.Y!);
    }

    public static string KeyUrl(string domain, string? baseUrl = null) =>
        $"{baseUrl ?? "https://" + domain}/.well-known/appspecific/com.tesla.3p.public-key.pem";

    /// <summary>A Fleet API client with a partner token (client_credentials) for the demo client.</summary>
    public async Task<HttpClient> PartnerAsync(string baseUrl = Na, CancellationToken ct = default, Realm? realm = null)
    {
        realm ??= Global;
        var token = await Json(await PostFormAsync(Client(realm.AuthBase), "/oauth2/v3/token", ct, ("grant_type", "client_credentials"),
            ("client_id", realm.ClientId), ("client_secret", realm.ClientSecret), ("audience", baseUrl)), ct);
        return Fleet((string)token["access_token"]!, baseUrl);
    }

    public static async Task<HttpResponseMessage> RegisterAsync(HttpClient partner, string domain, CancellationToken ct) =>
        await partner.PostAsync("/api/1/partner_accounts", new StringContent(JsonSerializer.Serialize(new { domain }), Encoding.UTF8, "application/json"), ct);

    private sealed class WebHandler(Dictionary<string, string> web) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) =>
            Task.FromResult(web.TryGetValue(request.RequestUri!.ToString(), out var body)
                ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body) }
                : new HttpResponseMessage(HttpStatusCode.NotFound));
    }

    public HttpClient Client(string baseUrl = AuthBase) =>
        CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri(baseUrl), AllowAutoRedirect = false });

    public HttpClient Fleet(string accessToken, string baseUrl = Na)
    {
        var client = Client(baseUrl);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return client;
    }

    public static (string Verifier, string Challenge) Pkce()
    {
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    public static string AuthorizeUrl(string scopes, string? challenge = null, string extra = "", string clientId = ClientId) =>
        $"/oauth2/v3/authorize?response_type=code&client_id={clientId}&redirect_uri={Uri.EscapeDataString(RedirectUri)}" +
        $"&scope={Uri.EscapeDataString(scopes)}&state=st-123&nonce=n-456&locale=en-US&prompt=login" +
        (challenge is null ? "" : $"&code_challenge={challenge}&code_challenge_method=S256") + extra;

    /// <summary>Drives authorize → sign-in → consent through the HTML forms; returns the final redirect.</summary>
    public async Task<Uri> AuthorizeAsync(string email, string password, string scopes, string? challenge = null,
        IEnumerable<string>? tick = null, string extra = "", CancellationToken ct = default, Realm? realm = null)
    {
        realm ??= Global;
        var client = Client(realm.AuthBase);
        var login = await client.GetStringAsync(AuthorizeUrl(scopes, challenge, extra, realm.ClientId), ct);
        var consent = await PostFormAsync(client, "/oauth2/v3/authorize", ct,
            ("transaction_id", Hidden(login)), ("identity", email), ("credential", password), ("action", "login"));
        if (consent.StatusCode == HttpStatusCode.Redirect) return consent.Headers.Location!;
        var page = await consent.Content.ReadAsStringAsync(ct);
        var fields = new List<(string, string)> { ("transaction_id", Hidden(page)), ("action", "allow") };
        if (tick is null) fields.Add(("select_all", "true"));
        else fields.AddRange(tick.Select(s => ("scope", s)));
        var done = await PostFormAsync(client, "/oauth2/v3/authorize/consent", ct, [.. fields]);
        Assert.Equal(HttpStatusCode.Redirect, done.StatusCode);
        return done.Headers.Location!;
    }

    public static async Task<HttpResponseMessage> PostFormAsync(HttpClient client, string path, CancellationToken ct, params (string, string)[] fields) =>
        await client.PostAsync(path, new FormUrlEncodedContent(fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2))), ct);

    public static string Hidden(string html) => TransactionId().Match(html) is { Success: true } m ? m.Groups[1].Value
        : throw new InvalidOperationException("No transaction_id in page: " + html);

    public static string Query(Uri uri, string key) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(uri.Query).TryGetValue(key, out var v) ? v.ToString() : "";

    public async Task<HttpResponseMessage> ExchangeAsync(string code, string? verifier, string? audience = Na, CancellationToken ct = default, Realm? realm = null)
    {
        realm ??= Global;
        var fields = new List<(string, string)>
        {
            ("grant_type", "authorization_code"), ("client_id", realm.ClientId), ("client_secret", realm.ClientSecret),
            ("code", code), ("redirect_uri", RedirectUri),
        };
        if (audience is not null) fields.Add(("audience", audience));
        if (verifier is not null) fields.Add(("code_verifier", verifier));
        return await PostFormAsync(Client(realm.AuthBase), "/oauth2/v3/token", ct, [.. fields]);
    }

    public async Task<HttpResponseMessage> RefreshAsync(string refreshToken, CancellationToken ct = default, Realm? realm = null) =>
        await PostFormAsync(Client((realm ?? Global).AuthBase), "/oauth2/v3/token", ct,
            ("grant_type", "refresh_token"), ("client_id", (realm ?? Global).ClientId), ("refresh_token", refreshToken));

    /// <summary>A full connect for an account; returns the token response.</summary>
    public async Task<JsonObject> TokensAsync(string email, string scopes = "openid offline_access vehicle_device_data vehicle_location vehicle_cmds vehicle_charging_cmds energy_device_data", CancellationToken ct = default)
    {
        var (verifier, challenge) = Pkce();
        var realm = email == Chen ? China : Global;
        var redirect = await AuthorizeAsync(email, email.Split('@')[0] + "-demo", scopes, challenge, ct: ct, realm: realm);
        var response = await ExchangeAsync(Query(redirect, "code"), verifier, email == Alice ? Na : email == Chen ? Cn : Eu, ct, realm);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Json(response, ct);
    }

    public static async Task<JsonObject> Json(HttpResponseMessage response, CancellationToken ct) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!.AsObject();

    public static JsonObject Claims(string jwt) =>
        JsonNode.Parse(Base64UrlEncoder.Decode(jwt.Split('.')[1]))!.AsObject();

    public async Task<HttpResponseMessage> SimPostAsync(string path, object? body, CancellationToken ct) =>
        await Client().PostAsync(path, body is null ? null : new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"), ct);

    [GeneratedRegex("name=\"transaction_id\" value=\"([^\"]+)\"")]
    private static partial Regex TransactionId();
}
